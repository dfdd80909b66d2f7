/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fluff/util.h"
#include "metrics.h"
#include "quality.h"

/* splitmix64: small, seedable, the same on every platform */
static uint64_t next(uint64_t *s)
{
        uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

int quality_folds(const uint8_t *labels, size_t n, unsigned k, uint64_t seed, uint8_t *fold)
{
        _cleanup_free_ uint32_t *idx = malloc(MAX(n, (size_t)1) * sizeof(uint32_t));
        uint64_t s = seed;
        unsigned start = 0;

        if (k < 2 || k > 255)
                return -EINVAL;
        if (!idx)
                return -ENOMEM;
        for (int c = 1; c >= 0; c--) {
                size_t m = 0;
                for (size_t i = 0; i < n; i++)
                        if ((labels[i] != 0) == c)
                                idx[m++] = (uint32_t)i;
                for (size_t i = m; i > 1; i--) {
                        size_t j = next(&s) % i;
                        uint32_t t = idx[i - 1];
                        idx[i - 1] = idx[j];
                        idx[j] = t;
                }
                /* deal round-robin, the second class continuing where the first stopped */
                for (size_t i = 0; i < m; i++)
                        fold[idx[i]] = (uint8_t)((start + i) % k);
                start = (unsigned)((start + m) % k);
        }
        return 0;
}

typedef struct Scored {
        float s;
        uint8_t y;
} Scored;

static int cmp_scored_desc(const void *a, const void *b)
{
        float x = ((const Scored *)a)->s, y = ((const Scored *)b)->s;
        return (x < y) - (x > y);
}

double quality_pr_auc(const float *scores, const uint8_t *labels, size_t n)
{
        _cleanup_free_ Scored *v = malloc(MAX(n, (size_t)1) * sizeof(Scored));
        double pos = 0, tp = 0, ap = 0;
        size_t seen = 0;

        if (!v)
                return NAN;
        for (size_t i = 0; i < n; i++) {
                v[i] = (Scored){isnan(scores[i]) ? -INFINITY : scores[i], labels[i] != 0};
                pos += v[i].y;
        }
        if (pos == 0)
                return NAN;
        qsort(v, n, sizeof(Scored), cmp_scored_desc);
        for (size_t i = 0; i < n;) {
                size_t j = i;
                double gp = 0;
                while (j < n && v[j].s == v[i].s) {
                        gp += v[j].y;
                        j++;
                }
                tp += gp;
                seen = j;
                ap += (gp / pos) * (tp / (double)seen);
                i = j;
        }
        return ap;
}

/* the reliability table's bin of p */
static int bin_of(float p)
{
        int b = (int)(p * QUALITY_BINS);
        return CLAMP(b, 0, QUALITY_BINS - 1);
}

void quality_reliability(const float *prob, const uint8_t *labels, size_t n, QualityBin bins[QUALITY_BINS],
                         double *ret_ece)
{
        double sp[QUALITY_BINS] = {0}, sy[QUALITY_BINS] = {0}, ece = 0;
        uint32_t cnt[QUALITY_BINS] = {0};
        size_t used = 0;

        for (size_t i = 0; i < n; i++) {
                if (isnan(prob[i]))
                        continue;
                int b = bin_of(prob[i]);
                sp[b] += prob[i];
                sy[b] += labels[i] != 0;
                cnt[b]++;
                used++;
        }
        for (int b = 0; b < QUALITY_BINS; b++) {
                bins[b] = (QualityBin){.lo = (double)b / QUALITY_BINS,
                                       .hi = (double)(b + 1) / QUALITY_BINS,
                                       .n = cnt[b],
                                       .mean_prob = cnt[b] ? sp[b] / cnt[b] : NAN,
                                       .frac_like = cnt[b] ? sy[b] / cnt[b] : NAN};
                if (cnt[b])
                        ece += (double)cnt[b] / (double)used * fabs(bins[b].mean_prob - bins[b].frac_like);
        }
        if (ret_ece)
                *ret_ece = used ? ece : NAN;
}

int quality_ece_floor(const float *prob, size_t n, uint64_t seed, double *ret_floor)
{
        uint64_t s = seed ^ 0x2545f4914f6cdd1dULL;
        double total = 0;
        size_t used = 0;

        for (size_t i = 0; i < n; i++)
                used += !isnan(prob[i]);
        if (used == 0)
                return -EINVAL;
        for (unsigned d = 0; d < QUALITY_ECE_DRAWS; d++) {
                /* Σ_b n_b/n·|mean_prob_b − frac_like_b| = Σ_b |Σ_{i∈b} (p_i − y_i)| / n */
                double diff[QUALITY_BINS] = {0}, e = 0;
                for (size_t i = 0; i < n; i++) {
                        if (isnan(prob[i]))
                                continue;
                        double p = CLAMP((double)prob[i], 0.0, 1.0),
                               u = (double)(next(&s) >> 11) * 0x1.0p-53;
                        diff[bin_of(prob[i])] += p - (u < p);
                }
                for (int b = 0; b < QUALITY_BINS; b++)
                        e += fabs(diff[b]);
                total += e / (double)used;
        }
        *ret_floor = total / QUALITY_ECE_DRAWS;
        return 0;
}

static void percentile_ci(double *v, size_t n, double *lo, double *hi)
{
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
                if (!isnan(v[i]))
                        v[m++] = v[i];
        if (m == 0) {
                *lo = *hi = NAN;
                return;
        }
        /* insertion sort: a few hundred values */
        for (size_t i = 1; i < m; i++)
                for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
                        double t = v[j];
                        v[j] = v[j - 1];
                        v[j - 1] = t;
                }
        *lo = v[(size_t)floor(0.025 * (double)(m - 1))];
        *hi = v[(size_t)ceil(0.975 * (double)(m - 1))];
}

