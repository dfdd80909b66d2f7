/* SPDX-License-Identifier: MIT */
#pragma once

/* Honest metrics of a model, and what is stored about them in the model file
 * (issues 13 and 14): pooled K-fold cross-validation with an out-of-fold
 * prediction for every labelled post, bootstrap confidence intervals,
 * calibration (Platt scaling on out-of-fold logits) and a time-based check,
 * each beside the same numbers of a tags-only L2 logistic regression fitted
 * on the same folds (the baseline).
 *
 * The model file's metadata key "quality" holds model_quality_to_json()'s
 * object as a JSON string (safetensors metadata values are strings):
 *
 *   {"version": 1,
 *    "folds": 5, "n": 1060, "n_pos": 650, "n_neg": 410,
 *    "threshold": 0.5,                 like when P(like) ≥ this
 *    "combination": "stack",           which of the towers' combinations CV chose:
 *                                      "tags", "head" or "stack"
 *    "cv": {"model": S, "baseline": S, "towers": {"tags": S, "head": S, "knn": S}},
 *    "time": {"n_train": 848, "n_test": 212, "model": S, "baseline": S},
 *    "calibration": {"method": "platt" or "isotonic", "a": 1.02, "b": -0.03,
 *                    "brier": 0.21, "ece": 0.03, "ece_floor": 0.025, "ece_bins": 10,
 *                    "brier_platt": 0.21, "brier_isotonic": 0.22,
 *                    "bins": [{"lo": 0, "hi": 0.1, "n": 12, "mean_prob": 0.07,
 *                              "frac_like": 0.08}, … 10 bins]},
 *    "baseline": {"kind": "tags-l2-logreg", "min_count": 2, "tags": 467, "lambda": 0.01},
 *    "stability": {"flip_rate": 0.03, "posts": 1060, "against": "2026-12-05T23:00:00Z"}}
 *
 * "stability" (only when measured: the train job, against the model that
 * was installed when it started): the share of the labelled posts whose
 * like/dislike label (at each model's like threshold) differs between that
 * model and this one, and the installed model's creation date.
 *
 * where each S (scores of out-of-fold, calibrated probabilities) is
 *
 *   {"roc_auc": 0.71, "roc_auc_ci": [0.68, 0.74], "pr_auc": 0.78,
 *    "pr_auc_ci": [0.75, 0.81], "brier": 0.21, "log_loss": 0.61, "ece": 0.03, "ece_floor": 0.025,
 *    "precision_at": {"10": 0.9, "50": 0.8}, "n_pos": 650, "n_neg": 410}
 *
 * "ece" is over the reliability table's "ece_bins" equal-width bins, with
 * its sampling-noise floor beside it (quality_ece_floor: the ECE a perfectly
 * calibrated score would show on these posts). Files written before
 * "ece_floor" carry none.
 *
 * CIs are 95 % percentile bootstrap intervals over posts; precision@k is
 * present only for k ≤ a quarter of the posts scored; a missing number
 * (one class absent, a tower not trained) is null or left out. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUALITY_VERSION 1
#define QUALITY_FOLDS_DEFAULT 5
#define QUALITY_BOOTSTRAP 200
#define QUALITY_BINS 10
/* The sampling-noise floor of the calibration error (ECE) is the mean over
 * this many simulated label sets (quality_ece_floor). */
#define QUALITY_ECE_DRAWS 200
#define QUALITY_TIME_TEST_FRACTION 0.2
#define QUALITY_BASELINE_MIN_COUNT 2

/* One scorer's numbers on posts it was not trained on. */
typedef struct QualityScores {
        double roc_auc, roc_auc_lo, roc_auc_hi;
        double pr_auc, pr_auc_lo, pr_auc_hi; /* average precision */
        double brier, log_loss, ece;
        double ece_floor; /* what ece a perfectly calibrated score would show here, on average */
        double precision_at_10, precision_at_50; /* NaN unless k ≤ n/4 */
        uint32_t n_pos, n_neg;                   /* 0 and 0: not measured */
} QualityScores;

typedef struct QualityBin {
        double lo, hi, mean_prob, frac_like; /* NaN means when n == 0 */
        uint32_t n;
} QualityBin;

#define QUALITY_KNOTS_MAX 256

/* A calibration map from a logit to P(like). */
typedef struct QualityCalibrator {
        char method[16]; /* "platt", "isotonic"; "" when not calibrated */
        double a, b;     /* platt: P = σ(a·logit + b) */
        /* isotonic: knots (x ascending, y non-decreasing in [0.01, 0.99]),
         * linear between them, constant beyond the ends */
        uint32_t n_knots;
        float knot_x[QUALITY_KNOTS_MAX], knot_y[QUALITY_KNOTS_MAX];
} QualityCalibrator;

