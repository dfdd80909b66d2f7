/* SPDX-License-Identifier: MIT */
#pragma once

/* The taste model: a head over a post's image features and its tags, trained
 * and run on the Vulkan engine.
 *
 *     image features x (D floats, several feature sets back to back)
 *        → standardised with the train split's mean/std (stored in the model)
 *     tags (sorted ids < vocab) → embedding bag, mean → t (tag_dim floats)
 *     h = ReLU(x·W1x + t·W1t + b1)      (hidden units; [x, t] concatenated)
 *     logit = h·w2 + b2,  probability = sigmoid(logit)
 *
 * trained with class-balanced BCE (pos_weight = dislikes/likes) and AdamW.
 *
 *     _cleanup_(model_dataset_freep) ModelDataset *ds = NULL;
 *     r = model_dataset_new(D, vocab_size, sets, n_sets, &ds);
 *     r = model_dataset_add(ds, features, tag_ids, n_tags, +1);   // per labelled post
 *     _cleanup_(model_freep) Model *m = NULL;
 *     ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
 *     o.time_budget_s = 60;
 *     o.vocabulary = vocab_json;                        // vocab_to_json(), kept in the file
 *     _cleanup_free_ char *error = NULL;
 *     r = model_train(engine, ds, &o, &m, &metrics, &error); // -ENODATA: too few likes/dislikes
 *     r = model_save(m, path);  r = model_load(path, &m, &error);
 *     r = model_predict(m, engine, features, tag_offsets, tag_ids, n, probs, explain);
 *
 * Threads: one thread at a time per engine (the worker); the progress
 * callback runs on that thread; `cancel` may be set from any thread. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluff/error.h"
#include "fluff/util.h"
#include "knn.h"
#include "metrics.h"
#include "quality.h"
#include "rows.h"
#include "vk.h"

#define MODEL_FEATURE_SET_NAME_MAX 64
#define MODEL_FEATURE_SETS_MAX 16
#define MODEL_DIM_MAX (1u << 16)     /* features per post */
#define MODEL_VOCAB_MAX (1u << 20)   /* tags in the vocabulary */
#define MODEL_TAGS_PER_POST_MAX 4096 /* more is not a real post */

/* A named slice of the feature vector, e.g. {"block13", 0, 1152}. */
typedef struct ModelFeatureSet {
        char name[MODEL_FEATURE_SET_NAME_MAX];
        uint32_t offset, dim;
} ModelFeatureSet;

typedef struct ModelCnn ModelCnn; /* cnn.h */

/* ---- dataset: labelled posts in memory ------------------------------------------ */

typedef struct ModelDataset {
        uint32_t dim;   /* D */
        uint32_t vocab; /* tag ids are < vocab */
        size_t n_sets;
        ModelFeatureSet sets[MODEL_FEATURE_SETS_MAX];

        size_t n, n_alloc; /* posts */
        /* The first n_no_image rows are a post's tags and label without an
         * image row (older posts beyond the image cap, issue 16): the tag
         * tower and the baseline learn from them, the image towers, the
         * stack and the scores see only the rows after them
         * (model_dataset_image_rows()). features holds the others' rows. */
        size_t n_no_image;
        size_t n_features_alloc;
        float *features; /* (n − n_no_image)×D, owned; NULL when features_half holds them */
        /* The same rows as half floats (rows.h), owned: a training's
         * dataset after model_dataset_adopt_features_half(), half the
         * memory; read through model_dataset_rows(). */
        uint16_t *features_half;
        uint8_t *labels;       /* n: 1 like, 0 dislike, owned */
        uint32_t *tag_offsets; /* n+1, owned */
        uint32_t *tags;        /* tag_offsets[n], owned */
        size_t n_tags, n_tags_alloc;
} ModelDataset;

/* sets may be NULL (one set "features" covering all of D); otherwise they
 * must tile 0…D without gaps or overlap (-EINVAL). */
int model_dataset_new(uint32_t dim, uint32_t vocab, const ModelFeatureSet *sets, size_t n_sets,
                      ModelDataset **ret);
ModelDataset *model_dataset_free(ModelDataset *ds);
DEFINE_TRIVIAL_CLEANUP_FUNC(ModelDataset *, model_dataset_free);
/* label: +1 like, -1 dislike. tags: ids < vocab, strictly increasing (as
 * vocab_encode_post gives them). -EINVAL for a bad label, id, order, count or
 * a non-finite feature (nothing is added then). features NULL adds a row
 * without an image (n_no_image), allowed only before the first row with
 * one (-EINVAL after). */