int quality_scores(const float *prob, const uint8_t *labels, size_t n, unsigned n_boot, uint64_t seed,
                   QualityScores *ret)
{
        QualityScores q = {.roc_auc_lo = NAN, .roc_auc_hi = NAN, .pr_auc_lo = NAN, .pr_auc_hi = NAN};
        double brier = 0, ll = 0;
        QualityBin bins[QUALITY_BINS];

        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                double p = CLAMP((double)prob[i], 1e-7, 1 - 1e-7), y = labels[i] != 0;
                brier += (prob[i] - y) * (prob[i] - y);
                ll -= y ? log(p) : log(1 - p);
                q.n_pos += labels[i] != 0;
        }
        q.n_neg = (uint32_t)n - q.n_pos;
        q.brier = brier / (double)n;
        q.log_loss = ll / (double)n;
        q.roc_auc = metrics_roc_auc(prob, labels, n);
        q.pr_auc = quality_pr_auc(prob, labels, n);
        quality_reliability(prob, labels, n, bins, &q.ece);
        int r = quality_ece_floor(prob, n, seed, &q.ece_floor);
        if (r < 0)
                return r;
        q.precision_at_10 = 10 <= n / 4 ? metrics_precision_at(prob, labels, n, 10) : NAN;
        q.precision_at_50 = 50 <= n / 4 ? metrics_precision_at(prob, labels, n, 50) : NAN;

        if (n_boot > 0) {
                _cleanup_free_ float *bp = malloc(n * sizeof(float));
                _cleanup_free_ uint8_t *by = malloc(n);
                _cleanup_free_ double *roc = malloc(n_boot * sizeof(double)),
                                      *pr = malloc(n_boot * sizeof(double));
                uint64_t s = seed ^ 0x5bd1e995u;
                if (!bp || !by || !roc || !pr)
                        return -ENOMEM;
                for (unsigned b = 0; b < n_boot; b++) {
                        for (size_t i = 0; i < n; i++) {
                                size_t j = next(&s) % n;
                                bp[i] = prob[j];
                                by[i] = labels[j];
                        }
                        roc[b] = metrics_roc_auc(bp, by, n);
                        pr[b] = quality_pr_auc(bp, by, n);
                }
                percentile_ci(roc, n_boot, &q.roc_auc_lo, &q.roc_auc_hi);
                percentile_ci(pr, n_boot, &q.pr_auc_lo, &q.pr_auc_hi);
        }
        *ret = q;
        return 0;
}