typedef struct QualityCalibration {
        char method[16];                    /* the chosen calibrator's method */
        double a, b;                        /* platt's numbers (also kept when isotonic was chosen) */
        double brier, ece;                  /* of the cross-fitted calibrated out-of-fold probabilities */
        double ece_floor;                   /* quality_ece_floor() of those probabilities */
        double brier_platt, brier_isotonic; /* what chose the method */
        QualityBin bins[QUALITY_BINS];
} QualityCalibration;

typedef struct ModelQuality {
        uint32_t version; /* 0: nothing measured */
        uint32_t folds, n, n_pos, n_neg;
        double threshold;
        char combination[16];
        QualityScores model, baseline, tower_tags, tower_head;
        QualityScores tower_knn; /* the similarity input alone (knn.h), when measured */
        uint32_t time_n_train, time_n_test;
        QualityScores time_model, time_baseline;
        QualityCalibration calibration;
        uint32_t baseline_min_count, baseline_tags;
        double baseline_lambda;
        uint32_t flip_posts; /* 0: stability not measured */
        double flip_rate;
        char flip_against[32]; /* the other model's creation date */
} ModelQuality;

/* Stratified: fold[i] ∈ 0…k−1, each fold with the same share of each class
 * (±1), shuffled with seed. -EINVAL for k < 2 or k > 255. */
int quality_folds(const uint8_t *labels, size_t n, unsigned k, uint64_t seed, uint8_t *fold);

/* Average precision (area under the precision–recall curve, step-wise, ties
 * as one step). NaN without likes. */
double quality_pr_auc(const float *scores, const uint8_t *labels, size_t n);

/* Every number of QualityScores for probabilities prob (n_boot resamples for
 * the CIs; 0: no CIs, NaN). -EINVAL for n == 0, -ENOMEM. */
int quality_scores(const float *prob, const uint8_t *labels, size_t n, unsigned n_boot, uint64_t seed,
                   QualityScores *ret);

/* Reliability table over QUALITY_BINS equal-width bins, and the expected
 * calibration error Σ n_b/n·|mean_prob_b − frac_like_b| over those bins (what
 * the table shows; quality_ece_floor() says how much of it noise alone gives). */
void quality_reliability(const float *prob, const uint8_t *labels, size_t n, QualityBin bins[QUALITY_BINS],
                         double *ret_ece);

/* The sampling-noise floor of quality_reliability()'s ECE for these
 * probabilities: the mean ECE, over the same bins, of QUALITY_ECE_DRAWS label
 * sets drawn as Bernoulli(prob[i]), i.e. what a perfectly calibrated score
 * shows on this many posts. A binned ECE is never 0 on a finite sample: each
 * bin's like fraction is a sample mean, off by about √(p(1−p)/n_b), so the
 * floor is ≈ √(2/π)·Σ n_b/n·√(p_b(1−p_b)/n_b): about 0.05 for 263 posts,
 * 0.025 for 1,000 spread over the middle bins (test-model-quality). An ECE
 * can only be told apart from noise above it, and a bar (0.05) only tested
 * on posts enough to hold the floor well under it. seed fixes the draws;
 * NaN probabilities are left out. -EINVAL when none is left. */
int quality_ece_floor(const float *prob, size_t n, uint64_t seed, double *ret_floor);

/* Platt scaling: a, b of σ(a·logit + b) by maximum likelihood on (logit,
 * label) pairs, with Platt's target smoothing ((n₊+1)/(n₊+2) and
 * 1/(n₋+2)) so a separable set does not give an infinite slope. */
int quality_platt(const float *logits, const uint8_t *labels, size_t n, double *ret_a, double *ret_b);

/* Isotonic regression (pool adjacent violators) of labels on logits, as
 * knots; -E2BIG when more than QUALITY_KNOTS_MAX blocks remain. */
int quality_isotonic(const float *logits, const uint8_t *labels, size_t n, QualityCalibrator *ret);
int quality_fit_calibrator(const char *method, const float *logits, const uint8_t *labels, size_t n,
                           QualityCalibrator *ret);
double quality_calibrator_apply(const QualityCalibrator *c, double logit);

/* Chooses and fits the calibration of out-of-fold logits. Each method is
 * cross-fitted on the folds (fitted on the other folds' posts, applied to
 * the fold's), so the reliability table, Brier score and ECE in c are
 * honest, and the method with the lower cross-fitted Brier score is kept
 * (Platt on ties: two parameters). *ret_cal is the chosen method fitted on
 * every post; prob (n) gets the cross-fitted calibrated probabilities. With
 * fold NULL, Platt only, fitted and scored on all posts. */
int quality_calibrate(const float *logits, const uint8_t *labels, size_t n, const uint8_t *fold, unsigned k,
                      QualityCalibration *c, QualityCalibrator *ret_cal, float *prob);

/* The share of posts whose label (P ≥ threshold) differs between two runs. */
double quality_flip_rate(const float *p1, const float *p2, size_t n, double threshold);

json_object *model_quality_to_json(const ModelQuality *q);
/* Reads what model_quality_to_json wrote; -EBADMSG when it is not that. */
int model_quality_from_json(json_object *o, ModelQuality *q);
