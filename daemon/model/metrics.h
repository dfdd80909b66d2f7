/* SPDX-License-Identifier: MIT */
#pragma once

/* Honest metrics of a binary classifier on held-out posts, plain C.
 *
 * scores: any monotone score (probability or logit); labels: 1 like, 0 dislike.
 * ROC AUC is the Mann-Whitney statistic with tied scores counted as half a win
 * (average ranks), so it does not depend on the order of equal scores. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ModelMetrics {
        double roc_auc;           /* NaN when one class is missing */
        double accuracy;          /* at threshold: score ≥ threshold → like */
        double balanced_accuracy; /* mean of the true positive and true negative rates */
        double precision_at_10;   /* fraction of likes among the 10 best-scored (all when fewer) */
        double precision_at_50;
        double threshold;
        uint32_t n_pos, n_neg; /* the posts the metrics were computed on */
} ModelMetrics;

/* Returns NaN when there is no post of one class. */
double metrics_roc_auc(const float *scores, const uint8_t *labels, size_t n);
/* Fraction of likes among the k highest scores (ties broken by index, lowest
 * first, so the result is reproducible); k > n uses n. NaN when n == 0. */
double metrics_precision_at(const float *scores, const uint8_t *labels, size_t n, size_t k);
void metrics_confusion(const float *scores, const uint8_t *labels, size_t n, double threshold,
                       double *ret_accuracy, double *ret_balanced_accuracy);
/* The threshold (a midpoint between adjacent distinct scores, or below/above
 * them all) maximising balanced accuracy; among equals the one closest to
 * `prefer` (e.g. 0.5 for probabilities). Balanced accuracy rather than F1 or
 * plain accuracy: likes and dislikes are rarely balanced in a user's votes, it
 * weights both kinds of mistake equally (as the class-weighted loss does), and
 * it does not depend on which class is called positive. */
double metrics_choose_threshold(const float *scores, const uint8_t *labels, size_t n, double prefer);
/* All of the above; the threshold is chosen here when choose is set, else
 * `threshold` is used. -EINVAL for n == 0, -ENOMEM. */
int metrics_compute(const float *scores, const uint8_t *labels, size_t n, bool choose, double threshold,
                    ModelMetrics *ret);
