/* SPDX-License-Identifier: MIT */
#pragma once

/* The pretrained image backbone: nsfwjs's MobileNetV2 (224×224 RGB input,
 * 5-class head), imported once from the npm package into Fluff's own weight
 * file, then run to classify an image or to embed it.
 *
 * Input pixels are float32 NHWC [n][224][224][3], RGB, scaled to [0, 1]
 * (x / 255), which is what nsfwjs feeds the network.
 *
 * The embedding is multi-depth, because the last layers are specialised to
 * the five NSFW classes and mid-depth features carry more general content:
 * for each feature set, the mean over h×w of every channel followed by the max
 * over h×w of every channel (2·c floats). All sets are concatenated in the
 * order of BackboneFeatureSet, BACKBONE_EMBED_DIM floats per image. */

#include <stdatomic.h>

#include "fluff/error.h"
#include "fluff/util.h"

#define BACKBONE_INPUT_SIZE 224u
#define BACKBONE_INPUT_FLOATS ((size_t)BACKBONE_INPUT_SIZE * BACKBONE_INPUT_SIZE * 3)
#define BACKBONE_N_CLASSES 5u

typedef struct Backbone Backbone;

typedef enum BackboneFeatureSet {
        BACKBONE_FEAT_B12_OUT,     /* block 12 output (residual add), 14×14×96 → 192 */
        BACKBONE_FEAT_B13_EXPAND,  /* block 13 expansion after ReLU6, 14×14×576 → 1152 */
        BACKBONE_FEAT_B16_PROJECT, /* block 16 projection (linear bottleneck), 7×7×320 → 640 */
        BACKBONE_FEAT_FINAL,       /* top 1×1 conv after ReLU6, 7×7×1280 → 2560 */
        _BACKBONE_FEAT_MAX,
        _BACKBONE_FEAT_INVALID = -EINVAL,
} BackboneFeatureSet;

typedef struct BackboneFeatureInfo {
        const char *name;  /* stable, used as a cache key: "b13_expand" */
        const char *layer; /* the Keras layer whose output is pooled */
        unsigned h, w, c;  /* that output's shape */
        unsigned dim;      /* 2·c: mean then max */
        unsigned offset;   /* where the set starts in the concatenated embedding */
} BackboneFeatureInfo;

#define BACKBONE_EMBED_DIM (192u + 1152u + 640u + 2560u)

const BackboneFeatureInfo *backbone_feature_info(BackboneFeatureSet f);
BackboneFeatureSet backbone_feature_from_string(const char *s);
extern const char *const backbone_class_names[BACKBONE_N_CLASSES]; /* Drawing, Hentai, Neutral, Porn, Sexy */

/* Reads the nsfwjs package at src_path (the .tgz from `npm pack nsfwjs@4.4.0`,
 * or its unpacked folder), checks and converts it, and writes the weight file
 * to dest_path atomically (the previous file stays untouched on any failure).
 * ret_id (optional) gets the backbone id: SHA-256 hex of the source weights and
 * topology. On failure error (may be NULL) gets one sentence naming what is
 * wrong with the package; nothing is logged above debug level. */
int backbone_import(const char *src_path, const char *dest_path, char **ret_id, Error *error);
/* The same for a package tarball a caller opened (fd, not closed; a regular
 * file, else -EBADF); name is how messages call it. cancel (may be NULL) is
 * polled while the archive is decompressed: once true the import stops with
 * -ECANCELED. */
int backbone_import_fd(int fd, const char *name, const char *dest_path, const atomic_bool *cancel,
                       char **ret_id, Error *error);

/* Loads and checks a weight file written by backbone_import(). */
int backbone_load(const char *path, Backbone **ret, Error *error);
Backbone *backbone_free(Backbone *bb);
DEFINE_TRIVIAL_CLEANUP_FUNC(Backbone *, backbone_free);
const char *backbone_id(const Backbone *bb);
const char *backbone_source_version(const Backbone *bb);

/* The plain C reference forward pass: n images in, n×5 class probabilities
 * (softmax) and/or n×BACKBONE_EMBED_DIM embedding floats out; either output
 * may be NULL. It only reads bb, so several threads may run it at once. */
int backbone_forward_ref(const Backbone *bb, const float *pixels, size_t n, float *ret_probs,
                         float *ret_embed);
int backbone_classify_ref(const Backbone *bb, const float *pixels, size_t n, float *ret_probs);
int backbone_embed_ref(const Backbone *bb, const float *pixels, size_t n, float *ret_embed);

/* Decodes an image file with libvips, crops the centre square and resizes it
 * to 224×224, and writes BACKBONE_INPUT_FLOATS floats scaled to [0, 1]. For
 * Fluff's stored square crops this is just the resize nsfwjs would do. */
int backbone_image_load(const char *path, float *ret_pixels);
/* The 224×224×3 uint8 RGB pixels before that scaling. The file is read as
 * daemon/images reads a caller's file (image_read_fd: a regular file only,
 * opened without blocking, at most the default byte and pixel limits, one of
 * the four image types by its magic bytes) before libvips decodes it. */
int backbone_image_load_rgb8(const char *path, uint8_t *ret_rgb);
/* The same from an image already in memory (checked the same way). */
int backbone_image_decode_rgb8(const void *data, size_t size, uint8_t *ret_rgb);
/* The same from a descriptor a caller opened (ClassifyImageFd). */
int backbone_image_load_fd(int fd, float *ret_pixels, char **ret_reason);
/* The same normalisation for 224×224×3 uint8 RGB already in memory. */
void backbone_pixels_from_rgb8(const uint8_t *rgb, float *ret_pixels);

/* The graph, for the Vulkan engine and the fine-tuning code (see graph.h). */
struct BbGraph;
const struct BbGraph *backbone_graph(const Backbone *bb);
