/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logreg.h"

#define LOGREG_MAX_ITER 4000
#define LOGREG_TOL 1e-7

const double logreg_lambda_grid[] = {0.3, 0.1, 0.03, 0.01, 0.003, 0.001, 0.0003};
const size_t logreg_lambda_grid_n = ELEMENTSOF(logreg_lambda_grid);

void logreg_done(Logreg *m)
{
        free(m->w);
        *m = (Logreg){0};
}

static bool sparse_used(const LogregData *d, uint32_t id)
{
        return id < d->n_sparse && (!d->use_sparse || d->use_sparse[id]);
}

static double row_logit(const LogregData *d, const double *w, double b, size_t i)
{
        double z = b;
        if (d->offsets)
                for (uint32_t a = d->offsets[i]; a < d->offsets[i + 1]; a++)
                        if (sparse_used(d, d->ids[a]))
                                z += w[d->ids[a]];
        for (uint32_t j = 0; j < d->n_dense; j++)
                z += w[d->n_sparse + j] * (double)d->dense[i * d->n_dense + j];
        return z;
}

double logreg_logit(const Logreg *m, const LogregData *d, size_t i)
{
        return row_logit(d, m->w, m->bias, i);
}

static double sigmoid(double z)
{
        return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

/* Gradient of the objective at (w, b) into (g, gb); returns the objective. */
static double gradient(const LogregData *d, const uint32_t *rows, size_t n_rows, double lambda,
                       const double *w, double b, double *g, double *gb)
{
        size_t nw = (size_t)d->n_sparse + d->n_dense;
        double loss = 0, reg = 0;
        memset(g, 0, nw * sizeof(double));
        *gb = 0;
        for (size_t r = 0; r < n_rows; r++) {
                size_t i = rows ? rows[r] : r;
                double z = row_logit(d, w, b, i), y = d->labels[i] ? 1.0 : 0.0;
                double e = sigmoid(z) - y;
                /* log(1 + exp(−s·z)) without overflow */
                double sz = y > 0 ? z : -z;
                loss += sz > 0 ? log1p(exp(-sz)) : -sz + log1p(exp(sz));
                *gb += e;
                if (d->offsets)
                        for (uint32_t a = d->offsets[i]; a < d->offsets[i + 1]; a++)
                                if (sparse_used(d, d->ids[a]))
                                        g[d->ids[a]] += e;
                for (uint32_t j = 0; j < d->n_dense; j++)
                        g[d->n_sparse + j] += e * (double)d->dense[i * d->n_dense + j];
        }
        double inv = 1.0 / (double)n_rows;
        for (size_t j = 0; j < nw; j++) {
                g[j] = g[j] * inv + lambda * w[j];
                reg += w[j] * w[j];
        }
        *gb *= inv;
        return loss * inv + 0.5 * lambda * reg;
}

int logreg_fit(const LogregData *d, const uint32_t *rows, size_t n_rows, double lambda, Logreg *ret)
{
        return logreg_fit_from(d, rows, n_rows, lambda, NULL, ret);
}

int logreg_fit_from(const LogregData *d, const uint32_t *rows, size_t n_rows, double lambda,
                    const Logreg *init, Logreg *ret)
{
        size_t nw = (size_t)d->n_sparse + d->n_dense;
        _cleanup_free_ double *w = NULL, *v = NULL, *g = NULL, *prev = NULL;
        double curv = 1.0; /* ‖x‖² + 1 (the intercept), largest over the rows */

        if (!(lambda >= 0) || (rows ? n_rows == 0 : d->n == 0))
                return -EINVAL;
        if (!rows)
                n_rows = d->n;
        for (size_t r = 0; r < n_rows; r++) {
                size_t i = rows ? rows[r] : r;
                double s = 1.0;
                if (i >= d->n)
                        return -EINVAL;
                if (d->offsets)
                        for (uint32_t a = d->offsets[i]; a < d->offsets[i + 1]; a++)
                                s += sparse_used(d, d->ids[a]);
                for (uint32_t j = 0; j < d->n_dense; j++)
                        s += (double)d->dense[i * d->n_dense + j] * d->dense[i * d->n_dense + j];
                curv = MAX(curv, s);
        }
        w = calloc(MAX(nw, (size_t)1), sizeof(double));
        v = calloc(MAX(nw, (size_t)1), sizeof(double));
        g = calloc(MAX(nw, (size_t)1), sizeof(double));
        prev = calloc(MAX(nw, (size_t)1), sizeof(double));
        if (!w || !v || !g || !prev)
                return -ENOMEM;

        /* The logistic loss's Hessian is ≤ ¼·x·xᵀ per row: L ≤ ¼·max‖x‖² + λ. */
        double step = 1.0 / (0.25 * curv + lambda), b = 0, vb = 0, prevb = 0, gb, t = 1, last = INFINITY;
        /* start the intercept at the prior's log-odds */
        size_t pos = 0;
        for (size_t r = 0; r < n_rows; r++)
                pos += d->labels[rows ? rows[r] : r] != 0;
        if (pos > 0 && pos < n_rows)
                b = vb = prevb = log((double)pos / (double)(n_rows - pos));
        if (init && init->w && init->n_sparse == d->n_sparse && init->n_dense == d->n_dense) {
                memcpy(w, init->w, nw * sizeof(double));
                memcpy(v, init->w, nw * sizeof(double));
                b = vb = prevb = init->bias;
        }

        for (unsigned it = 0; it < LOGREG_MAX_ITER; it++) {
                double f = gradient(d, rows, n_rows, lambda, v, vb, g, &gb);
                memcpy(prev, w, nw * sizeof(double));
                prevb = b;
                double gn = gb * gb;
                for (size_t j = 0; j < nw; j++) {
                        w[j] = v[j] - step * g[j];
                        gn += g[j] * g[j];
                }
                b = vb - step * gb;
                /* restart the momentum when the objective rises (O'Donoghue & Candès) */
                if (f > last)
                        t = 1;
                last = f;
                double tn = (1 + sqrt(1 + 4 * t * t)) / 2, mom = (t - 1) / tn;
                for (size_t j = 0; j < nw; j++)
                        v[j] = w[j] + mom * (w[j] - prev[j]);
                vb = b + mom * (b - prevb);
                t = tn;
                if (gn < LOGREG_TOL * LOGREG_TOL)
                        break;
        }
        *ret = (Logreg){.n_sparse = d->n_sparse,
                        .n_dense = d->n_dense,
                        .w = TAKE_PTR(w),
                        .bias = b,
                        .lambda = lambda};
        return 0;
}

static double now_s(void)
{
        return (double)now_usec(CLOCK_MONOTONIC) / USEC_PER_SEC;
}

int logreg_cv(const LogregData *d, const uint8_t *fold, unsigned k, const double *grid, size_t n_grid,
              double deadline, double *ret_lambda, float *oof)
{
        _cleanup_free_ uint32_t *rows = malloc(MAX(d->n, (size_t)1) * sizeof(uint32_t));
        _cleanup_free_ float *cur = malloc(MAX(d->n, (size_t)1) * sizeof(float));
        /* each fold's fit at the previous λ: the next one starts there */
        _cleanup_free_ Logreg *warm = calloc(MAX(k, 1u), sizeof(Logreg));
        double best = INFINITY, best_lambda = NAN;
        int r = 0;

        if (!rows || !cur || !warm)
                return -ENOMEM;
        if (k < 2 || n_grid == 0)
                return -EINVAL;
        for (size_t gi = 0; gi < n_grid; gi++) {
                /* the first λ always; the others while time is left (the grid
                 * goes from strong to weak regularisation: the weak end costs
                 * the most iterations and matters least on a few hundred posts) */
                if (gi > 0 && now_s() >= deadline) {
                        log_debug("logreg: λ search stopped at %zu of %zu values: out of time", gi, n_grid);
                        break;
                }
                double loss = 0;
                size_t scored = 0;
                for (size_t i = 0; i < d->n; i++)
                        cur[i] = NAN;
                for (unsigned f = 0; f < k; f++) {
                        size_t nr = 0;
                        Logreg m = {0};
                        for (size_t i = 0; i < d->n; i++)
                                if (fold[i] < k && fold[i] != f)
                                        rows[nr++] = (uint32_t)i;
                        if (nr == 0) {
                                r = -EINVAL;
                                goto finish;
                        }
                        r = logreg_fit_from(d, rows, nr, grid[gi], &warm[f], &m);
                        if (r < 0)
                                goto finish;
                        for (size_t i = 0; i < d->n; i++)
                                if (fold[i] == f) {
                                        double z = logreg_logit(&m, d, i), p = sigmoid(z);
                                        cur[i] = (float)z;
                                        p = CLAMP(p, 1e-7, 1 - 1e-7);
                                        loss -= d->labels[i] ? log(p) : log(1 - p);
                                        scored++;
                                }
                        logreg_done(&warm[f]);
                        warm[f] = m;
                }
                loss /= (double)MAX(scored, (size_t)1);
                /* strictly better only: among equals the first (larger) λ stays */
                if (loss < best - 1e-12) {
                        best = loss;
                        best_lambda = grid[gi];
                        memcpy(oof, cur, d->n * sizeof(float));
                }
        }
        *ret_lambda = best_lambda;
finish:
        for (unsigned f = 0; f < k; f++)
                logreg_done(&warm[f]);
        return r;
}