int quality_platt(const float *logits, const uint8_t *labels, size_t n, double *ret_a, double *ret_b)
{
        double np = 0, nn = 0, a = 0, b, f = 0;

        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                np += labels[i] != 0;
        nn = (double)n - np;
        double tp = (np + 1) / (np + 2), tn = 1 / (nn + 2);
        b = log((np + 1) / (nn + 1));

        /* Newton's method with backtracking (Lin, Lin & Weng 2007) */
#define PLATT_F(A, B, OUT)                                                                                  \
        do {                                                                                                \
                OUT = 0;                                                                                    \
                for (size_t i = 0; i < n; i++) {                                                            \
                        double z = (A)*logits[i] + (B), t = labels[i] ? tp : tn;                            \
                        OUT += z >= 0 ? t * -z + log1p(exp(-z)) + z : -t * z + log1p(exp(z));               \
                }                                                                                           \
        } while (0)
        /* −[t·log σ(z) + (1−t)·log(1−σ(z))] = log(1+e^z) − t·z */
        PLATT_F(a, b, f);
        for (int it = 0; it < 100; it++) {
                double h11 = 1e-12, h22 = 1e-12, h21 = 0, g1 = 0, g2 = 0;
                for (size_t i = 0; i < n; i++) {
                        double z = a * logits[i] + b, t = labels[i] ? tp : tn;
                        double p = z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)), d = p * (1 - p);
                        h11 += (double)logits[i] * logits[i] * d;
                        h22 += d;
                        h21 += (double)logits[i] * d;
                        g1 += (double)logits[i] * (p - t);
                        g2 += p - t;
                }
                if (fabs(g1) < 1e-9 && fabs(g2) < 1e-9)
                        break;
                double det = h11 * h22 - h21 * h21;
                double da = -(h22 * g1 - h21 * g2) / det, db = -(-h21 * g1 + h11 * g2) / det;
                double gd = g1 * da + g2 * db, step = 1, nf = 0;
                while (step >= 1e-10) {
                        PLATT_F(a + step * da, b + step * db, nf);
                        if (nf < f + 1e-4 * step * gd)
                                break;
                        step /= 2;
                }
                if (step < 1e-10)
                        break;
                a += step * da;
                b += step * db;
                f = nf;
        }
#undef PLATT_F
        *ret_a = a;
        *ret_b = b;
        return isfinite(a) && isfinite(b) ? 0 : -ERANGE;
}

typedef struct Pt {
        float x;
        uint8_t y;
} Pt;

static int cmp_pt(const void *a, const void *b)
{
        float x = ((const Pt *)a)->x, y = ((const Pt *)b)->x;
        return (x > y) - (x < y);
}

int quality_isotonic(const float *logits, const uint8_t *labels, size_t n, QualityCalibrator *ret)
{
        _cleanup_free_ Pt *p = malloc(MAX(n, (size_t)1) * sizeof(Pt));
        _cleanup_free_ double *sx = malloc(MAX(n, (size_t)1) * sizeof(double)),
                              *sy = malloc(MAX(n, (size_t)1) * sizeof(double)),
                              *w = malloc(MAX(n, (size_t)1) * sizeof(double));
        size_t m = 0;

        if (n == 0)
                return -EINVAL;
        if (!p || !sx || !sy || !w)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                p[i] = (Pt){logits[i], labels[i] != 0};
        qsort(p, n, sizeof(Pt), cmp_pt);
        /* pool adjacent violators; equal logits start in one block */
        for (size_t i = 0; i < n; i++) {
                if (m > 0 && p[i].x == p[i - 1].x) {
                        sx[m - 1] += p[i].x;
                        sy[m - 1] += p[i].y;
                        w[m - 1] += 1;
                } else {
                        sx[m] = p[i].x;
                        sy[m] = p[i].y;
                        w[m] = 1;
                        m++;
                }
                while (m > 1 && sy[m - 2] / w[m - 2] >= sy[m - 1] / w[m - 1]) {
                        sx[m - 2] += sx[m - 1];
                        sy[m - 2] += sy[m - 1];
                        w[m - 2] += w[m - 1];
                        m--;
                }
        }
        /* PAV leaves the extremes as tiny blocks of all likes or all
         * dislikes (a probability of 0 or 1 from a handful of posts): merge
         * every block of fewer than min_w posts into a neighbour, the
         * smaller one, and the result stays monotone (a merged mean lies
         * between the two). */
        double min_w = MAX(5.0, (double)n / 100);
        for (bool merged = true; merged && m > 1;) {
                merged = false;
                for (size_t j = 0; j < m; j++) {
                        if (w[j] >= min_w)
                                continue;
                        size_t a = j == 0 ? 0 : j == m - 1 ? j - 1 : (w[j - 1] <= w[j + 1] ? j - 1 : j);
                        sx[a] += sx[a + 1];
                        sy[a] += sy[a + 1];
                        w[a] += w[a + 1];
                        memmove(sx + a + 1, sx + a + 2, (m - a - 2) * sizeof(double));
                        memmove(sy + a + 1, sy + a + 2, (m - a - 2) * sizeof(double));
                        memmove(w + a + 1, w + a + 2, (m - a - 2) * sizeof(double));
                        m--;
                        merged = true;
                        break;
                }
        }
        if (m > QUALITY_KNOTS_MAX)
                return -E2BIG;
        *ret = (QualityCalibrator){.method = "isotonic", .n_knots = (uint32_t)m};
        for (size_t j = 0; j < m; j++) {
                ret->knot_x[j] = (float)(sx[j] / w[j]);
                ret->knot_y[j] = (float)CLAMP(sy[j] / w[j], 0.01, 0.99);
        }
        return 0;
}

