/* SPDX-License-Identifier: MIT */
#pragma once

/* The similarity input (issue 13): how much more a post looks like the
 * liked posts nearest to it than like the disliked ones, in the image
 * embedding. Features are standardised (mean and sd of the reference posts),
 * projected to KNN_PROJ_DIM dimensions by a fixed random ±1 matrix (Johnson–
 * Lindenstrauss: cosines are kept to about ±1/√KNN_PROJ_DIM, and the model
 * keeps KNN_PROJ_DIM floats per labelled post instead of the embedding's
 * thousands) and scaled to unit length; then
 *
 *     score = mean of the k largest cosines to liked posts
 *           − mean of the k largest cosines to disliked posts
 *
 * k is chosen by cross-validation (knn_cv), out of fold: a post's neighbours
 * come only from the other folds. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluff/util.h"
#include "rows.h"

#define KNN_PROJ_DIM 256u
/* At most this many reference posts (the newest: rows come in upload order),
 * so scoring a post costs at most KNN_MAX_REF·KNN_PROJ_DIM multiply-adds and
 * the model file at most 2 MB for them however long the history grows. */
#define KNN_MAX_REF 2000u

typedef struct Knn {
        uint32_t k;   /* neighbours per side */
        uint32_t dim; /* input features */
        uint32_t n;   /* reference posts */
        uint64_t seed;
        float *mean, *inv_std; /* dim each; inv_std 0 for constant features */
        float *ref;            /* n × KNN_PROJ_DIM, unit length */
        float *label;          /* n: 1 liked, 0 disliked (float: the model file keeps float tensors) */
        float *proj;           /* dim × KNN_PROJ_DIM, ±1/√KNN_PROJ_DIM from seed; rebuilt, not stored */
} Knn;

Knn *knn_free(Knn *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Knn *, knn_free);

/* Fits on the rows with use[i] (all rows when use is NULL; of those the
 * last KNN_MAX_REF) of features (n × dim) and labels (n, 1 like). weight (dim, may be NULL: all 1)
 * multiplies each standardised feature, so that feature sets of different
 * sizes can count alike; it is kept folded into inv_std. -EINVAL without a
 * liked and a disliked row, k = 0 or dim = 0. */
int knn_fit(const float *features, uint32_t dim, const uint8_t *labels, const uint8_t *use, size_t n,
            uint32_t k, uint64_t seed, const float *weight, Knn **ret);
/* The random projection for m->dim and m->seed (after loading a model). */
int knn_build_projection(Knn *m);
/* The score of each of n rows of features (n × m->dim) into out. */
int knn_scores(const Knn *m, const float *features, size_t n, float *out);

/* Chooses k among grid[0…n_grid) by the out-of-fold ROC AUC over the folds
 * fold[i] ∈ 0…n_folds−1 (ties: the smaller k) and writes the out-of-fold
 * scores for it into oof (n). */
int knn_cv(const float *features, uint32_t dim, const uint8_t *labels, size_t n, const uint8_t *fold,
           unsigned n_folds, const uint32_t *grid, size_t n_grid, uint64_t seed, const float *weight,
           uint32_t *ret_k, float *oof);

/* The same on rows of floats or half floats (rows.h), each read in place. */
int knn_fit_rows(const FeatureRows *x, const uint8_t *labels, const uint8_t *use, size_t n, uint32_t k,
                 uint64_t seed, const float *weight, Knn **ret);
int knn_scores_rows(const Knn *m, const FeatureRows *x, size_t n, float *out);
int knn_cv_rows(const FeatureRows *x, const uint8_t *labels, size_t n, const uint8_t *fold, unsigned n_folds,
                const uint32_t *grid, size_t n_grid, uint64_t seed, const float *weight, uint32_t *ret_k,
                float *oof);

extern const uint32_t knn_k_grid[];
extern const size_t knn_k_grid_n;