int model_dataset_add(ModelDataset *ds, const float *features, const uint32_t *tags, size_t n_tags,
                      int label);
/* Gives an empty dataset features, a malloc'd buffer of n_rows×D floats, to
 * keep its rows in (the dataset owns it from here on, also on failure). A
 * caller that read n_rows posts' features adds each with a pointer to its
 * row in that buffer, and model_dataset_add() moves the row down in place
 * (over a row it left out) instead of copying it: at 4544 floats a post, a
 * second copy of the whole dataset would double training's memory. -EINVAL
 * when the dataset is not empty. */
int model_dataset_adopt_features(ModelDataset *ds, float *features, size_t n_rows);
/* The same with half floats: the dataset keeps its rows as half floats from
 * here on (features stays NULL; model_dataset_add() converts a float row),
 * and model_dataset_add_half() moves a row of the buffer down in place. */
int model_dataset_adopt_features_half(ModelDataset *ds, uint16_t *features, size_t n_rows);
int model_dataset_add_half(ModelDataset *ds, const uint16_t *features, const uint32_t *tags, size_t n_tags,
                           int label);
/* The image rows' features, as floats or half floats. */
FeatureRows model_dataset_rows(const ModelDataset *ds);
void model_dataset_counts(const ModelDataset *ds, size_t *ret_likes, size_t *ret_dislikes);
/* The rows with an image, as a dataset of their own borrowing ds's arrays
 * (nothing is copied; valid while ds is and is not added to): ds itself
 * when it has no row without an image. */
ModelDataset model_dataset_image_rows(const ModelDataset *ds);

/* ---- the trained model ----------------------------------------------------------- */

/* A fine-tuned copy of the backbone's last layer (a 1×1 convolution with
 * ReLU6 whose output, mean and max pooled, is one feature set): the model's
 * features for that set must be computed with these weights, not the
 * backbone's own (see finetune.c). */
typedef struct ModelTail {
        char set[MODEL_FEATURE_SET_NAME_MAX];  /* the feature set it computes: "final" */
        char node[MODEL_FEATURE_SET_NAME_MAX]; /* the backbone layer it replaces: "Conv_1" */
        uint32_t hw, cin, cout;                /* positions, input and output channels; set dim = 2·cout */
        float *weight, *bias;                  /* [cin][cout], [cout] */
        double auc_head, auc_tuned;            /* validation ROC AUC before and after fine-tuning */
} ModelTail;

int model_tail_new(const char *set, const char *node, uint32_t hw, uint32_t cin, uint32_t cout,
                   ModelTail **ret);
