/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>

#include "config.h"
#include "core/context.h"
#include "core/counts.h"
#include "images.h"
#include "model-history.h"
#include "jobs/runner.h"
#include "services/backbone.h"
#include "services/refresh.h"
#include "services/taste-history.h"
#include "services/taste.h"
#include "store.h"
#include "train/budget.h"
#include "train/train-cnn.h"
#include "train/train.h"
#include "views.h"
#include "vocab.h"
#include "work/work.h"

/* The worker reports after every epoch; the loop looks this often and the
 * job's own throttle keeps the bus at ~10 changes a second. */
#define POLL_USEC (200 * USEC_PER_MSEC)
/* posts read per loop iteration: a few ms of SQLite */
#define COLLECT_CHUNK 64

/* Everything the worker needs, owned by the work item: the job may go away
 * (daemon stopping) while the worker still runs. */
typedef struct TrainJob TrainJob;

typedef struct TrainWork {
        TrainJob *train;           /* borrowed; read only on the loop, in done() */
        BackboneService *backbone; /* borrowed; outlives the work pool */
        char *model_path;          /* owned */
        uint64_t time_budget_s, seed;
        unsigned patience, max_epochs;
        TrainTowers towers;
        char *backbone_id; /* owned; NULL: tags only */

        /* Each post read: its id, label and tags, the tags as the
         * counting builder's entries (4 bytes a tag, not the Post's
         * strings: 100,000 posts hold ~20 MB, issue 16). The posts without
         * an image row (n_no_image, the older ones beyond the image cap)
         * come first, as the dataset wants them. */
        uint64_t *post_ids; /* owned, n */
        VocabBuilder *tags; /* owned: counts every post's tags until the dataset is built */
        uint32_t *tag_at;   /* owned, n + 1: post i's entries are tag_entries[tag_at[i] … tag_at[i + 1]) */
        uint32_t *tag_entries; /* owned */
        size_t n_tag_entries, n_tag_entries_alloc;
        size_t n_no_image, n_image;
        /* the image rows' tags in the installed model's vocabulary (offsets
         * per image row of the dataset), for comparing with it; NULL: none */
        uint32_t *old_offsets, *old_tags;
        uint32_t *row_post;   /* owned: the dataset's row → its index in post_ids */
        char *installed_path; /* owned; the installed model's file when training started, or NULL */
        uint64_t *
                seen_ids; /* owned: the posts the installed model was trained on, ascending; NULL: unknown */
        size_t n_seen_ids;
        double like_threshold; /* config like_threshold */
        int8_t *labels;        /* owned, n: +1 / -1 */
        /* owned until the dataset adopts it: n_image × BACKBONE_EMBED_DIM half
         * floats (rows.h), 9 KB a post instead of 18 (issue 16) */
        uint16_t *features;
        bool image_features; /* the backbone's embeddings (features, then the dataset's) */
        char **crops;        /* owned, n: crop paths for the small CNN (no backbone); NULL: none */
        size_t n;

        /* fine-tuning the backbone's last layer (daemon/finetune), with a backbone */
        BbHandle *handle;      /* owned reference */
        char **paths;          /* owned, n: each post's image (NULL without an image row) */
        const char **ds_paths; /* owned array, borrowed strings: the dataset's image rows */

        atomic_bool cancel;

        pthread_mutex_t lock; /* guards the progress snapshot below */
        ModelStage stage;
        unsigned epoch;
        double loss, val_auc, seconds_left;
        bool fresh; /* a report the loop has not shown yet */

        /* results, read on the loop after run() */
        Model *model;
        ModelMetrics metrics;
        Error error; /* a sentence for the user */
        size_t vocab_size;
        TasteHistoryFresh against; /* the new model against the installed one on the posts it never saw */
} TrainWork;

/* Holds what training touches, not the whole Context. */
struct TrainJob {
        sd_event *event;           /* borrowed; the progress poll */
        Store *store;              /* borrowed */
        const Config *config;      /* borrowed; install margin, history size */
        Events *events;            /* borrowed; EVENT_MODEL_CHANGED */
        Counts *counts;            /* borrowed; the installed model's changed labels */
        WorkPool *pool;            /* borrowed; the training runs there */
        const char *images_dir;    /* borrowed; the dataset's crops */
        BackboneService *backbone; /* borrowed */
        TasteService *taste;       /* borrowed */
        Job *job;                  /* borrowed: the job owns us */
        uint64_t time_budget_s, seed;
        unsigned patience, max_epochs;
        TrainTowers towers;
        bool install, automatic;
        StoreLabelled *dataset; /* owned: the labels it trains on, for the history */
        size_t n_dataset;
        char *model_path;      /* owned; the new model's file until the history takes it */
        TrainWork *work;       /* borrowed from the work item until done() or forget */
        sd_event_source *poll; /* owned */
        uint64_t started_usec;
        size_t n_likes, n_dislikes, n_no_embedding;
        size_t n_capped;   /* older labelled posts beyond config train_image_posts: tags only, or left out */
        size_t image_from; /* with a backbone: the list's first post with an image row */
        /* Reading the dataset, a chunk per loop iteration (the store is the
         * loop's): 10,000 posts at once would hold up every bus call. */
        TrainWork *collecting;    /* owned while reading */
        sd_event_source *collect; /* owned */
        size_t collect_next;      /* the next index into dataset */
        bool tags_only, stopped;
        bool cnn;         /* no backbone: tags + the small CNN (train-cnn.h) */
        size_t n_no_crop; /* left out of a CNN run */
};

static void train_work_free(void *userdata)
{
        TrainWork *w = userdata;
        if (!w)
                return;
        free(w->post_ids);
        vocab_builder_free(w->tags);
        free(w->tag_at);
        free(w->tag_entries);
        free(w->old_offsets);
        free(w->old_tags);
        free(w->row_post);
        free(w->installed_path);
        free(w->seen_ids);
        free(w->labels);
        free(w->features);
        for (size_t i = 0; w->crops && i < w->n; i++)
                free(w->crops[i]);
        free(w->crops);
        for (size_t i = 0; w->paths && i < w->n; i++)
                free(w->paths[i]);
        free(w->paths);
        free(w->ds_paths);
        bb_handle_unref(w->handle);
        free(w->backbone_id);
        free(w->model_path);
        model_free(w->model);
        pthread_mutex_destroy(&w->lock);
        free(w);
}

static int on_progress(ModelStage stage, unsigned epoch, double loss, double val_auc, double seconds_left,
                       void *userdata)
{
        TrainWork *w = userdata;

        pthread_mutex_lock(&w->lock);
        w->stage = stage;
        w->epoch = epoch;
        w->loss = loss;
        w->val_auc = val_auc;
        w->seconds_left = seconds_left;
        w->fresh = true;
        pthread_mutex_unlock(&w->lock);
        return 0;
}

/* The image rows' tags in the installed model's vocabulary, before the
 * builder lets go of its entries: the new model is compared with it on
 * them (compare_with_installed). Not knowing it only leaves that out. */
static int installed_map(TrainWork *w, uint32_t **ret_map, size_t *ret_n)
{
        _cleanup_(model_freep) Model *old = NULL;
        _cleanup_vocab_free_ Vocab *v = NULL;

        *ret_map = NULL;
        if (!w->installed_path || model_load(w->installed_path, &old, NULL) < 0 || !old->vocabulary ||
            vocab_from_json(old->vocabulary, strlen(old->vocabulary), &v) < 0)
                return 0;
        return vocab_builder_map(w->tags, v, ret_map, ret_n);
}