double quality_calibrator_apply(const QualityCalibrator *c, double z)
{
        if (streq(c->method, "isotonic") && c->n_knots > 0) {
                const float *x = c->knot_x, *y = c->knot_y;
                uint32_t lo = 0, hi = c->n_knots - 1;
                if (z <= x[0])
                        return y[0];
                if (z >= x[hi])
                        return y[hi];
                while (hi - lo > 1) {
                        uint32_t mid = (lo + hi) / 2;
                        if (x[mid] <= z)
                                lo = mid;
                        else
                                hi = mid;
                }
                double t = x[hi] > x[lo] ? (z - x[lo]) / (x[hi] - x[lo]) : 0;
                return y[lo] + t * (y[hi] - y[lo]);
        }
        double s = c->a * z + c->b;
        return s >= 0 ? 1 / (1 + exp(-s)) : exp(s) / (1 + exp(s));
}

int quality_fit_calibrator(const char *method, const float *logits, const uint8_t *labels, size_t n,
                           QualityCalibrator *ret)
{
        if (streq(method, "isotonic"))
                return quality_isotonic(logits, labels, n, ret);
        *ret = (QualityCalibrator){.method = "platt"};
        return quality_platt(logits, labels, n, &ret->a, &ret->b);
}

static double brier_of(const float *p, const uint8_t *y, size_t n)
{
        double s = 0;
        for (size_t i = 0; i < n; i++)
                s += (p[i] - (y[i] != 0)) * (p[i] - (y[i] != 0));
        return s / (double)MAX(n, (size_t)1);
}

/* prob[i] for rows of fold f from the method fitted on the other folds */
static int cross_fit(const char *method, const float *logits, const uint8_t *labels, size_t n,
                     const uint8_t *fold, unsigned k, float *prob)
{
        _cleanup_free_ float *x = malloc(n * sizeof(float));
        _cleanup_free_ uint8_t *y = malloc(n);
        _cleanup_free_ QualityCalibrator *c = malloc(sizeof(QualityCalibrator));
        int r;

        if (!x || !y || !c)
                return -ENOMEM;
        for (unsigned f = 0; f < k; f++) {
                size_t m = 0;
                for (size_t i = 0; i < n; i++)
                        if (fold[i] != f) {
                                x[m] = logits[i];
                                y[m++] = labels[i];
                        }
                if (m == 0)
                        return -EINVAL;
                r = quality_fit_calibrator(method, x, y, m, c);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++)
                        if (fold[i] == f)
                                prob[i] = (float)quality_calibrator_apply(c, logits[i]);
        }
        return 0;
}

