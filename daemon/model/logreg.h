/* SPDX-License-Identifier: MIT */
#pragma once

/* L2-regularised logistic regression on the CPU, plain C: the tags-only
 * baseline every metric is shown beside, the tag tower, the stacker and
 * Platt scaling. Rows have sparse binary features (tag ids) and/or a few
 * dense ones. Minimises
 *
 *     (1/n) Σ log(1 + exp(−y·z)) + (λ/2)·‖w‖²,   z = b + Σ w[tag] + Σ w'·dense
 *
 * (the intercept b is not penalised) by Nesterov's accelerated gradient with
 * step 1/L (L bounds the loss's curvature), so a fit is deterministic and
 * needs no tuning: a few milliseconds for a thousand posts. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluff/util.h"

typedef struct LogregData {
        size_t n;
        const uint8_t *labels; /* n: 1 like, 0 dislike */
        /* sparse binary features, may be NULL: row i has ids[offsets[i] … offsets[i+1]), < n_sparse */
        const uint32_t *offsets, *ids;
        uint32_t n_sparse;
        const float *dense; /* n × n_dense, may be NULL */
        uint32_t n_dense;
        const uint8_t *use_sparse; /* n_sparse flags, may be NULL (all used): e.g. tags seen ≥ 2 times */
} LogregData;

typedef struct Logreg {
        uint32_t n_sparse, n_dense;
        double *w; /* n_sparse + n_dense, owned */
        double bias, lambda;
} Logreg;

void logreg_done(Logreg *m);

/* Fits on rows[0…n_rows) of d (all rows when rows is NULL). -EINVAL for
 * λ < 0, no rows or ids out of range; -ENOMEM. */
int logreg_fit(const LogregData *d, const uint32_t *rows, size_t n_rows, double lambda, Logreg *ret);
/* The same, starting from init's weights (NULL or another shape: from zero):
 * a warm start along a λ path converges in a fraction of the iterations. */
int logreg_fit_from(const LogregData *d, const uint32_t *rows, size_t n_rows, double lambda,
                    const Logreg *init, Logreg *ret);
/* The logit of row i of d (ids ≥ n_sparse are ignored: unknown tags). */
double logreg_logit(const Logreg *m, const LogregData *d, size_t i);

/* Chooses λ among grid[0…n_grid) by the out-of-fold log loss over the folds
 * fold[i] ∈ 0…k−1 of every row (ties: the larger λ), fits each fold's model
 * with it and writes the out-of-fold logits (oof, n). *ret_lambda gets λ.
 * Rows with fold[i] ≥ k are left out of fitting and scoring (oof NaN).
 * Each fold's fit starts from its fit at the previous λ. deadline (seconds
 * on CLOCK_MONOTONIC; INFINITY: none): the grid's first λ is always tried,
 * the next ones only while time is left, so the search keeps to a share of
 * a training's budget on any machine. */
int logreg_cv(const LogregData *d, const uint8_t *fold, unsigned k, const double *grid, size_t n_grid,
              double deadline, double *ret_lambda, float *oof);

/* The default λ grid for tags: 3e-4 … 0.3. */
extern const double logreg_lambda_grid[];
extern const size_t logreg_lambda_grid_n;