/* On the worker: vocabulary, dataset, training, the file. */
static int build_dataset(TrainWork *w, ModelDataset **ret_ds, char **ret_vocab_json)
{
        _cleanup_(model_dataset_freep) ModelDataset *ds = NULL;
        _cleanup_vocab_free_ Vocab *v = NULL;
        _cleanup_free_ char *json = NULL;
        _cleanup_free_ uint32_t *ids = NULL, *map = NULL, *old_map = NULL;
        ModelFeatureSet sets[_BACKBONE_FEAT_MAX];
        static const float no_feature = 0, zeros[2 * CNN_CHANNELS_MAX] = {};
        size_t max_tags = 0, n_map = 0, n_old_map = 0, n_old = 0;
        int r;

        r = installed_map(w, &old_map, &n_old_map);
        if (r < 0)
                return r;
        r = vocab_builder_finish_map(w->tags, VOCAB_MIN_COUNT_DEFAULT, &v, &map, &n_map);
        if (r < 0)
                return error_setf(&w->error, r, "Failed to build the tag vocabulary: %s", strerror(-r));
        w->tags = vocab_builder_free(w->tags);
        w->vocab_size = vocab_size(v);
        r = vocab_to_json(v, &json);
        if (r < 0)
                return error_setf(&w->error, r, "Failed to store the tag vocabulary: %s", strerror(-r));

        if (w->image_features) {
                for (int f = 0; f < _BACKBONE_FEAT_MAX; f++) {
                        const BackboneFeatureInfo *fi = backbone_feature_info(f);
                        sets[f] = (ModelFeatureSet){.offset = fi->offset, .dim = fi->dim};
                        snprintf(sets[f].name, sizeof(sets[f].name), "%s", fi->name);
                }
                r = model_dataset_new(BACKBONE_EMBED_DIM, (uint32_t)MAX(vocab_size(v), (size_t)1), sets,
                                      _BACKBONE_FEAT_MAX, &ds);
                /* the rows collect() read become the dataset's: no second copy */
                if (r >= 0)
                        r = model_dataset_adopt_features_half(ds, TAKE_PTR(w->features), w->n_image);
        } else if (w->crops)
                r = train_cnn_dataset_new((uint32_t)MAX(vocab_size(v), (size_t)1), &ds);
        else {
                /* Tags only: one constant feature the trainer switches off. */
                ModelFeatureSet none = {.name = "none", .offset = 0, .dim = 1};
                r = model_dataset_new(1, (uint32_t)MAX(vocab_size(v), (size_t)1), &none, 1, &ds);
        }
        if (r < 0)
                return error_setf(&w->error, r, "Failed to set up the dataset: %s", strerror(-r));

        for (size_t i = 0; i < w->n; i++)
                max_tags = MAX(max_tags, (size_t)(w->tag_at[i + 1] - w->tag_at[i]));
        ids = calloc(MAX(max_tags, (size_t)1), sizeof(uint32_t));
        w->row_post = calloc(MAX(w->n, (size_t)1), sizeof(uint32_t));
        if (!ids || !w->row_post)
                return -ENOMEM;
        if (old_map) {
                /* every row after those without an image (the CNN's and tags-only too) */
                w->old_offsets = calloc(w->n - w->n_no_image + 1, sizeof(uint32_t));
                w->old_tags = malloc(MAX((size_t)(w->tag_at[w->n] - w->tag_at[w->n_no_image]), (size_t)1) *
                                     sizeof(uint32_t));
                if (!w->old_offsets || !w->old_tags)
                        return -ENOMEM;
        }
        if (w->paths) {
                w->ds_paths = calloc(MAX(w->n - w->n_no_image, (size_t)1), sizeof(char *));
                if (!w->ds_paths)
                        return -ENOMEM;
        }
        const uint16_t *rows = ds->features_half; /* the adopted buffer: image row j at j × D */
        for (size_t i = 0; i < w->n; i++) {
                const uint32_t *entries = w->tag_entries + w->tag_at[i];
                size_t n_entries = w->tag_at[i + 1] - w->tag_at[i], n_ids;
                bool image = w->image_features && i >= w->n_no_image;
                const float *x = w->crops ? zeros : !w->image_features ? &no_feature : NULL;

                r = vocab_encode_entries(map, n_map, entries, n_entries, ids, &n_ids);
                n_ids = MIN(n_ids, (size_t)MODEL_TAGS_PER_POST_MAX);
                if (r >= 0 && image)
                        r = model_dataset_add_half(ds, rows + (i - w->n_no_image) * BACKBONE_EMBED_DIM, ids,
                                                   n_ids, w->labels[i]);
                else if (r >= 0)
                        /* with crops, a row per crop in order: the CNN fills the features in */
                        r = model_dataset_add(ds, x, ids, n_ids, w->labels[i]);
                if (r < 0)
                        /* One odd post (e.g. a non-finite embedding) must not stop the run. */
                        log_debug_errno(r, "Leaving post %" PRIu64 " out of training: %m", w->post_ids[i]);
                else {
                        size_t row = ds->n - 1, img = row - ds->n_no_image;
                        w->row_post[row] = (uint32_t)i;
                        if (w->ds_paths && row >= ds->n_no_image)
                                w->ds_paths[img] = w->paths[i];
                        if (old_map && row >= ds->n_no_image) {
                                size_t k = 0;
                                r = vocab_encode_entries(old_map, n_old_map, entries, n_entries,
                                                         w->old_tags + n_old, &k);
                                if (r < 0)
                                        return r;
                                n_old += k;
                                w->old_offsets[img + 1] = (uint32_t)n_old;
                        }
                }
                if (w->crops) {
                        /* keep crops[row] the crop of the dataset's row */
                        char *c = w->crops[i];
                        w->crops[i] = NULL;
                        if (r < 0)
                                free(c);
                        else
                                w->crops[ds->n - 1] = c;
                }
        }
        /* the dataset holds the tags now, in the new vocabulary */
        free(w->tag_entries);
        w->tag_entries = NULL;
        free(w->tag_at);
        w->tag_at = NULL;
        *ret_ds = TAKE_PTR(ds);
        *ret_vocab_json = TAKE_PTR(json);
        return 0;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return (x > y) - (x < y);
}

/* m's predictions for img's rows, their tags at offsets (img->n + 1) in
 * tags: the rows as floats a chunk at a time (the dataset holds half
 * floats; a float copy of all would be the dataset twice over). */