int quality_calibrate(const float *logits, const uint8_t *labels, size_t n, const uint8_t *fold, unsigned k,
                      QualityCalibration *c, QualityCalibrator *ret_cal, float *prob)
{
        _cleanup_free_ float *pp = malloc(MAX(n, (size_t)1) * sizeof(float)),
                             *pi = malloc(MAX(n, (size_t)1) * sizeof(float));
        const char *method = "platt";
        int r;

        *c = (QualityCalibration){.brier_isotonic = NAN};
        if (n == 0)
                return -EINVAL;
        if (!pp || !pi)
                return -ENOMEM;
        r = quality_platt(logits, labels, n, &c->a, &c->b);
        if (r < 0)
                return r;
        if (fold) {
                if ((r = cross_fit("platt", logits, labels, n, fold, k, pp)) < 0)
                        return r;
                c->brier_platt = brier_of(pp, labels, n);
                r = cross_fit("isotonic", logits, labels, n, fold, k, pi);
                if (r < 0 && r != -E2BIG)
                        return r;
                if (r == 0)
                        c->brier_isotonic = brier_of(pi, labels, n);
                if (c->brier_isotonic < c->brier_platt) {
                        method = "isotonic";
                        memcpy(pp, pi, n * sizeof(float));
                }
        } else {
                for (size_t i = 0; i < n; i++) {
                        double s = c->a * logits[i] + c->b;
                        pp[i] = (float)(1 / (1 + exp(-s)));
                }
                c->brier_platt = brier_of(pp, labels, n);
        }
        r = quality_fit_calibrator(method, logits, labels, n, ret_cal);
        if (r < 0)
                return r;
        snprintf(c->method, sizeof(c->method), "%s", method);
        memcpy(prob, pp, n * sizeof(float));
        c->brier = brier_of(prob, labels, n);
        quality_reliability(prob, labels, n, c->bins, &c->ece);
        return quality_ece_floor(prob, n, 0, &c->ece_floor);
}

double quality_flip_rate(const float *p1, const float *p2, size_t n, double threshold)
{
        size_t flips = 0;
        if (n == 0)
                return NAN;
        for (size_t i = 0; i < n; i++)
                flips += (p1[i] >= threshold) != (p2[i] >= threshold);
        return (double)flips / (double)n;
}

/* ---- JSON ------------------------------------------------------------------------------ */

static json_object *num(double v)
{
        return isfinite(v) ? json_object_new_double(v) : NULL;
}

static json_object *pair(double a, double b)
{
        json_object *p;
        if (!isfinite(a) || !isfinite(b))
                return NULL;
        p = json_object_new_array();
        json_object_array_add(p, json_object_new_double(a));
        json_object_array_add(p, json_object_new_double(b));
        return p;
}

static json_object *scores_to_json(const QualityScores *s)
{
        json_object *o = json_object_new_object(), *at = json_object_new_object();
        if (!o || !at) {
                json_object_put(o);
                json_object_put(at);
                return NULL;
        }
        json_object_object_add(o, "roc_auc", num(s->roc_auc));
        json_object_object_add(o, "roc_auc_ci", pair(s->roc_auc_lo, s->roc_auc_hi));
        json_object_object_add(o, "pr_auc", num(s->pr_auc));
        json_object_object_add(o, "pr_auc_ci", pair(s->pr_auc_lo, s->pr_auc_hi));
        json_object_object_add(o, "brier", num(s->brier));
        json_object_object_add(o, "log_loss", num(s->log_loss));
        json_object_object_add(o, "ece", num(s->ece));
        json_object_object_add(o, "ece_floor", num(s->ece_floor));
        if (isfinite(s->precision_at_10))
                json_object_object_add(at, "10", json_object_new_double(s->precision_at_10));
        if (isfinite(s->precision_at_50))
                json_object_object_add(at, "50", json_object_new_double(s->precision_at_50));
        json_object_object_add(o, "precision_at", at);
        json_object_object_add(o, "n_pos", json_object_new_int64(s->n_pos));
        json_object_object_add(o, "n_neg", json_object_new_int64(s->n_neg));
        return o;
}

static bool measured(const QualityScores *s)
{
        return s->n_pos + s->n_neg > 0;
}

