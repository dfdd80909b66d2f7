/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"
#include "metrics.h"

const uint32_t knn_k_grid[] = {1, 3, 5, 10, 20, 40};
const size_t knn_k_grid_n = ELEMENTSOF(knn_k_grid);

Knn *knn_free(Knn *m)
{
        if (!m)
                return NULL;
        free(m->mean);
        free(m->inv_std);
        free(m->ref);
        free(m->label);
        free(m->proj);
        free(m);
        return NULL;
}

static uint64_t splitmix64(uint64_t *s)
{
        uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
}

int knn_build_projection(Knn *m)
{
        const float a = 1.0f / sqrtf((float)KNN_PROJ_DIM);
        uint64_t s = m->seed;

        free(m->proj);
        m->proj = malloc((size_t)m->dim * KNN_PROJ_DIM * sizeof(float));
        if (!m->proj)
                return -ENOMEM;
        for (size_t i = 0; i < (size_t)m->dim * KNN_PROJ_DIM; i += 64) {
                uint64_t bits = splitmix64(&s);
                for (size_t j = i; j < MIN(i + 64, (size_t)m->dim * KNN_PROJ_DIM); j++, bits >>= 1)
                        m->proj[j] = bits & 1 ? a : -a;
        }
        return 0;
}

/* one row: standardised, projected, unit length (all zero stays zero) */
static void project(const Knn *m, const float *x, float *z, float *scratch)
{
        for (uint32_t d = 0; d < m->dim; d++)
                scratch[d] = (x[d] - m->mean[d]) * m->inv_std[d];
        memset(z, 0, KNN_PROJ_DIM * sizeof(float));
        for (uint32_t d = 0; d < m->dim; d++) {
                const float v = scratch[d], *p = m->proj + (size_t)d * KNN_PROJ_DIM;
                if (v == 0)
                        continue;
                for (uint32_t j = 0; j < KNN_PROJ_DIM; j++)
                        z[j] += v * p[j];
        }
        double norm = 0;
        for (uint32_t j = 0; j < KNN_PROJ_DIM; j++)
                norm += (double)z[j] * z[j];
        if (norm > 0)
                for (uint32_t j = 0; j < KNN_PROJ_DIM; j++)
                        z[j] = (float)(z[j] / sqrt(norm));
}

int knn_fit_rows(const FeatureRows *x, const uint8_t *labels, const uint8_t *use, size_t n, uint32_t k,
                 uint64_t seed, const float *weight, Knn **ret)
{
        _cleanup_(knn_freep) Knn *m = calloc(1, sizeof(Knn));
        _cleanup_free_ double *sum = NULL, *sq = NULL;
        _cleanup_free_ float *scratch = NULL, *conv = NULL;
        uint32_t dim = x->dim;
        size_t used = 0, pos = 0;
        int r;

        if (!m)
                return -ENOMEM;
        if ((!x->f32 && !x->f16) || !labels || dim == 0 || k == 0)
                return -EINVAL;
        /* the newest KNN_MAX_REF rows: skip the first ones beyond it */
        size_t first = 0, total = 0;
        for (size_t i = 0; i < n; i++)
                total += !use || use[i];
        for (size_t i = 0, seen = 0; i < n && seen < total - MIN(total, (size_t)KNN_MAX_REF); i++)
                if (!use || use[i]) {
                        seen++;
                        first = i + 1;
                }
        for (size_t i = first; i < n; i++)
                if (!use || use[i]) {
                        used++;
                        pos += labels[i] != 0;
                }
        if (pos == 0 || pos == used)
                return -EINVAL;
        *m = (Knn){.k = k, .dim = dim, .n = (uint32_t)used, .seed = seed};
        m->mean = calloc(dim, sizeof(float));
        m->inv_std = calloc(dim, sizeof(float));
        m->ref = malloc(used * KNN_PROJ_DIM * sizeof(float));
        m->label = malloc(used * sizeof(float));
        sum = calloc(dim, sizeof(double));
        sq = calloc(dim, sizeof(double));
        scratch = malloc(dim * sizeof(float));
        conv = malloc(dim * sizeof(float));
        if (!m->mean || !m->inv_std || !m->ref || !m->label || !sum || !sq || !scratch || !conv)
                return -ENOMEM;
        for (size_t i = first; i < n; i++)
                if (!use || use[i]) {
                        const float *row = feature_row(x, i, conv);
                        for (uint32_t d = 0; d < dim; d++) {
                                double v = row[d];
                                sum[d] += v;
                                sq[d] += v * v;
                        }
                }
        for (uint32_t d = 0; d < dim; d++) {
                double mu = sum[d] / (double)used, var = sq[d] / (double)used - mu * mu;
                m->mean[d] = (float)mu;
                m->inv_std[d] =
                        var > 1e-12 * (1 + mu * mu) ? (float)((weight ? weight[d] : 1) / sqrt(var)) : 0.f;
        }
        if ((r = knn_build_projection(m)) < 0)
                return r;
        for (size_t i = first, j = 0; i < n; i++)
                if (!use || use[i]) {
                        project(m, feature_row(x, i, conv), m->ref + j * KNN_PROJ_DIM, scratch);
                        m->label[j++] = labels[i] ? 1.f : 0.f;
                }
        *ret = TAKE_PTR(m);
        return 0;
}