#define PREDICT_CHUNK 1024
static int predict_image_rows(const Model *m, VkEngine *engine, const ModelDataset *img,
                              const uint32_t *offsets, const uint32_t *tags, float *prob)
{
        FeatureRows rows = model_dataset_rows(img);
        _cleanup_free_ float *x = NULL;
        int r;

        if (rows.f32)
                return model_predict(m, engine, rows.f32, offsets, tags, img->n, prob, NULL);
        x = malloc((size_t)PREDICT_CHUNK * img->dim * sizeof(float));
        if (!x)
                return -ENOMEM;
        for (size_t a = 0; a < img->n; a += PREDICT_CHUNK) {
                size_t k = MIN((size_t)PREDICT_CHUNK, img->n - a);
                for (size_t i = 0; i < k; i++)
                        for (uint32_t j = 0; j < img->dim; j++)
                                x[i * img->dim + j] = half_to_float(rows.f16[(a + i) * img->dim + j]);
                r = model_predict(m, engine, x, offsets + a, tags, k, prob + a, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The installed model's predictions for the dataset's image rows (img,
 * p_old, img->n), or 0 with *why set where it cannot be run on them: a
 * fine-tuned layer (its features are not the dataset's), another backbone,
 * a small CNN without the crops. On the worker, the engine locked. */
static int predict_installed(TrainWork *w, VkEngine *engine, const ModelDataset *img, float *p_old,
                             Model **ret_old, const char **why)
{
        _cleanup_(model_freep) Model *old = NULL;
        _cleanup_free_ float *features = NULL;
        _cleanup_free_ int *status = NULL;
        const float *x = NULL;
        size_t n = img->n;
        int r;

        *why = "the installed model does not load";
        r = model_load(w->installed_path, &old, NULL);
        if (r < 0 || !old->vocabulary)
                return 0;
        *why = "the installed model has a fine-tuned layer, which the stored features lack";
        if (old->tail)
                return 0;
        *why = "the installed model's vocabulary does not load";
        if (!w->old_offsets) /* build_dataset() encoded the tags in it */
                return 0;
        if (old->cnn) {
                *why = "the installed model has a small CNN and this training has no crops";
                if (!w->crops)
                        return 0;
                features = calloc(n * old->dim, sizeof(float));
                status = calloc(n, sizeof(int));
                if (!features || !status)
                        return -ENOMEM;
                r = model_cnn_features_of_files(engine, old, (const char *const *)w->crops, n, features,
                                                status);
                if (r < 0)
                        return r;
                x = features;
        } else if (!isempty(old->backbone)) {
                *why = "the installed model uses another image backbone";
                if (!w->image_features || !w->backbone_id || !streq(old->backbone, w->backbone_id) ||
                    old->dim != img->dim)
                        return 0;
                x = NULL; /* the dataset's rows, converted a chunk at a time */
        } else {
                /* tags only: its one feature is switched off */
                features = calloc(n * old->dim, sizeof(float));
                if (!features)
                        return -ENOMEM;
                x = features;
        }
        r = x ? model_predict(old, engine, x, w->old_offsets, w->old_tags, n, p_old, NULL)
              : predict_image_rows(old, engine, img, w->old_offsets, w->old_tags, p_old);
        if (r < 0)
                return r;
        *why = NULL;
        *ret_old = TAKE_PTR(old);
        return 1;
}

/* Issue 14, two comparisons with the model that was installed when this
 * training started, kept for the history and the new model's quality:
 *
 * How stable the score is for the user: the share of the labelled posts
 * whose like/dislike label differs between the two, each at its like
 * threshold.
 *
 * Whether the new model is better on the current data: both are scored on
 * the posts labelled since the installed model was trained (it never saw
 * them), the installed model by its predictions, the new one by its
 * out-of-fold predictions (oof, from the folds that left each post out), so
 * neither has seen the posts it is scored on and both face the same data.
 * The alternative, refitting the installed model's configuration on these
 * folds, would cost a second training. Posts whose label changed since are
 * left out: the installed model was fitted to their old label, so they are
 * neither seen nor unseen for it. */
static int compare_with_installed(TrainWork *w, VkEngine *engine, const ModelDataset *all,
                                  const float *oof_all)
{
        Model *m = w->model;
        _cleanup_(model_freep) Model *old = NULL;
        _cleanup_free_ float *p_new = NULL, *p_old = NULL, *fo = NULL, *fn = NULL;
        _cleanup_free_ uint8_t *fy = NULL;
        /* on the posts with an image row, where both models see every input */
        const ModelDataset img = model_dataset_image_rows(all), *ds = &img;
        const float *oof = oof_all + all->n_no_image;
        const uint32_t *row_post = w->row_post + all->n_no_image;
        size_t n = ds->n;
        int r;

        w->against = (TasteHistoryFresh){.why_not = "no model was installed"};
        if (!w->installed_path || n == 0)
                return 0;
        p_old = calloc(n, sizeof(float));
        if (!p_old)
                return -ENOMEM;
        r = predict_installed(w, engine, ds, p_old, &old, &w->against.why_not);
        if (r <= 0)
                return r;

        if (m->quality.version != 0 && !m->tail) {
                _cleanup_free_ float *x = NULL;
                _cleanup_free_ int *status = NULL;
                p_new = calloc(n, sizeof(float));
                if (!p_new)
                        return -ENOMEM;
                if (m->cnn_b && w->crops) {
                        /* the dataset holds each post's out-of-fold logit; the
                         * score the user will see is the two networks' mean */
                        x = calloc(n * m->dim, sizeof(float));
                        status = calloc(n, sizeof(int));
                        if (!x || !status)
                                return -ENOMEM;
                        r = model_cnn_features_of_files(engine, m, (const char *const *)w->crops, n, x,
                                                        status);
                        if (r < 0)
                                return r;
                }
                r = x ? model_predict(m, engine, x, ds->tag_offsets, ds->tags, n, p_new, NULL)
                      : predict_image_rows(m, engine, ds, ds->tag_offsets, ds->tags, p_new);
                if (r < 0)
                        return r;
                double t_new = model_like_threshold(m, w->like_threshold),
                       t_old = model_like_threshold(old, w->like_threshold);
                size_t flips = 0;
                for (size_t i = 0; i < n; i++)
                        flips += (p_new[i] >= t_new) != (p_old[i] >= t_old);
                m->quality.flip_rate = (double)flips / (double)n;
                m->quality.flip_posts = (uint32_t)n;
                snprintf(m->quality.flip_against, sizeof(m->quality.flip_against), "%s",
                         strempty(old->created));
                log_info("Labels that changed against the installed model: %zu of %zu posts (%.1f %%).",
                         flips, n, 100.0 * m->quality.flip_rate);
        }

        if (!w->seen_ids) {
                w->against.why_not = "the installed model's dataset is not recorded";
                return 0;
        }
        if (m->quality.version == 0 || isnan(oof[0])) {
                w->against.why_not = "the new model is not cross-validated";
                return 0;
        }
        fo = malloc(n * sizeof(float));
        fn = malloc(n * sizeof(float));
        fy = malloc(n);
        if (!fo || !fn || !fy)
                return -ENOMEM;
        uint32_t k = 0, pos = 0;
        for (size_t i = 0; i < n; i++) {
                uint64_t id = w->post_ids[row_post[i]];
                if (bsearch(&id, w->seen_ids, w->n_seen_ids, sizeof(uint64_t), cmp_u64))
                        continue;
                fo[k] = p_old[i];
                fn[k] = oof[i];
                fy[k] = ds->labels[i] != 0;
                pos += fy[k++];
        }
        w->against.n = k;
        w->against.n_pos = pos;
        if (k < TASTE_HISTORY_FRESH_MIN || pos < TASTE_HISTORY_FRESH_MIN_CLASS ||
            k - pos < TASTE_HISTORY_FRESH_MIN_CLASS)
                return 0;
        w->against.auc_new = metrics_roc_auc(fn, fy, k);
        w->against.auc_installed = metrics_roc_auc(fo, fy, k);
        w->against.weighed = isfinite(w->against.auc_new) && isfinite(w->against.auc_installed);
        log_info("On the %" PRIu32 " posts labelled since the installed model was trained: ROC AUC %.3f "
                 "out of fold, the installed model's %.3f.",
                 k, w->against.auc_new, w->against.auc_installed);
        return 0;
}

static int train_run(void *userdata)
{
        TrainWork *w = userdata;
        _cleanup_(model_dataset_freep) ModelDataset *ds = NULL;
        _cleanup_free_ char *vocab_json = NULL;
        Error error = {};
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        _cleanup_(model_cnn_freep) ModelCnn *cnn = NULL, *cnn_b = NULL;
        _cleanup_free_ float *oof = NULL;
        VkEngine *engine;
        int r;

        r = build_dataset(w, &ds, &vocab_json);
        if (r < 0)
                return r;
        oof = malloc(MAX(ds->n, (size_t)1) * sizeof(float));
        if (!oof)
                return -ENOMEM;
        for (size_t i = 0; i < ds->n; i++)
                oof[i] = NAN;

        o.time_budget_s = (double)w->time_budget_s;
        o.seed = w->seed;
        /* pooled cross-validation, the baseline beside it, calibration
         * (quality-train.c); fewer folds when a class is small */
        o.folds = QUALITY_FOLDS_DEFAULT;
        if (w->patience > 0)
                o.patience = w->patience;
        o.max_epochs = w->max_epochs; /* 0: time and patience end training */
        /* An ablation keeps the same posts (those with an image) and switches
         * a tower off, so its metrics compare with "both". */
        o.use_features = (w->image_features || w->crops) && w->towers != TRAIN_TOWERS_TAGS;
        o.use_tags = w->towers != TRAIN_TOWERS_IMAGE;
        o.progress = on_progress;
        o.userdata = w;
        o.cancel = &w->cancel;
        o.vocabulary = vocab_json;
        o.backbone = w->backbone_id;
        o.oof_prob = oof;

        /* One thread at a time on the engine: an embed batch waits for us.
         * The forward pass goes (a training does not use it), and its pages
         * back before the dataset's come. The engine itself stays: freeing
         * and making it again left ~50 MB more resident each time
         * (bench-scale at 3,424 posts: 262 MB idle after two more engines,
         * 158 MB without), more than its pipelines cost a training. */
        pthread_mutex_lock(&w->backbone->lock);
        backbone_service_drop_forward_locked(w->backbone);
        (void)malloc_trim(0);
        engine = backbone_service_engine_locked(w->backbone);
        if (!engine)
                r = error_setf(&w->error, -ENODEV,
                               "No Vulkan device to train on. %s, or install the Mesa lavapipe driver.",
                               VK_NO_DEVICE_HINT);
        else if (w->crops) {
                r = train_cnn_run(engine, ds, &o, w->crops, &cnn, &cnn_b, &error);
                if (r >= 0)
                        r = model_train(engine, ds, &o, &w->model, &w->metrics, &error);
                if (r >= 0) {
                        w->model->cnn = TAKE_PTR(cnn);
                        w->model->cnn_b = TAKE_PTR(cnn_b);
                }
        } else {
                /* with a long enough budget, views for fine-tuning first, out of the same budget */
                _cleanup_(ft_views_freep) FtViews *views = NULL;
                ModelFinetuneData fd;
                uint64_t t0 = now_usec(CLOCK_MONOTONIC);
                /* the image rows only: the tuned features are theirs */
                size_t n_image = ds->n - ds->n_no_image;
                if (w->handle && w->ds_paths &&
                    ft_prepare(engine, w->handle->bb, w->ds_paths, n_image, o.time_budget_s,
                               train_budget_views(n_image, TRAIN_IMAGE_ROW_BYTES, ds->n), (uint32_t)w->seed,
                               &w->cancel, &views, &fd) >= 0) {
                        o.finetune = &fd;
                        o.time_budget_s -= (double)(now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_SEC;
                }
                r = model_train(engine, ds, &o, &w->model, &w->metrics, &error);
        }
        if (r >= 0) {
                /* a measurement, not a reason to lose the training */
                int k = compare_with_installed(w, engine, ds, oof);
                if (k < 0)
                        log_warning_errno(
                                k, "Failed to compare the new model with the installed one, ignoring: %m");
        }
        pthread_mutex_unlock(&w->backbone->lock);
        /* The dataset, the folds and the views were freed into this
         * thread's arena: hand the pages back, or fluffd stays at
         * training's peak until it restarts. */
        ds = model_dataset_free(ds);
        (void)malloc_trim(0);
        if (r < 0) {
                if (error_is_set(&error))
                        (void)error_setf(&w->error, r, "%s", error.message);
                return r;
        }

        /* The loaded model stays until this file is complete on disk. */
        _cleanup_free_ char *dir = strdup(w->model_path);
        if (!dir)
                return -ENOMEM;
        *strrchr(dir, '/') = 0;
        r = mkdir_parents(dir, 0700);
        if (r >= 0)
                r = model_save(w->model, w->model_path);
        if (r < 0)
                return error_setf(&w->error, r, "Failed to write the model file \"%s\": %s", w->model_path,
                                  strerror(-r));

        /* Serve what is on disk, exactly as the next start will load it (the
         * file rounds some numbers), and check it reads back. */
        _cleanup_(model_freep) Model *loaded = NULL;
        r = model_load(w->model_path, &loaded, &error);
        if (r < 0)
                return error_setf(&w->error, r, "The model file \"%s\" just written does not load: %s",
                                  w->model_path, error_message(&error, r));
        model_free(w->model);
        w->model = TAKE_PTR(loaded);
        return 0;
}

static void train_stop(TrainJob *t)
{
        t->stopped = true;
        t->collect = sd_event_source_disable_unref(t->collect);
        train_work_free(t->collecting);
        t->collecting = NULL;
        t->poll = sd_event_source_disable_unref(t->poll);
        if (t->work) {
                atomic_store(&t->work->cancel, true);
                t->work = NULL;
        }
        work_pool_forget(t->pool, t);
}

static void train_free(void *userdata)
{
        TrainJob *t = userdata;
        if (!t)
                return;
        train_stop(t);
        /* a model the history did not take (failed, cancelled, the daemon stopping) */
        if (t->model_path)
                (void)unlink(t->model_path);
        free(t->model_path);
        free(t->dataset);
        free(t);
}

/* What the model is trained on, for the job's messages. */
static const char *trained_on(const TrainJob *t)
{
        if (t->tags_only)
                return "tags only, no image backbone";
        if (t->towers == TRAIN_TOWERS_TAGS)
                return "tags only, image tower off";
        if (t->towers == TRAIN_TOWERS_IMAGE)
                return t->cnn ? "small CNN only, tag tower off" : "image embeddings only, tag tower off";
        return t->cnn ? "tags + small CNN, no image backbone" : "image embeddings and tags";
}

static void show_progress(TrainJob *t)
{
        TrainWork *w = t->work;
        ModelStage stage;
        unsigned epoch;
        double loss, auc, left;

        pthread_mutex_lock(&w->lock);
        bool fresh = w->fresh;
        w->fresh = false;
        stage = w->stage;
        epoch = w->epoch;
        loss = w->loss;
        auc = w->val_auc;
        left = w->seconds_left;
        pthread_mutex_unlock(&w->lock);

        uint64_t elapsed = (now_usec(CLOCK_MONOTONIC) - t->started_usec) / USEC_PER_SEC;
        job_set_progress(t->job, MIN(elapsed, t->time_budget_s), t->time_budget_s);
        if (!fresh)
                return;
        const char *name = model_stage_to_string(stage),
                   *how = t->tags_only || t->towers == TRAIN_TOWERS_TAGS ? ", tags only"
                          : t->towers == TRAIN_TOWERS_IMAGE              ? ", image only"
                          : t->cnn                                       ? ", tags + small CNN"
                                                                         : "";
        _cleanup_free_ char *m = NULL;
        int r;
        if (isnan(loss))
                r = asprintf(&m, "Training (%s): %.0f s left%s", name, left, how);
        else if (isnan(auc))
                r = asprintf(&m, "Training (%s): epoch %u, loss %.4f, %.0f s left%s", name, epoch, loss,
                             left, how);
        else
                r = asprintf(&m, "Training (%s): epoch %u, loss %.4f, val AUC %.3f, %.0f s left%s", name,
                             epoch, loss, auc, left, how);
        if (r < 0)
                return;
        (void)job_set_phase(t->job, name, m);
}

static int on_poll(sd_event_source *s, uint64_t usec, void *userdata)
{
        TrainJob *t = userdata;

        if (t->work)
                show_progress(t);
        return sd_event_source_set_time_relative(s, POLL_USEC);
}

static void train_finish(TrainJob *t, int r, const char *fmt, ...) _printf_(3, 4);
static void train_finish(TrainJob *t, int r, const char *fmt, ...)
{
        _cleanup_free_ char *m = NULL;
        va_list ap;

        if (t->stopped)
                return;
        train_stop(t);
        /* A file the history did not take (failed, cancelled) goes now, not
         * when the job is freed: a full disk must get its space back. */
        if (t->model_path) {
                (void)unlink(t->model_path);
                free(t->model_path);
                t->model_path = NULL;
        }
        backbone_service_used(t->backbone);
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        refresh_record_train(t->store, t->automatic, r, m);
        job_finish(t->job, r, "%s", m ?: "");
}

/* The new model into the history, on a worker with a connection of its
 * own: at 100,000 labelled posts its record writes a row per label (0.1-0.2
 * s), pruning the oldest model deletes as many, and the retrain trigger's
 * count of labels changed since reads every label (0.2 s), time the loop
 * would not answer the bus. The loop then
 * adopts the file and installs it (taste_history_commit). It owns all it
 * reads: the job may go away (the daemon stopping) while it runs. */
typedef struct KeepWork {
        TrainJob *t;            /* borrowed; only in done() */
        char *path;             /* owned: the store */
        char *models_dir;       /* owned: the history's files, for the pruning */
        Model *model;           /* owned until the commit takes it */
        StoreLabelled *dataset; /* owned: what it was trained on */
        TasteHistoryAdd add;    /* dataset and fresh point into this item */
        TasteHistoryFresh against;
        TasteHistoryRecord rec;
        bool counted; /* changed and base are the installed model's, counted after its record */
        uint64_t changed, base;
        unsigned pruned;
        ModelMetrics metrics;
        ModelQuality quality;
        size_t vocab_size;
        char *tuned; /* owned: the fine-tuning's sentence, or NULL */
        Error error;
} KeepWork;

static void keep_work_free(void *userdata)
{
        KeepWork *k = userdata;
        model_free(k->model);
        free(k->path);
        free(k->models_dir);
        free(k->dataset);
        taste_history_record_done(&k->rec);
        free(k->tuned);
        free(k);
}

static int keep_run(void *userdata)
{
        KeepWork *k = userdata;
        _cleanup_store_free_ Store *s = NULL;
        int r;

        r = store_open(k->path, &s, &k->error);
        if (r < 0)
                return r;
        r = taste_history_record(s, k->model, &k->add, &k->rec, &k->error);
        if (r < 0)
                return r;
        /* The new record is the newest, and the installed model is never
         * pruned: once the new one is installed, the old one is kept too. */
        k->pruned = taste_history_prune(k->models_dir, s, k->add.keep);
        if (!k->rec.install)
                return 0;
        Error db = {};
        r = store_model_labels_changed(s, k->rec.id, &k->changed, &k->base, &db);
        if (r < 0)
                /* the loop counts them when they are asked for */
                log_debug("Failed to count the labels changed since the new model's training, ignoring: %s",
                          error_message(&db, r));
        k->counted = r >= 0;
        return 0;
}

static void on_kept(void *userdata, int r)
{
        KeepWork *k = userdata;
        TrainJob *t = k->t;
        const ModelMetrics *mt = &k->metrics;
        const ModelQuality q = k->quality;

        if (t->stopped)
                return;
        if (r < 0) {
                train_finish(t, r, "Failed to keep the new model: %s", error_message(&k->error, r));
                return;
        }
        TasteHistoryResult res;
        Error e = {};
        r = taste_history_commit(t->taste, t->store, t->model_path, TAKE_PTR(k->model), &k->rec, &res, &e);
        if (r < 0) {
                train_finish(t, r, "Failed to keep the new model: %s", error_message(&e, r));
                return;
        }
        free(t->model_path); /* the history's file now */
        t->model_path = NULL;
        if (res.installed) {
                if (k->counted)
                        counts_model_installed(t->counts, res.id, k->changed, k->base);
                events_emit(t->events, EVENT_MODEL_CHANGED, NULL);
        }
        const char *tuned = k->tuned;
        size_t vocab_size = k->vocab_size;
        log_info("Trained a taste model on %zu posts (%s): %s ROC AUC %.3f; %s model %" PRIu64 "%s%s.",
                 t->n_likes + t->n_dislikes, trained_on(t), q.version > 0 ? "cross-validated" : "validation",
                 mt->roc_auc, res.installed ? "installed as" : "kept aside as", res.id,
                 res.installed ? "" : ": ", res.reason);
        _cleanup_free_ char *kept = NULL;
        if (res.installed
                    ? asprintf(&kept, " Installed as model %" PRIu64 ".%s%s", res.id,
                               isempty(res.basis) ? "" : " ", res.basis) < 0
                    : asprintf(&kept,
                               " Kept aside as model %" PRIu64 " (%s); the installed model stays. "
                               "Install it anyway with \"fluffctl model use %" PRIu64 "\".%s%s",
                               res.id, res.reason, res.id, isempty(res.basis) ? "" : " ", res.basis) < 0)
                kept = NULL;
        _cleanup_free_ char *left_out = NULL;
        if (t->n_no_embedding > 0 &&
            asprintf(&left_out, "; %zu posts without an image embedding left out", t->n_no_embedding) < 0)
                left_out = NULL;
        if (t->n_no_crop > 0 && asprintf(&left_out, "; %zu posts without a crop left out", t->n_no_crop) < 0)
                left_out = NULL;
        if (t->n_capped > 0) {
                char *both = NULL;
                if (asprintf(&both, "%s; %zu older posts beyond train_image_posts %s", strempty(left_out),
                             t->n_capped, t->tags_only || t->cnn ? "left out" : "on their tags only") >= 0) {
                        free(left_out);
                        left_out = both;
                }
        }
        if (q.version > 0) {
                /* cross-validated: every number pooled out of fold, beside the baseline's */
                train_finish(t, 0,
                             "Trained on %zu liked and %zu disliked posts (%s%s): %u-fold cross-validated "
                             "ROC AUC %.3f (tags-only baseline %.3f), towers combined: %s; the score is "
                             "P(like), calibrated (%s, calibration error %.3f, noise alone %.3f), like at "
                             "%.2f and above; "
                             "%zu tags in the vocabulary.%s%s",
                             t->n_likes, t->n_dislikes, trained_on(t), strempty(left_out), q.folds,
                             q.model.roc_auc, q.baseline.roc_auc, q.combination, q.calibration.method,
                             q.calibration.ece, q.calibration.ece_floor, t->taste->like_threshold,
                             vocab_size, strempty(tuned), strempty(kept));
                return;
        }
        train_finish(t, 0,
                     "Trained on %zu liked and %zu disliked posts (%s%s): validation ROC AUC %.3f, accuracy "
                     "%.3f, balanced accuracy %.3f, precision@10 %.2f, precision@50 %.2f, threshold %.3f, "
                     "%u+%u validation posts, %zu tags in the vocabulary.%s%s",
                     t->n_likes, t->n_dislikes, trained_on(t), strempty(left_out), mt->roc_auc, mt->accuracy,
                     mt->balanced_accuracy, mt->precision_at_10, mt->precision_at_50, mt->threshold,
                     mt->n_pos, mt->n_neg, vocab_size, strempty(tuned), strempty(kept));
}

static void on_train_done(void *userdata, int r)
{
        TrainWork *w = userdata;
        TrainJob *t = w->train;

        t->work = NULL;
        if (r == -ECANCELED || (r < 0 && t->job->cancel_requested)) {
                train_finish(t, -ECANCELED, "Training cancelled; the previous model stays.");
                return;
        }
        if (r == -ENODATA) {
                train_finish(t, r, "%s",
                             error_is_set(&w->error) ? w->error.message
                                                     : "Not enough liked and disliked posts to train on.");
                return;
        }
        if (r < 0) {
                train_finish(t, r, "Training failed: %s", error_message(&w->error, r));
                return;
        }
        KeepWork *k = calloc(1, sizeof(KeepWork));
        if (!k || !(k->path = strdup(store_path(t->store))) ||
            !(k->models_dir = strdup(t->taste->models_dir))) {
                if (k)
                        free(k->path);
                free(k);
                train_finish(t, -ENOMEM, "Failed to keep the new model: %s", strerror(ENOMEM));
                return;
        }
        const ModelTail *tail = w->model->tail;
        if (tail &&
            asprintf(&k->tuned, " Fine-tuned %s: validation ROC AUC %.3f with the head alone, %.3f tuned.",
                     tail->node, tail->auc_head, tail->auc_tuned) < 0)
                k->tuned = NULL;
        k->t = t;
        k->metrics = w->metrics;
        k->quality = w->model->quality;
        k->vocab_size = w->vocab_size;
        k->model = TAKE_PTR(w->model);
        k->dataset = TAKE_PTR(t->dataset);
        k->against = w->against;
        k->add = (TasteHistoryAdd){
                .trigger = t->automatic ? "automatic" : "manual",
                .towers = train_towers_to_string(t->towers),
                .ablation = t->towers != TRAIN_TOWERS_BOTH,
                .force_install = t->install,
                .margin = t->config->model_install_margin,
                .keep = t->config->model_keep,
                .dataset = k->dataset,
                .n_dataset = t->n_dataset,
                .fresh = &k->against,
        };
        (void)job_set_phase(t->job, "keeping", "Keeping the new model");
        r = work_pool_submit(t->pool, t, keep_run, on_kept, keep_work_free, k);
        if (r < 0) {
                /* no thread to take it: the loop does it */
                on_kept(k, keep_run(k));
                keep_work_free(k);
        }
}

/* The labelled posts (and what the installed model was trained on), read
 * on a worker with a connection of its own: at 100,000 posts the list
 * takes 0.3-0.5 s, which the loop spent away from the bus. */
typedef struct ListWork {
        TrainJob *t;            /* borrowed; only in done() */
        char *path;             /* owned: the store */
        uint64_t installed_id;  /* 0: no installed model */
        StoreLabelled *dataset; /* owned until taken */
        size_t n_dataset;
        uint64_t *seen_ids; /* owned until taken; NULL: unknown */
        size_t n_seen_ids;
        Error error;
} ListWork;

static void list_work_free(void *userdata)
{
        ListWork *l = userdata;
        free(l->path);
        free(l->dataset);
        free(l->seen_ids);
        free(l);
}

static int list_run(void *userdata)
{
        ListWork *l = userdata;
        _cleanup_store_free_ Store *s = NULL;
        int r;

        r = store_open(l->path, &s, &l->error);
        if (r < 0)
                return r;
        /* the history keeps the labels as they were now */
        r = store_dataset_list(s, &l->dataset, &l->n_dataset, &l->error);
        if (r < 0 || l->installed_id == 0)
                return r;
        /* what the installed model was trained on: the posts labelled since are new to it */
        Error db = {};
        r = store_model_trained_on(s, l->installed_id, &l->seen_ids, &l->n_seen_ids, &db);
        if (r < 0)
                log_warning("Failed to read the installed model's dataset, ignoring: %s",
                            error_message(&db, r));
        if (r >= 0 && l->n_seen_ids == 0) {
                /* recorded without its dataset: unknown */
                free(l->seen_ids);
                l->seen_ids = NULL;
        }
        return 0;
}

/* On the loop, once the list is read: reads the labelled posts' tags and
 * (with a backbone) their cached embeddings into w, a chunk at a time. */
static int collect_begin(TrainJob *t, TrainWork *w, Error *error)
{
        StoreLabelled *list;
        size_t n_list, from = 0, n_rows, n_image = 0;
        int r;

        list = t->dataset;
        n_list = t->n_dataset;
        n_rows = n_list;
        if (w->backbone_id || w->towers != TRAIN_TOWERS_TAGS) {
                /* At most so many posts with an image, the newest (the list
                 * is by id): each holds an image row (BACKBONE_EMBED_DIM
                 * floats, or the small CNN's crop), config train_image_posts
                 * or fewer where the memory budget ends (budget.h), and a
                 * time budget gets through only so many anyway. */
                size_t row = w->backbone_id ? TRAIN_IMAGE_ROW_BYTES : TRAIN_CNN_ROW_BYTES,
                       cap = train_budget_image_posts(t->config->train_image_posts, row, n_list), k = 0;
                for (from = n_list; from > 0 && k < cap; from--)
                        k += !isempty(list[from - 1].md5) && list[from - 1].has_image;
                t->n_capped = from;
                if (w->backbone_id) {
                        /* the older ones train the tag tower on their tags (issue 16) */
                        n_image = k;
                        if (from > 0)
                                log_info(
                                        "Training on the newest %zu labelled posts with an image; %zu older "
                                        "ones on their tags only (config train_image_posts = %u, memory "
                                        "for %zu).",
                                        k, from, t->config->train_image_posts,
                                        train_budget_image_posts(UINT_MAX, row, n_list));
                } else {
                        /* the CNN's reading keeps the rest for its choice */
                        n_rows = n_list - from;
                        if (from > 0)
                                log_info(
                                        "Training on the newest %zu labelled posts with an image; %zu older "
                                        "ones are left out (config train_image_posts = %u, memory for %zu).",
                                        k, from, t->config->train_image_posts,
                                        train_budget_image_posts(UINT_MAX, row, n_list));
                }
        }
        t->image_from = w->backbone_id ? from : 0;
        if (w->backbone_id) {
                w->image_features = true;
                w->features = calloc(MAX(n_image, (size_t)1) * BACKBONE_EMBED_DIM, sizeof(uint16_t));
                w->paths = calloc(MAX(n_rows, (size_t)1), sizeof(char *));
                if (!w->features || !w->paths)
                        return -ENOMEM;
                from = 0;
        } else if (w->towers != TRAIN_TOWERS_TAGS) {
                w->crops = calloc(MAX(n_rows, (size_t)1), sizeof(char *));
                if (!w->crops)
                        return -ENOMEM;
        }

        r = vocab_builder_new(&w->tags);
        if (r < 0)
                return r;
        w->post_ids = calloc(MAX(n_rows, (size_t)1), sizeof(uint64_t));
        w->labels = calloc(MAX(n_rows, (size_t)1), sizeof(int8_t));
        w->tag_at = calloc(n_rows + 1, sizeof(uint32_t));
        if (!w->post_ids || !w->labels || !w->tag_at)
                return -ENOMEM;
        t->collect_next = from;
        return 0;
}

/* The next COLLECT_CHUNK posts of the list into w: > 0 when all are read. */
static int collect_some(TrainJob *t, TrainWork *w, Error *error)
{
        Store *st = t->store;
        const StoreLabelled *list = t->dataset;
        size_t n_list = t->n_dataset, end = MIN(n_list, t->collect_next + COLLECT_CHUNK);
        int r;

        for (size_t i = t->collect_next; i < end; i++) {
                /* with a backbone, the posts before image_from are their tags only */
                uint16_t *row = w->features && i >= t->image_from
                                        ? w->features + w->n_image * BACKBONE_EMBED_DIM
                                        : NULL;
                bool ok = true;

                if (row) {
                        /* Posts without an embedding are left out rather than
                         * given zeros, which would look like a real image. */
                        ok = !isempty(list[i].md5) && list[i].has_image;
                        for (int f = 0; ok && f < _BACKBONE_FEAT_MAX; f++) {
                                const BackboneFeatureInfo *fi = backbone_feature_info(f);
                                _cleanup_free_ float *e = NULL;
                                size_t n_e;
                                r = store_embedding_get(st, w->backbone_id, fi->name, list[i].md5, &e, &n_e,
                                                        error);
                                if (r == -ENOENT || (r >= 0 && n_e != fi->dim))
                                        ok = false;
                                else if (r < 0)
                                        return r;
                                else
                                        floats_to_half(e, row + fi->offset, fi->dim);
                        }
                        if (!ok) {
                                t->n_no_embedding++;
                                continue;
                        }
                }
                _cleanup_free_ char *path = NULL;
                if (row && (r = image_path_for_md5(t->images_dir, list[i].md5, &path)) < 0)
                        return r;
                _cleanup_post_free_ Post *p = NULL;
                r = store_post_get(st, list[i].post_id, &p, error);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                /* the tags as the builder's entries; the Post goes */
                if (w->n_tag_entries + p->n_tags > UINT32_MAX)
                        return -E2BIG;
                if (w->n_tag_entries + p->n_tags > w->n_tag_entries_alloc) {
                        size_t a = MAX(MAX(w->n_tag_entries_alloc * 2, (size_t)4096),
                                       w->n_tag_entries + p->n_tags);
                        uint32_t *e = realloc(w->tag_entries, a * sizeof(uint32_t));
                        if (!e)
                                return -ENOMEM;
                        w->tag_entries = e;
                        w->n_tag_entries_alloc = a;
                }
                size_t n_entries;
                r = vocab_builder_add_post_ids(w->tags, p, w->tag_entries + w->n_tag_entries, p->n_tags,
                                               &n_entries);
                if (r < 0)
                        return r;
                w->n_tag_entries += n_entries;
                w->tag_at[w->n + 1] = (uint32_t)w->n_tag_entries;
                w->post_ids[w->n] = p->id;
                if (w->crops && !isempty(list[i].md5) && list[i].has_image &&
                    image_path_for_md5(t->images_dir, list[i].md5, &w->crops[w->n]) >= 0 &&
                    access(w->crops[w->n], R_OK) < 0) {
                        /* deleted since the sync: the next one fetches it again */
                        free(w->crops[w->n]);
                        w->crops[w->n] = NULL;
                }
                if (w->paths)
                        w->paths[w->n] = TAKE_PTR(path);
                if (row)
                        w->n_image++;
                else if (w->features)
                        w->n_no_image++;
                w->labels[w->n++] = (int8_t)list[i].label;
                if (list[i].label > 0)
                        t->n_likes++;
                else
                        t->n_dislikes++;
        }
        t->collect_next = end;
        return end == n_list;
}

static int train_start_work(TrainJob *t, TrainWork *w);

static int on_collect(sd_event_source *s, void *userdata)
{
        TrainJob *t = userdata;
        TrainWork *w = t->collecting;
        Error db = {};
        int r;

        if (t->job->cancel_requested) {
                train_finish(t, -ECANCELED, "Training cancelled; the previous model stays.");
                return 0;
        }
        r = collect_some(t, w, &db);
        if (r < 0) {
                train_finish(t, r, "Failed to read the dataset: %s", error_message(&db, r));
                return 0;
        }
        if (r == 0)
                return 0; /* the next chunk on the next iteration */
        t->collect = sd_event_source_disable_unref(t->collect);
        t->collecting = NULL;
        (void)job_set_phase(t->job, "collecting", "Read the labelled posts");
        r = train_start_work(t, w); /* takes w */
        if (r < 0)
                train_finish(t, r, "Failed to start training: %s", strerror(-r));
        return 0;
}

static void on_listed(void *userdata, int r)
{
        ListWork *l = userdata;
        TrainJob *t = l->t;
        TrainWork *w = t->collecting;
        Error db = {};

        if (t->stopped)
                return;
        if (t->job->cancel_requested)
                return train_finish(t, -ECANCELED, "Training cancelled; the previous model stays.");
        if (r < 0)
                return train_finish(t, r, "Failed to read the dataset: %s", error_message(&l->error, r));
        t->dataset = TAKE_PTR(l->dataset);
        t->n_dataset = l->n_dataset;
        w->seen_ids = TAKE_PTR(l->seen_ids);
        w->n_seen_ids = l->n_seen_ids;
        r = collect_begin(t, w, &db);
        if (r < 0)
                return train_finish(t, r, "Failed to read the dataset: %s", error_message(&db, r));
        /* below the bus's priority: a status call goes first */
        r = sd_event_add_defer(t->event, &t->collect, on_collect, t);
        if (r >= 0)
                r = sd_event_source_set_priority(t->collect, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_event_source_set_enabled(t->collect, SD_EVENT_ON);
        if (r < 0)
                train_finish(t, r, "Failed to read the dataset: %s", strerror(-r));
}

static int train_start(Job *j)
{
        TrainJob *t = j->data;
        TrainWork *w;
        int r;

        w = calloc(1, sizeof(TrainWork));
        if (!w)
                return -ENOMEM;
        pthread_mutex_init(&w->lock, NULL);
        atomic_init(&w->cancel, false);
        w->train = t;
        w->backbone = t->backbone;
        w->time_budget_s = t->time_budget_s;
        w->seed = t->seed;
        w->patience = t->patience;
        w->max_epochs = t->max_epochs;
        w->towers = t->towers;
        w->stage = MODEL_STAGE_PREPARE;
        w->like_threshold = t->taste->like_threshold;
        if (t->taste->model && !(w->installed_path = strdup(t->taste->path))) {
                train_work_free(w);
                return -ENOMEM;
        }
        r = model_history_new_path(t->taste->models_dir, &t->model_path);
        if (r < 0) {
                train_work_free(w);
                return r;
        }
        w->model_path = strdup(t->model_path);
        if (t->backbone->current) {
                w->backbone_id = strdup(backbone_service_id(t->backbone));
                w->handle = bb_handle_ref(t->backbone->current);
        }
        if (!w->model_path || (t->backbone->current && !w->backbone_id)) {
                train_work_free(w);
                return -ENOMEM;
        }
        t->tags_only = !w->backbone_id;

        (void)job_set_phase(j, "collecting", "Reading the labelled posts");
        ListWork *l = calloc(1, sizeof(ListWork));
        if (!l || !(l->path = strdup(store_path(t->store)))) {
                free(l);
                train_work_free(w);
                return -ENOMEM;
        }
        l->t = t;
        l->installed_id = t->taste->model ? t->taste->installed_id : 0;
        r = work_pool_submit(t->pool, t, list_run, on_listed, list_work_free, l);
        if (r < 0) {
                list_work_free(l);
                train_work_free(w);
                return r;
        }
        t->collecting = w;
        return 0;
}

/* The small CNN trains on the posts with a crop: the others go, every
 * per-post array compacted alike. */
static void keep_posts_with_crops(TrainWork *w)
{
        size_t kept = 0, at = 0;

        for (size_t i = 0; i < w->n; i++) {
                uint32_t a = w->tag_at[i], e = w->tag_at[i + 1];
                if (!w->crops[i])
                        continue;
                memmove(w->tag_entries + at, w->tag_entries + a, (e - a) * sizeof(uint32_t));
                w->tag_at[kept] = (uint32_t)at;
                at += e - a;
                w->post_ids[kept] = w->post_ids[i];
                w->labels[kept] = w->labels[i];
                w->crops[kept++] = w->crops[i];
        }
        w->tag_at[kept] = (uint32_t)at;
        w->n = kept;
}

/* On the loop, once the dataset is read: checks it and hands it to a worker. */
static int train_start_work(TrainJob *t, TrainWork *w)
{
        Job *j = t->job;
        int r;

        if (w->crops) {
                t->n_no_crop = train_cnn_select(w->labels, w->crops, w->n,
                                                MODEL_TRAIN_OPTIONS_DEFAULT.min_per_class, &t->n_likes,
                                                &t->n_dislikes, &t->cnn);
                if (t->cnn)
                        keep_posts_with_crops(w);
                if (!t->cnn) {
                        free(w->crops);
                        w->crops = NULL;
                }
                t->tags_only = !t->cnn;
        }
        if (t->tags_only && t->towers == TRAIN_TOWERS_IMAGE) {
                train_work_free(w);
                train_finish(t, -ENOMEDIUM,
                             "Training the image tower alone needs images: import the image backbone "
                             "(\"fluffctl backbone import\") or sync the crops first.");
                return 0;
        }
        if (t->n_likes < MODEL_TRAIN_OPTIONS_DEFAULT.min_per_class ||
            t->n_dislikes < MODEL_TRAIN_OPTIONS_DEFAULT.min_per_class) {
                unsigned need = MODEL_TRAIN_OPTIONS_DEFAULT.min_per_class;
                train_work_free(w);
                train_finish(t, -ENODATA,
                             "Not enough data to train on: %zu liked and %zu disliked posts%s. Like or "
                             "dislike at "
                             "least %u of each on the site (favourites and upvotes are likes, downvotes "
                             "dislikes), "
                             "then run \"fluffctl sync\" and train again.",
                             t->n_likes, t->n_dislikes,
                             t->n_no_embedding ? " with an image embedding (run \"fluffctl embed\")" : "",
                             need);
                return 0;
        }
        if (t->n_no_embedding > 0)
                log_info("Training leaves out %zu posts without an image embedding.", t->n_no_embedding);

        (void)job_set_phase(j, model_stage_to_string(MODEL_STAGE_PREPARE),
                            t->tags_only ? "Preparing (tags only: no image backbone is imported)"
                            : t->cnn     ? "Preparing (tags + small CNN from scratch: no image backbone)"
                                         : "Preparing (image embeddings and tags)");
        t->started_usec = now_usec(CLOCK_MONOTONIC);
        job_set_progress(j, 0, t->time_budget_s);
        r = sd_event_add_time_relative(t->event, &t->poll, CLOCK_MONOTONIC, POLL_USEC, 10 * USEC_PER_MSEC,
                                       on_poll, t);
        if (r >= 0)
                r = sd_event_source_set_enabled(t->poll, SD_EVENT_ON);
        if (r < 0) {
                train_work_free(w);
                return r;
        }
        /* an automatic retraining must not be noticed: a thread of its own at nice 19, idle I/O */
        r = (t->automatic ? work_pool_submit_background
                          : work_pool_submit)(t->pool, t, train_run, on_train_done, train_work_free, w);
        if (r < 0) {
                train_work_free(w);
                return r;
        }
        t->work = w;
        if (t->automatic)
                refresh_record_train(t->store, true, 1, NULL); /* a kill leaves this behind */
        return 0;
}

static void train_cancel(Job *j)
{
        TrainJob *t = j->data;

        /* model_train stops after the step in flight; done() then finishes. */
        if (t->work)
                atomic_store(&t->work->cancel, true);
}

static const JobOps train_ops = {
        .kind = "train",
        .start = train_start,
        .cancel = train_cancel,
        .free_data = train_free,
};

int train_job_create(Context *ctx, BackboneService *backbone, TasteService *taste, JobRunner *runner,
                     const TrainJobOptions *o, Job **ret, Error *error)
{
        TrainJob *t;
        int r;

        if (o->time_budget_s < TRAIN_BUDGET_MIN_S || o->time_budget_s > TRAIN_BUDGET_MAX_S ||
            o->patience > TRAIN_PATIENCE_MAX || o->max_epochs > TRAIN_PATIENCE_MAX || o->towers < 0 ||
            o->towers >= _TRAIN_TOWERS_MAX)
                return error_setf(error, -EINVAL, "Failed to create the train job: %s", strerror(EINVAL));
        t = calloc(1, sizeof(TrainJob));
        if (!t)
                return error_set_errno(error, -ENOMEM);
        t->event = ctx->event;
        t->store = ctx->store;
        t->config = ctx->config;
        t->events = ctx->events;
        t->counts = &ctx->counts;
        t->pool = ctx->work;
        t->images_dir = ctx->images_dir;
        t->backbone = backbone;
        t->taste = taste;
        t->time_budget_s = o->time_budget_s;
        t->seed = o->seed;
        t->patience = o->patience;
        t->max_epochs = o->max_epochs;
        t->towers = o->towers;
        t->install = o->install;
        t->automatic = o->automatic;
        r = job_runner_add(runner, &train_ops, t, &t->job, error);
        if (r < 0) {
                free(t);
                return r;
        }
        *ret = t->job;
        return 0;
}
