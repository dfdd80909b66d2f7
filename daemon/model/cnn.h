/* SPDX-License-Identifier: MIT */
#pragma once

/* The image tower used when no pretrained backbone is installed: a small CNN
 * trained from scratch on the user's own labelled crops.
 *
 *     RGB crop, stored × stored uint8 (kept in memory)
 *        → window of input × input (random + flipped while training, centre
 *          otherwise), scaled to [-1, 1]
 *        → n_layers × (conv 3×3 stride 2, TF "same" padding, ReLU)
 *        → global mean and max pool → 2·C features
 *        → linear → logit
 *
 * trained with class-balanced BCE and AdamW on a stratified train split,
 * early-stopped on the validation ROC AUC.
 *
 * Cross-fitted (issue 14): a training run trains two networks, A on one
 * stratified half of the labelled posts and B on the other, each in half
 * of the CNN's time. A post's one image feature (feature set "cnn",
 * CNN_HEAD_DIM floats) is its logit from the network that did not train on
 * it; quality-train.c gives it to the head (beside the tags) and to the
 * stack as an input of its own (ModelCombine.w_cnn), so the folds, the
 * stack and the calibration only ever see out-of-sample CNN outputs, as
 * they do a fixed backbone's. A post to predict was seen by neither: its
 * feature is the mean of A's and B's logits. Two networks' features are
 * not aligned, so only their logits can share one head. Files from before
 * (one CNN, its 2·C features the head's) still load and predict as they
 * did.
 *
 *     r = cnn_images_load(paths, n, arch.stored, rgb, status);     // libvips
 *     r = cnn_train(engine, &arch, rgb, labels, n, &split, &opts, &cnn, &error);
 *     r = cnn_features(engine, cnn, rgb, n, features, logits);      // n × cnn_feature_dim(), n
 *
 * Threads: as model.h (one thread at a time per engine). */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conv-shape.h"
#include "fluff/util.h"
#include "model.h"

#define CNN_LAYERS_MAX 6
#define CNN_CHANNELS_MAX 512
#define CNN_INPUT_MAX 512
#define CNN_PARAMS_MAX (2 * CNN_LAYERS_MAX + 3)
/* Name of the head's feature set and prefix of the file's tensors. */
#define CNN_FEATURE_SET "cnn"
#define CNN_TENSOR_PREFIX "cnn."
/* The second (cross-fitted) network's tensors and metadata key. */
#define CNN_B_TENSOR_PREFIX "cnn_b."
#define CNN_B_METADATA "cnn_b"
/* Features the head gets from the cross-fitted pair: the out-of-fold logit. */
#define CNN_HEAD_DIM 1u
#define CNN_IMAGE_TOWER "small CNN from scratch"

typedef struct CnnArch {
        uint32_t input;  /* side of the square the convolutions see */
        uint32_t stored; /* side of the crops kept in memory (≥ input; the margin is for random crops) */
        uint32_t n_layers;
        uint32_t channels[CNN_LAYERS_MAX];
} CnnArch;

/* 72 px in memory, 64 px windows: 32, 16, 8, 4 pixels after each layer. */
#define CNN_ARCH_DEFAULT ((CnnArch){.input = 64, .stored = 72, .n_layers = 4, .channels = {16, 32, 64, 64}})

/* -EINVAL for an architecture no kernel can run or a file should not hold. */
int cnn_arch_check(const CnnArch *a);
/* Features per image: mean and max of the last layer's channels. */
uint32_t cnn_feature_dim(const CnnArch *a);
/* Layer l's convolution for a batch of n (l < n_layers). */
void cnn_layer_shape(const CnnArch *a, unsigned l, uint32_t n, ConvShape *ret);
/* Spatial size (pixels) of layer l's output. */
uint32_t cnn_layer_pixels(const CnnArch *a, unsigned l);

/* The parameters, all in one host array: per layer "cnn.conv<l>.weight"
 * (HWIO, [9·c_in, c_out]) and "cnn.conv<l>.bias" [c_out], then
 * "cnn.fc.mean" [C], "cnn.fc.max" [C] and "cnn.fc.bias" [1]. */
typedef struct CnnParam {
        char name[32];
        size_t offset;       /* floats into ModelCnn.params */
        uint32_t rows, cols; /* cols 0: one-dimensional */
} CnnParam;
size_t cnn_param_layout(const CnnArch *a, CnnParam ret[CNN_PARAMS_MAX]);
static inline size_t cnn_param_count(const CnnParam *p)
{
        return (size_t)p->rows * (p->cols ? p->cols : 1);
}

typedef struct ModelCnn {
        CnnArch arch;
        size_t n_params;
        float *params;  /* owned */
        double val_auc; /* of the tower alone, on the validation posts */
} ModelCnn;