json_object *model_quality_to_json(const ModelQuality *q)
{
        json_object *o = json_object_new_object(), *cv, *towers, *tm, *cal, *bins, *base;
        if (!o)
                return NULL;
        json_object_object_add(o, "version", json_object_new_int64(q->version));
        json_object_object_add(o, "folds", json_object_new_int64(q->folds));
        json_object_object_add(o, "n", json_object_new_int64(q->n));
        json_object_object_add(o, "n_pos", json_object_new_int64(q->n_pos));
        json_object_object_add(o, "n_neg", json_object_new_int64(q->n_neg));
        json_object_object_add(o, "threshold", num(q->threshold));
        json_object_object_add(o, "combination", json_object_new_string(q->combination));

        cv = json_object_new_object();
        towers = json_object_new_object();
        json_object_object_add(cv, "model", scores_to_json(&q->model));
        json_object_object_add(cv, "baseline", scores_to_json(&q->baseline));
        if (measured(&q->tower_tags))
                json_object_object_add(towers, "tags", scores_to_json(&q->tower_tags));
        if (measured(&q->tower_head))
                json_object_object_add(towers, "head", scores_to_json(&q->tower_head));
        if (measured(&q->tower_knn))
                json_object_object_add(towers, "knn", scores_to_json(&q->tower_knn));
        json_object_object_add(cv, "towers", towers);
        json_object_object_add(o, "cv", cv);

        if (q->time_n_test > 0) {
                tm = json_object_new_object();
                json_object_object_add(tm, "n_train", json_object_new_int64(q->time_n_train));
                json_object_object_add(tm, "n_test", json_object_new_int64(q->time_n_test));
                json_object_object_add(tm, "model", scores_to_json(&q->time_model));
                json_object_object_add(tm, "baseline", scores_to_json(&q->time_baseline));
                json_object_object_add(o, "time", tm);
        }

        cal = json_object_new_object();
        bins = json_object_new_array();
        json_object_object_add(cal, "method", json_object_new_string(q->calibration.method));
        json_object_object_add(cal, "a", num(q->calibration.a));
        json_object_object_add(cal, "b", num(q->calibration.b));
        json_object_object_add(cal, "brier", num(q->calibration.brier));
        json_object_object_add(cal, "ece", num(q->calibration.ece));
        json_object_object_add(cal, "ece_floor", num(q->calibration.ece_floor));
        if (isfinite(q->calibration.ece_floor))
                json_object_object_add(cal, "ece_bins", json_object_new_int64(QUALITY_BINS));
        json_object_object_add(cal, "brier_platt", num(q->calibration.brier_platt));
        json_object_object_add(cal, "brier_isotonic", num(q->calibration.brier_isotonic));
        for (int i = 0; i < QUALITY_BINS; i++) {
                const QualityBin *b = &q->calibration.bins[i];
                json_object *e = json_object_new_object();
                json_object_object_add(e, "lo", json_object_new_double(b->lo));
                json_object_object_add(e, "hi", json_object_new_double(b->hi));
                json_object_object_add(e, "n", json_object_new_int64(b->n));
                json_object_object_add(e, "mean_prob", num(b->mean_prob));
                json_object_object_add(e, "frac_like", num(b->frac_like));
                json_object_array_add(bins, e);
        }
        json_object_object_add(cal, "bins", bins);
        json_object_object_add(o, "calibration", cal);

        base = json_object_new_object();
        json_object_object_add(base, "kind", json_object_new_string("tags-l2-logreg"));
        json_object_object_add(base, "min_count", json_object_new_int64(q->baseline_min_count));
        json_object_object_add(base, "tags", json_object_new_int64(q->baseline_tags));
        json_object_object_add(base, "lambda", num(q->baseline_lambda));
        json_object_object_add(o, "baseline", base);
        if (q->flip_posts > 0) {
                json_object *st = json_object_new_object();
                json_object_object_add(st, "flip_rate", num(q->flip_rate));
                json_object_object_add(st, "posts", json_object_new_int64(q->flip_posts));
                json_object_object_add(st, "against", json_object_new_string(q->flip_against));
                json_object_object_add(o, "stability", st);
        }
        return o;
}

static double get_num(json_object *o, const char *key)
{
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) ||
            !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
                return NAN;
        return json_object_get_double(v);
}

static uint32_t get_u32(json_object *o, const char *key)
{
        double v = get_num(o, key);
        return isfinite(v) && v >= 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
}

static void get_pair(json_object *o, const char *key, double *a, double *b)
{
        json_object *v;
        *a = *b = NAN;
        if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array) &&
            json_object_array_length(v) == 2) {
                json_object *x = json_object_array_get_idx(v, 0), *y = json_object_array_get_idx(v, 1);
                if (x && y) {
                        *a = json_object_get_double(x);
                        *b = json_object_get_double(y);
                }
        }
}

static json_object *get_obj(json_object *o, const char *key)
{
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
                return NULL;
        return v;
}

