/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>

#include "fluff/util.h"
#include "metrics.h"

/* Descending score, then ascending index: a total order, so results never
 * depend on qsort's stability. NaN sorts last. */
static int cmp_desc(const void *a, const void *b, void *ud)
{
        const float *s = ud;
        uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
        float x = s[i], y = s[j];
        bool xn = isnan(x), yn = isnan(y);

        if (xn != yn)
                return xn ? 1 : -1;
        if (!xn && x != y)
                return x > y ? -1 : 1;
        return i < j ? -1 : i > j;
}

static uint32_t *sorted_order(const float *scores, size_t n)
{
        uint32_t *o = malloc(MAX(n, (size_t)1) * sizeof(uint32_t));
        if (!o)
                return NULL;
        for (size_t i = 0; i < n; i++)
                o[i] = (uint32_t)i;
        qsort_r(o, n, sizeof(uint32_t), cmp_desc, (void *)scores);
        return o;
}

double metrics_roc_auc(const float *scores, const uint8_t *labels, size_t n)
{
        _cleanup_free_ uint32_t *o = sorted_order(scores, n);
        double n_pos = 0, n_neg = 0, wins = 0;

        if (!o)
                return NAN;
        /* Walk groups of equal scores from the top: each negative in a group
         * loses to every positive above it and ties with the group's positives. */
        double pos_above = 0;
        for (size_t i = 0; i < n;) {
                size_t j = i;
                double gp = 0, gn = 0;
                while (j < n &&
                       (scores[o[j]] == scores[o[i]] || (isnan(scores[o[j]]) && isnan(scores[o[i]])))) {
                        if (labels[o[j]])
                                gp++;
                        else
                                gn++;
                        j++;
                }
                wins += gn * (pos_above + 0.5 * gp);
                pos_above += gp;
                n_pos += gp;
                n_neg += gn;
                i = j;
        }
        if (n_pos == 0 || n_neg == 0)
                return NAN;
        return wins / (n_pos * n_neg);
}

double metrics_precision_at(const float *scores, const uint8_t *labels, size_t n, size_t k)
{
        _cleanup_free_ uint32_t *o = NULL;
        size_t hits = 0;

        if (n == 0)
                return NAN;
        o = sorted_order(scores, n);
        if (!o)
                return NAN;
        k = MIN(k, n);
        for (size_t i = 0; i < k; i++)
                hits += labels[o[i]] != 0;
        return (double)hits / (double)k;
}

void metrics_confusion(const float *scores, const uint8_t *labels, size_t n, double threshold,
                       double *ret_accuracy, double *ret_balanced_accuracy)
{
        size_t tp = 0, tn = 0, np = 0, nn = 0;

        for (size_t i = 0; i < n; i++) {
                bool like = scores[i] >= threshold;
                if (labels[i]) {
                        np++;
                        tp += like;
                } else {
                        nn++;
                        tn += !like;
                }
        }
        if (ret_accuracy)
                *ret_accuracy = n ? (double)(tp + tn) / (double)n : NAN;
        if (ret_balanced_accuracy) {
                if (np && nn)
                        *ret_balanced_accuracy = 0.5 * ((double)tp / (double)np + (double)tn / (double)nn);
                else
                        *ret_balanced_accuracy = n ? (double)(tp + tn) / (double)n : NAN;
        }
}

double metrics_choose_threshold(const float *scores, const uint8_t *labels, size_t n, double prefer)
{
        _cleanup_free_ uint32_t *o = sorted_order(scores, n);
        size_t np = 0, nn = 0, tp = 0, fp = 0;
        double best = -1, best_t = prefer;

        if (!o || n == 0)
                return prefer;
        for (size_t i = 0; i < n; i++)
                if (labels[i])
                        np++;
                else
                        nn++;
        /* Candidate cuts sit between distinct scores: everything above is a like. */
        for (size_t i = 0; i <= n;) {
                double t;
                if (i == 0)
                        t = isnan(scores[o[0]]) ? prefer
                                                : scores[o[0]] + fmax(1e-6, fabs(scores[o[0]]) * 1e-6);
                else if (i == n || isnan(scores[o[i]]))
                        t = scores[o[i - 1]] - fmax(1e-6, fabs(scores[o[i - 1]]) * 1e-6);
                else
                        t = 0.5 * ((double)scores[o[i - 1]] + (double)scores[o[i]]);
                double tpr = np ? (double)tp / (double)np : 0, tnr = nn ? (double)(nn - fp) / (double)nn : 0;
                double ba = (np && nn) ? 0.5 * (tpr + tnr) : (double)(tp + nn - fp) / (double)n;
                if (ba > best + 1e-12 ||
                    (fabs(ba - best) <= 1e-12 && fabs(t - prefer) < fabs(best_t - prefer))) {
                        best = ba;
                        best_t = t;
                }
                if (i == n || isnan(scores[o[i]]))
                        break;
                /* take the whole group of equal scores across the cut */
                size_t j = i;
                while (j < n && scores[o[j]] == scores[o[i]]) {
                        if (labels[o[j]])
                                tp++;
                        else
                                fp++;
                        j++;
                }
                i = j;
        }
        return best_t;
}

int metrics_compute(const float *scores, const uint8_t *labels, size_t n, bool choose, double threshold,
                    ModelMetrics *ret)
{
        ModelMetrics m = {};

        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (labels[i])
                        m.n_pos++;
                else
                        m.n_neg++;
        m.roc_auc = metrics_roc_auc(scores, labels, n);
        m.precision_at_10 = metrics_precision_at(scores, labels, n, 10);
        m.precision_at_50 = metrics_precision_at(scores, labels, n, 50);
        if (isnan(m.roc_auc) && m.n_pos && m.n_neg)
                return -ENOMEM; /* the only way the sort can fail */
        m.threshold = choose ? metrics_choose_threshold(scores, labels, n, threshold) : threshold;
        metrics_confusion(scores, labels, n, m.threshold, &m.accuracy, &m.balanced_accuracy);
        *ret = m;
        return 0;
}