int model_cnn_new(const CnnArch *a, ModelCnn **ret); /* zeroed parameters */
ModelCnn *model_cnn_free(ModelCnn *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(ModelCnn *, model_cnn_free);

/* ---- images -------------------------------------------------------------------- */

/* Decodes each crop with libvips, resizes it to size × size RGB and writes
 * size²·3 bytes per image into rgb. status[i] gets 0 or the image's negative
 * errno (-EBADMSG for a corrupt file, -ENOENT …); its bytes are then zeros.
 * Returns 0 unless libvips cannot start (-EIO). */
int cnn_images_load(const char *const *paths, size_t n, uint32_t size, uint8_t *rgb, int *status);

/* ---- training and features ------------------------------------------------------- */

typedef struct CnnSplit {
        const uint32_t *train, *val; /* image indices */
        size_t n_train, n_val;
} CnnSplit;

typedef struct CnnTrainOptions {
        double time_budget_s;
        uint64_t seed;
        uint32_t batch_size;
        float lr, weight_decay;
        unsigned patience;        /* epochs without a better validation AUC */
        unsigned max_epochs;      /* 0: time and patience only */
        ModelProgressFn progress; /* stage MODEL_STAGE_CNN */
        void *userdata;
        const atomic_bool *cancel;
} CnnTrainOptions;

#define CNN_TRAIN_OPTIONS_DEFAULT                                                                           \
        ((CnnTrainOptions){.time_budget_s = 30,                                                             \
                           .seed = 1,                                                                       \
                           .batch_size = 32,                                                                \
                           .lr = 3e-3f,                                                                     \
                           .weight_decay = 1e-4f,                                                           \
                           .patience = 12})

/* rgb: n images of a->stored² × 3 bytes; labels: n of 0/1. Returns the
 * weights of the epoch with the best validation AUC, -ECANCELED, -ETIME when
 * not one epoch fit the budget, -EINVAL for a bad split or options. */
int cnn_train(VkEngine *e, const CnnArch *a, const uint8_t *rgb, const uint8_t *labels, size_t n,
              const CnnSplit *split, const CnnTrainOptions *o, ModelCnn **ret, Error *error);

/* n × cnn_feature_dim() features of n images (centre windows, no flip),
 * batched on the device. ret_logits: NULL or n logits of the tower's own
 * linear layer. */
int cnn_features(VkEngine *e, const ModelCnn *c, const uint8_t *rgb, size_t n, float *ret_features,
                 float *ret_logits);

/* ---- model file hooks (cnn-file.c) ------------------------------------------------- */

typedef struct json_object json_object;
/* Adds the metadata "image_tower" and "cnn" (the architecture as JSON) to
 * meta, and a second network's "cnn_b" (NULL: none). */
int model_cnn_save_metadata(const ModelCnn *c, const ModelCnn *c_b, json_object *meta);
/* Reads the CNNs of a parsed file: none (both NULL, 0 bytes) when it has
 * neither "cnn" metadata nor cnn.* tensors; otherwise every tensor must be
 * there with its shape and finite values. One CNN (a file from before the
 * cross-fitting): the head's dim features must be its features; two (cnn.*
 * and cnn_b.*): the head's CNN_HEAD_DIM feature is their logit.
 * ret_bytes: the tensor bytes they cover. -EBADMSG with error set for
 * anything else. */
int model_cnn_load(json_object *hdr, const uint8_t *data, size_t data_len, uint32_t dim, ModelCnn **ret,
                   ModelCnn **ret_b, size_t *ret_bytes, Error *error);
/* What `status` says the image tower is: the backbone, the CNN or nothing. */
const char *model_image_tower(const Model *m);

/* ---- the whole tower for a training run (cnn-dataset.c) ----------------------------- */

/* For model_train() without a backbone: ds has the one feature set
 * CNN_FEATURE_SET of CNN_HEAD_DIM features per post (overwritten here) and
 * crops[i] is post i's crop. Loads the crops, splits the posts into the
 * halves cnn_crossfit_halves() gives, trains network A on half 0 and B on
 * half 1 (each on its own train/validation split of its half, val_fraction
 * of each class, for half of budget_s seconds), and writes each post's
 * logit from the network of the other half into ds. Each network's val_auc
 * is its ROC AUC on the half it did not see. -EBADMSG (with error naming
 * the file) when a crop does not decode. */
int cnn_train_dataset(VkEngine *e, const CnnArch *a, ModelDataset *ds, const char *const *crops,
                      const ModelTrainOptions *o, double budget_s, ModelCnn **ret_a, ModelCnn **ret_b,
                      Error *error);
/* The stratified halves (half[i] 0 or 1) of n labelled posts for seed. */
int cnn_crossfit_halves(const uint8_t *labels, size_t n, uint64_t seed, uint8_t *half);

/* Features of image files for prediction: n × cnn_feature_dim(). status[i]
 * gets 0 or the image's negative errno (its features are then zeros). */
int cnn_features_of_files(VkEngine *e, const ModelCnn *c, const char *const *paths, size_t n,
                          float *ret_features, int *status);
/* The head's image features of files for model m (m->cnn set): n × m->dim,
 * the mean of its two networks' logits or, for a file from before the
 * cross-fitting, its one CNN's features. status as above. */
int model_cnn_features_of_files(VkEngine *e, const Model *m, const char *const *paths, size_t n,
                                float *ret_features, int *status);