int knn_fit(const float *features, uint32_t dim, const uint8_t *labels, const uint8_t *use, size_t n,
            uint32_t k, uint64_t seed, const float *weight, Knn **ret)
{
        FeatureRows x = feature_rows_f32(features, dim);
        return knn_fit_rows(&x, labels, use, n, k, seed, weight, ret);
}

/* Inserts s into top (descending, at most k kept, *len of them). */
static void keep_top(float *top, uint32_t *len, uint32_t k, float s)
{
        uint32_t i = *len < k ? (*len)++ : k;
        if (i == k && s <= top[k - 1])
                return;
        if (i == k)
                i = k - 1;
        while (i > 0 && top[i - 1] < s) {
                top[i] = top[i - 1];
                i--;
        }
        top[i] = s;
}

static double mean_of(const float *top, uint32_t len)
{
        double s = 0;
        for (uint32_t i = 0; i < len; i++)
                s += top[i];
        return len ? s / len : 0;
}

/* For each row (those with fold[i] == f; every row when fold is NULL): the
 * kmax largest cosines to each side, into top (n × 2 × kmax, liked first).
 * The rows are read in place, one converted at a time: a copy of a fold's
 * rows would be a fifth of the dataset again. */
static int nearest(const Knn *m, const FeatureRows *x, size_t n, const uint8_t *fold, unsigned f,
                   uint32_t kmax, float *top, uint32_t *len)
{
        _cleanup_free_ float *z = malloc(KNN_PROJ_DIM * sizeof(float)),
                             *scratch = malloc(m->dim * sizeof(float)),
                             *conv = malloc(m->dim * sizeof(float));
        if (!z || !scratch || !conv)
                return -ENOMEM;
        if (x->dim != m->dim)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (fold && fold[i] != f)
                        continue;
                float *tl = top + i * 2 * kmax, *td = tl + kmax;
                uint32_t *ll = len + 2 * i, *ld = ll + 1;
                *ll = *ld = 0;
                project(m, feature_row(x, i, conv), z, scratch);
                for (uint32_t j = 0; j < m->n; j++) {
                        const float *q = m->ref + (size_t)j * KNN_PROJ_DIM;
                        float s = 0;
                        for (uint32_t t = 0; t < KNN_PROJ_DIM; t++)
                                s += z[t] * q[t];
                        if (m->label[j] > 0.5f)
                                keep_top(tl, ll, kmax, s);
                        else
                                keep_top(td, ld, kmax, s);
                }
        }
        return 0;
}