static void scores_from_json(json_object *o, QualityScores *s)
{
        json_object *at = get_obj(o, "precision_at");
        s->roc_auc = get_num(o, "roc_auc");
        get_pair(o, "roc_auc_ci", &s->roc_auc_lo, &s->roc_auc_hi);
        s->pr_auc = get_num(o, "pr_auc");
        get_pair(o, "pr_auc_ci", &s->pr_auc_lo, &s->pr_auc_hi);
        s->brier = get_num(o, "brier");
        s->log_loss = get_num(o, "log_loss");
        s->ece = get_num(o, "ece");
        s->ece_floor = get_num(o, "ece_floor");
        s->precision_at_10 = get_num(at, "10");
        s->precision_at_50 = get_num(at, "50");
        s->n_pos = get_u32(o, "n_pos");
        s->n_neg = get_u32(o, "n_neg");
}

int model_quality_from_json(json_object *o, ModelQuality *q)
{
        json_object *v, *cv, *cal, *bins, *tm;

        *q = (ModelQuality){0};
        if (!o || !json_object_is_type(o, json_type_object) || get_u32(o, "version") != QUALITY_VERSION ||
            !(cv = get_obj(o, "cv")) || !(cal = get_obj(o, "calibration")))
                return -EBADMSG;
        q->version = QUALITY_VERSION;
        q->folds = get_u32(o, "folds");
        q->n = get_u32(o, "n");
        q->n_pos = get_u32(o, "n_pos");
        q->n_neg = get_u32(o, "n_neg");
        q->threshold = get_num(o, "threshold");
        if (!(q->threshold > 0 && q->threshold < 1))
                return -EBADMSG;
        if (json_object_object_get_ex(o, "combination", &v) && json_object_is_type(v, json_type_string))
                snprintf(q->combination, sizeof(q->combination), "%s", json_object_get_string(v));
        scores_from_json(get_obj(cv, "model"), &q->model);
        scores_from_json(get_obj(cv, "baseline"), &q->baseline);
        scores_from_json(get_obj(get_obj(cv, "towers"), "tags"), &q->tower_tags);
        scores_from_json(get_obj(get_obj(cv, "towers"), "head"), &q->tower_head);
        scores_from_json(get_obj(get_obj(cv, "towers"), "knn"), &q->tower_knn);
        if ((tm = get_obj(o, "time"))) {
                q->time_n_train = get_u32(tm, "n_train");
                q->time_n_test = get_u32(tm, "n_test");
                scores_from_json(get_obj(tm, "model"), &q->time_model);
                scores_from_json(get_obj(tm, "baseline"), &q->time_baseline);
        }
        if (json_object_object_get_ex(cal, "method", &v) && json_object_is_type(v, json_type_string))
                snprintf(q->calibration.method, sizeof(q->calibration.method), "%s",
                         json_object_get_string(v));
        q->calibration.a = get_num(cal, "a");
        q->calibration.b = get_num(cal, "b");
        q->calibration.brier = get_num(cal, "brier");
        q->calibration.ece = get_num(cal, "ece");
        q->calibration.ece_floor = get_num(cal, "ece_floor");
        q->calibration.brier_platt = get_num(cal, "brier_platt");
        q->calibration.brier_isotonic = get_num(cal, "brier_isotonic");
        if (!streq(q->calibration.method, "platt") && !streq(q->calibration.method, "isotonic") &&
            !isempty(q->calibration.method))
                return -EBADMSG;
        if (json_object_object_get_ex(cal, "bins", &bins) && json_object_is_type(bins, json_type_array) &&
            json_object_array_length(bins) == QUALITY_BINS)
                for (int i = 0; i < QUALITY_BINS; i++) {
                        json_object *e = json_object_array_get_idx(bins, i);
                        QualityBin *b = &q->calibration.bins[i];
                        b->lo = get_num(e, "lo");
                        b->hi = get_num(e, "hi");
                        b->n = get_u32(e, "n");
                        b->mean_prob = get_num(e, "mean_prob");
                        b->frac_like = get_num(e, "frac_like");
                }
        json_object *base = get_obj(o, "baseline");
        q->baseline_min_count = get_u32(base, "min_count");
        q->baseline_tags = get_u32(base, "tags");
        q->baseline_lambda = get_num(base, "lambda");
        json_object *st = get_obj(o, "stability");
        q->flip_rate = get_num(st, "flip_rate");
        q->flip_posts = isfinite(q->flip_rate) ? get_u32(st, "posts") : 0;
        if (st && json_object_object_get_ex(st, "against", &v) && json_object_is_type(v, json_type_string))
                snprintf(q->flip_against, sizeof(q->flip_against), "%s", json_object_get_string(v));
        return 0;
}
