/* SPDX-License-Identifier: MIT */
#pragma once

/* Views of the training images for fine-tuning the backbone's last layer
 * (ModelFinetuneData in model.h): each image through the whole backbone
 * once plain and then, while time and memory allow, in augmented rounds
 * (random crop and flip on the device), keeping per view the activations
 * entering the layer (as half floats) and the embedding of every feature
 * set. The layer is the top 1×1 conv, whose output is the "final" set. */

#include <stdatomic.h>

#include "backbone-vk.h"
#include "model.h"
#include "fluff/util.h"

/* The crop window of an augmented view: 192 of 224 pixels a side. */
#define FT_VIEW_CROP 192u

typedef struct FtViews {
        size_t n;         /* images */
        uint32_t n_views; /* per image; view 0 plain */
        uint32_t hw, cin, cout;
        unsigned node, input; /* the layer's graph node and the node feeding it */
        const char *set;      /* the feature set it computes: "final" */
        const char *node_name;
        const float *weight, *bias; /* the backbone's, borrowed from it */
        uint16_t *act;              /* n × n_views × hw·cin, owned */
        float *features;            /* n × n_views × BACKBONE_EMBED_DIM, owned */
        double seconds_per_round;
} FtViews;

FtViews *ft_views_free(FtViews *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(FtViews *, ft_views_free);

/* The layer of bb that fine-tuning trains, as a graph node index; -ENOENT
 * when the backbone has no such layer (another network). */
int ft_views_layer(const Backbone *bb, unsigned *ret_node, unsigned *ret_input);

/* paths: n image files (as the Embed job reads them). Up to max_views views
 * each, and no more than max_bytes of activations; augmented rounds start
 * only while CLOCK_MONOTONIC is before deadline_usec and one more round is
 * expected to finish by then. The plain round always runs. Returns -EIO
 * naming no file when an image does not decode (ret_bad gets its index),
 * -ECANCELED when *cancel turns true. bb must outlive the result. */
int ft_views_compute(VkEngine *e, const Backbone *bb, const char *const *paths, size_t n, uint32_t max_views,
                     size_t max_bytes, uint32_t seed, uint64_t deadline_usec, uint64_t plain_deadline_usec,
                     const atomic_bool *cancel, FtViews **ret, size_t *ret_bad);

/* What the Train job calls: with a budget of at least FT_MIN_BUDGET_S, the
 * views of paths (one per dataset post, in the dataset's order): the plain
 * round within FT_PLAIN_SHARE of the budget, augmented rounds while they
 * fit in FT_VIEWS_SHARE and in max_bytes (at most FT_VIEWS_MAX_BYTES), and
 * ret_fd filled to point into them (the caller gives model_train the rest
 * of the budget). -EOPNOTSUPP for a short budget, -ETIME when the plain
 * views alone do not fit the time, -E2BIG when they do not fit max_bytes
 * (nothing is computed then), -EIO for an image that does not decode (each
 * logged); ret_fd borrows from *ret_views and bb. */
#define FT_MIN_BUDGET_S 90.0
#define FT_VIEWS_SHARE 0.3
#define FT_PLAIN_SHARE 0.4
#define FT_MAX_VIEWS 8u
#define FT_VIEWS_MAX_BYTES ((size_t)512 << 20)
#define FT_TRAIN_SHARE 0.4
#define FT_LR 2e-4f
#define FT_PATIENCE 20u
int ft_prepare(VkEngine *e, const Backbone *bb, const char *const *paths, size_t n, double budget_s,
               size_t max_bytes, uint32_t seed, const atomic_bool *cancel, FtViews **ret_views,
               ModelFinetuneData *ret_fd);