int knn_scores_rows(const Knn *m, const FeatureRows *x, size_t n, float *out)
{
        _cleanup_free_ float *top = malloc(MAX(n, (size_t)1) * 2 * m->k * sizeof(float));
        _cleanup_free_ uint32_t *len = malloc(MAX(n, (size_t)1) * 2 * sizeof(uint32_t));
        if (!top || !len)
                return -ENOMEM;
        if (!m->proj)
                return -EINVAL;
        int r = nearest(m, x, n, NULL, 0, m->k, top, len);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const float *tl = top + i * 2 * m->k;
                out[i] = (float)(mean_of(tl, len[2 * i]) - mean_of(tl + m->k, len[2 * i + 1]));
        }
        return 0;
}

int knn_scores(const Knn *m, const float *features, size_t n, float *out)
{
        FeatureRows x = feature_rows_f32(features, m->dim);
        return knn_scores_rows(m, &x, n, out);
}

int knn_cv(const float *features, uint32_t dim, const uint8_t *labels, size_t n, const uint8_t *fold,
           unsigned n_folds, const uint32_t *grid, size_t n_grid, uint64_t seed, const float *weight,
           uint32_t *ret_k, float *oof)
{
        FeatureRows x = feature_rows_f32(features, dim);
        return knn_cv_rows(&x, labels, n, fold, n_folds, grid, n_grid, seed, weight, ret_k, oof);
}

int knn_cv_rows(const FeatureRows *x, const uint8_t *labels, size_t n, const uint8_t *fold, unsigned n_folds,
                const uint32_t *grid, size_t n_grid, uint64_t seed, const float *weight, uint32_t *ret_k,
                float *oof)
{
        uint32_t kmax = 0;
        for (size_t g = 0; g < n_grid; g++)
                kmax = MAX(kmax, grid[g]);
        _cleanup_free_ float *top = malloc(MAX(n, (size_t)1) * 2 * kmax * sizeof(float));
        _cleanup_free_ uint32_t *len = malloc(MAX(n, (size_t)1) * 2 * sizeof(uint32_t));
        _cleanup_free_ float *s = malloc(MAX(n, (size_t)1) * sizeof(float));
        _cleanup_free_ uint8_t *use = malloc(MAX(n, (size_t)1)), *lab = malloc(MAX(n, (size_t)1));
        double best = -1;
        int r;

        if (n_grid == 0 || kmax == 0)
                return -EINVAL;
        if (!top || !len || !s || !use || !lab)
                return -ENOMEM;
        for (unsigned f = 0; f < n_folds; f++) {
                _cleanup_(knn_freep) Knn *m = NULL;
                size_t nt = 0;
                for (size_t i = 0; i < n; i++) {
                        use[i] = fold[i] != f && fold[i] < n_folds;
                        nt += fold[i] == f;
                }
                if (nt == 0)
                        continue;
                if ((r = knn_fit_rows(x, labels, use, n, kmax, seed, weight, &m)) < 0)
                        return r;
                if ((r = nearest(m, x, n, fold, f, kmax, top, len)) < 0)
                        return r;
        }
        /* only the rows in a fold are scored */
        size_t nr = 0;
        for (size_t i = 0; i < n; i++)
                if (fold[i] < n_folds)
                        lab[nr++] = labels[i];
        for (size_t g = 0; g < n_grid; g++) {
                for (size_t i = 0, j = 0; i < n; i++) {
                        if (fold[i] >= n_folds)
                                continue;
                        const float *tl = top + i * 2 * kmax;
                        s[j++] = (float)(mean_of(tl, MIN(grid[g], len[2 * i])) -
                                         mean_of(tl + kmax, MIN(grid[g], len[2 * i + 1])));
                }
                double auc = metrics_roc_auc(s, lab, nr);
                if (auc > best + 1e-12) {
                        best = auc;
                        *ret_k = grid[g];
                        for (size_t i = 0, j = 0; i < n; i++)
                                oof[i] = fold[i] < n_folds ? s[j++] : NAN;
                }
        }
        return 0;
}