ModelTail *model_tail_free(ModelTail *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(ModelTail *, model_tail_free);

/* How the towers' logits become P(like), chosen by cross-validation
 * (quality-train.c):
 *
 *     z_tags = tag_lr_bias + Σ tag_lr[tag]      the tag tower, an L2 logistic regression
 *     z_head = head_a·(the head's logit above) + head_b   (its validation Platt scaling)
 *     z_knn = knn_scores(…)                     the similarity to liked and disliked posts (knn.h)
 *     z_cnn = the post's one feature            without a backbone: the cross-fitted CNN's logit (cnn.h)
 *     s = bias + w_tags·z_tags + w_head·z_head + w_knn·z_knn + w_cnn·z_cnn,  P(like) = cal(s)
 *                                               (Platt or isotonic)
 *
 * kind "tags" is w_head = 0, "head" w_tags = 0, "stack" both. kind "" (files
 * from before the combination): P = σ(z_head), not calibrated. */
typedef struct ModelCombine {
        char kind[16];
        double w_tags, w_head, bias;
        double w_knn;          /* the similarity input's weight (knn.h; Model.knn), 0 without it */
        double w_cnn;          /* the cross-fitted CNN's logit's weight (Model.cnn_b), 0 without it */
        QualityCalibrator cal; /* fitted on out-of-fold predictions */
} ModelCombine;

typedef struct Model {
        uint32_t dim, vocab, tag_dim, hidden;
        size_t n_sets;
        ModelFeatureSet sets[MODEL_FEATURE_SETS_MAX];
        uint32_t set_mask; /* bit i: feature set i is used (the others are multiplied by 0) */
        bool use_tags;

        float *mean, *inv_std; /* D each; inv_std is 0 for unused or constant features */
        float *w1x;            /* D×hidden */
        float *w1t;            /* tag_dim×hidden */
        float *b1, *w2, *b2;   /* hidden, hidden, 1 */
        float *emb;            /* vocab×tag_dim */

        double threshold;     /* probability at or above which a post is a like */
        ModelMetrics metrics; /* on the validation posts */
        uint32_t n_train;
        char *vocabulary; /* opaque to this library (vocab's JSON), may be NULL */
        char *backbone;   /* backbone id, may be NULL */
        ModelCnn *cnn;    /* owned; the image tower without a backbone (cnn.h), may be NULL */
        ModelCnn *cnn_b;  /* owned; its cross-fitted twin (cnn.h): the head's feature is their mean
                             logit. NULL in files from before, whose head takes cnn's features */
        char *created;    /* ISO 8601 UTC */
        char *fluff_version;
        ModelTail *tail; /* NULL: the backbone's features as they are */

        float *tag_lr; /* vocab: the tag tower's weights (NULL: no tag tower) */
        double tag_lr_bias;
        ModelCombine combine;
        Knn *knn; /* the labelled posts' projected embeddings when combine.w_knn ≠ 0, else NULL */
        double head_a, head_b; /* with a combination, z_head is head_a·(the head's logit) + head_b */
        ModelQuality quality;  /* cross-validated metrics beside the baseline's (quality.h) */
} Model;

/* P(like) from the towers' logits (see ModelCombine). */
double model_combine_prob(const Model *m, double z_tags, double z_head, double z_knn, double z_cnn);
/* The tag tower's logit of a post (0 without one); ids ≥ vocab are ignored. */
double model_tag_logit(const Model *m, const uint32_t *tags, size_t n_tags);

/* The probability at or above which m labels a post a like: a calibrated
 * model's score is P(like) on one scale for every training, so its
 * threshold is the one the user configured (like_threshold, default 0.5);
 * a model from before calibration (combine.kind "") keeps the threshold it
 * was trained with, which is on its own scale. */
double model_like_threshold(const Model *m, double configured);

/* Which towers the model uses: "both", "tags" (no image feature set used) or
 * "image" (tags off). */
const char *model_towers(const Model *m);

/* A model with zeroed weights (for the trainer and the loader). */
int model_new(uint32_t dim, uint32_t vocab, uint32_t tag_dim, uint32_t hidden, Model **ret);
Model *model_free(Model *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Model *, model_free);
int model_set_string(char **field, const char *s); /* copies s (NULL clears) */
/* The index of the feature set m->tail computes; -ENOENT without a tail,
 * -EBADMSG when no set of that name has 2·cout floats. */
int model_tail_set(const Model *m);
/* out[i] = (in[i] - mean) · inv_std for n rows of D features. */
void model_standardise(const Model *m, const float *in, float *out, size_t n);

/* ---- training ---------------------------------------------------------------------- */

typedef enum ModelStage {
        MODEL_STAGE_PREPARE,
        MODEL_STAGE_HEAD,     /* the head on all selected feature sets */
        MODEL_STAGE_SELECT,   /* time left: other feature-set candidates */
        MODEL_STAGE_ENSEMBLE, /* time left: more heads of the best candidate, averaged */
        MODEL_STAGE_FINETUNE, /* with the share kept for it: the backbone's last layer with the head */
        MODEL_STAGE_FINISH,   /* metrics on the validation posts */
        MODEL_STAGE_CNN,      /* before the head, without a backbone: the small CNN (cnn.h) */
        _MODEL_STAGE_MAX,
        _MODEL_STAGE_INVALID = -EINVAL,
} ModelStage;
const char *model_stage_to_string(ModelStage s);

/* Called after every epoch (and once per stage change); a non-zero return
 * cancels training, as `cancel` does. val_auc is NaN before the first epoch. */
typedef int (*ModelProgressFn)(ModelStage stage, unsigned epoch, double loss, double val_auc,
                               double seconds_left, void *userdata);

/* What fine-tuning the backbone's last layer needs (model_train does it when
 * ModelTrainOptions.finetune is set): the layer's weights and, per post and
 * view, the activations entering it and every feature set of that view. View
 * 0 is the plain image (the validation posts use only it); the others are
 * augmented (random crops and flips), and each epoch samples one per post. */
typedef struct ModelFinetuneData {
        const char *set;            /* the feature set the layer computes: "final" */
        const char *node;           /* the layer's name in the backbone, kept in the model */
        uint32_t hw, cin, cout;     /* 1×1 conv cin → cout, ReLU6, over hw positions; set dim = 2·cout */
        const float *weight, *bias; /* the backbone's: [cin][cout], [cout] */
        uint32_t n_views;
        const uint16_t *act;   /* ds->n × n_views × hw·cin, IEEE half floats */
        const float *features; /* ds->n × n_views × D (the layer's own set is recomputed) */
        double budget_share;   /* of time_budget_s, kept for fine-tuning (0…0.9) */
        float lr;              /* the layer's learning rate; the head's is lr / 10 */
        unsigned patience;     /* epochs without a better validation AUC */
} ModelFinetuneData;

typedef struct ModelTrainOptions {
        double time_budget_s;   /* wall-clock budget for the whole call */
        uint64_t seed;          /* split, shuffles, initial weights */
        unsigned min_per_class; /* fewer likes or dislikes → -ENODATA */
        double val_fraction;    /* share of each class held out */
        unsigned batch_size;
        unsigned hidden, tag_dim;
        float lr, weight_decay;
        float tag_dropout;           /* share of a post's tags dropped in each training step */
        float feature_dropout;       /* share of image features dropped in each training step; < 0: auto */
        float tag_lr_scale;          /* the tag table's learning rate relative to lr */
        bool balance_sets;           /* scale feature sets to equal total variance */
        unsigned patience;           /* epochs without a better validation AUC before stopping */
        unsigned max_epochs;         /* 0: no limit but time and patience */
        bool use_features, use_tags; /* ablations: both on by default */
        bool select_feature_sets;    /* with time left, try each feature set alone */
        unsigned ensemble;           /* with time left, up to this many heads averaged (1: one) */
        ModelProgressFn progress;
        void *userdata;
        const atomic_bool *cancel;         /* may be NULL */
        const char *vocabulary, *backbone; /* copied into the model */
        const ModelFinetuneData *finetune; /* NULL: the head only */
        /* model_train_head() only: NULL trains on every row of ds; else only
         * on the rows i with rows[i] set (split, validated and counted among
         * themselves), so a fold's head needs no copy of its rows. */
        const uint8_t *rows;
        /* Cross-validation folds (quality-train.c); 0: none, the head alone
         * with metrics on its validation split (the old way). */
        unsigned folds;
        /* Optional, ds->n floats: each row's out-of-fold P(like) (the
         * cross-fitted calibrated probabilities the metrics are of), for a
         * caller that weighs the model on some rows against another; NaN
         * everywhere when the model is not cross-validated. */
        float *oof_prob;
} ModelTrainOptions;

#define MODEL_TRAIN_OPTIONS_DEFAULT                                                                         \
        ((ModelTrainOptions){.time_budget_s = 60,                                                           \
                             .seed = 1,                                                                     \
                             .min_per_class = 20,                                                           \
                             .val_fraction = 0.2,                                                           \
                             .batch_size = 64,                                                              \
                             .hidden = 64,                                                                  \
                             .tag_dim = 16,                                                                 \
                             .lr = 1e-2f,                                                                   \
                             .weight_decay = 0.1f,                                                          \
                             .tag_dropout = 0.0f,                                                           \
                             .feature_dropout = -1.0f,                                                      \
                             .tag_lr_scale = 10.0f,                                                         \
                             .balance_sets = true,                                                          \
                             .patience = 80,                                                                \
                             .use_features = true,                                                          \
                             .use_tags = true,                                                              \
                             .select_feature_sets = true,                                                   \
                             .ensemble = 5,                                                                 \
                             .folds = 0})

/* Trains a model on ds (see the top of this file). With opts->folds ≥ 2
 * (and at least 2·folds likes and dislikes), the towers, their combination
 * and calibration are chosen by pooled cross-validation and the model keeps
 * the metrics beside a tags-only baseline's (quality-train.c, quality.h):
 * Model.quality, Model.combine, threshold 0.5 on the calibrated P(like), and
 * ret_metrics/Model.metrics are then the pooled out-of-fold numbers over
 * every post. Otherwise the head alone, with metrics on its validation split. Returns 0 with the model
 * and its validation metrics; -ENODATA when either class has fewer than
 * min_per_class posts (the message tells the user to like or dislike more);
 * -ECANCELED when cancelled; -EINVAL for bad options; engine errors. On
 * failure error (may be NULL) gets a sentence for the user.
 * With opts->finetune, the head stages leave budget_share of the time to
 * fine-tuning the backbone's last layer jointly with the head; the model
 * keeps the tuned layer (Model.tail) only if it raises the validation AUC. */
int model_train(VkEngine *engine, const ModelDataset *ds, const ModelTrainOptions *opts, Model **ret_model,
                ModelMetrics *ret_metrics, Error *error);

/* The stratified train/validation split model_train() makes of ds with o's
 * seed and val_fraction, so a tower trained before the head (cnn.h) holds out
 * the same posts. Arrays of ds->n entries (owned by the caller). */
int model_split(const ModelDataset *ds, const ModelTrainOptions *o, uint32_t **ret_train,
                size_t *ret_n_train, uint32_t **ret_val, size_t *ret_n_val);

/* ---- prediction ---------------------------------------------------------------------- */

/* A tag's share of a post's logit (logit units; > 0: towards like). */
typedef struct ModelTagPush {
        uint32_t tag;
        float push;
} ModelTagPush;

#define MODEL_EXPLAIN_TAGS 3 /* tags kept per direction */

/* Why a post scored as it did, in parts that add up:
 *
 *     logit = bias + image + tags,   tags = Σ over the post's known tags of their push
 *
 * exactly (up to float rounding), because the head is linear once it is known
 * which hidden units a post switches on: with g = 1[h > 0] ⊙ w2,
 * the head's logit is b2 + g·b1 (bias) + x·W1x·g (image) + Σ_s E[s]·W1t·g / |S|
 * (tags). The tag tower (z_tags) is linear already, and the combination and
 * Platt's calibration are affine, so each part is scaled the same way and the
 * constants go to bias. logit is the device's forward pass, not this sum, so a
 * test can check one against the other.
 *
 * The score (P(like)) is σ(logit), except with isotonic calibration, which has
 * no logit: then logit is the combined logit before calibration and the score
 * is the calibrator's monotone map of it (calibration "isotonic").
 * bias includes the biases of the hidden units this post switched on. */
typedef struct ModelExplanation {
        double logit, bias, image, tags;
        const char *calibration; /* static: "none", "platt" or "isotonic" */
        /* the largest pushes towards like (descending) and towards dislike
         * (most negative first), padded with tag UINT32_MAX */
        ModelTagPush up[MODEL_EXPLAIN_TAGS], down[MODEL_EXPLAIN_TAGS];
} ModelExplanation;

/* features: n×D; tags of post i: tag_ids[tag_offsets[i] … tag_offsets[i+1]),
 * ids ≥ vocab are ignored (unknown tags of new posts). out_prob: n.
 * explain: NULL, or n explanations. Batched on the device. */
int model_predict(const Model *m, VkEngine *engine, const float *features, const uint32_t *tag_offsets,
                  const uint32_t *tag_ids, size_t n, float *out_prob, ModelExplanation *explain);

/* ---- file: safetensors layout -------------------------------------------------------- */

/* What `status` shows about a model, as one JSON object: created, backbone,
 * fluff_version, threshold, metrics {roc_auc, accuracy, balanced_accuracy,
 * precision_at_10, precision_at_50, threshold, n_pos, n_neg, n_train},
 * feature_sets [{name, offset, dim, used}], use_tags, towers ("both", "tags"
 * or "image", see model_towers()), features,
 * vocabulary_size, combine (ModelCombine, null without) and quality
 * (quality.h's object, null without). Not the vocabulary itself. */
int model_describe_json(const Model *m, char **ret);

/* Written atomically (temporary file, fsync, rename). */
int model_save(const Model *m, const char *path);
/* Validates everything; -EBADMSG for a corrupt or truncated file (logged at
 * debug with the reason; error gets it for the user when non-NULL),
 * -EFBIG when larger than the limit, -ENOENT etc. from the file system. */
int model_load(const char *path, Model **ret, Error *error);
/* The same from memory (tests, and files read by the caller). */
int model_load_from_memory(const uint8_t *data, size_t size, Model **ret, Error *error);
