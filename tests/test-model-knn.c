/* SPDX-License-Identifier: MIT */
/* The similarity input (knn.h), plain C, on synthetic embeddings where only
 * the neighbourhood carries the taste: posts drawn around 16 centres, each
 * centre liked or disliked, in an XOR-like layout no linear model separates.
 * The out-of-fold score ranks held-out posts well and picks a k above 1
 * when labels are noisy; on random labels it stays near chance (a post is
 * never its own neighbour); a fitted model scores new posts from the same
 * centres, and its projection is rebuilt identically from the seed. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"
#include "metrics.h"
#include "quality.h"
#include "tests.h"

#define DIM 96u
#define CENTRES 16u

static uint64_t rng_state = 4242;
static double unif(void)
{
        rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
        return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
        double u = unif() + 1e-12, v = unif();
        return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* centres: the 16 corners of ±1 in 4 bits, each bit in 8 dimensions, liked
 * when an even number of bits is set (parity: no linear direction carries
 * it); the other dimensions are noise, and one of them is large and
 * uninformative (standardisation must tame it). */
static void make(size_t n, double noise, double flip, float *x, uint8_t *y)
{
        for (size_t i = 0; i < n; i++) {
                unsigned c = (unsigned)(unif() * CENTRES) % CENTRES, parity = 0;
                for (unsigned d = 0; d < DIM; d++) {
                        double v = 0.6 * gauss();
                        if (d < 32) /* each of the 4 bits in 8 dimensions */
                                v = (c >> (d % 4) & 1 ? 1.0 : -1.0) + noise * gauss();
                        if (d == DIM - 1)
                                v = 1000 + 300 * gauss();
                        x[i * DIM + d] = (float)v;
                }
                for (unsigned b = 0; b < 4; b++)
                        parity += (c >> b) & 1;
                y[i] = (parity % 2 == 0) ^ (unif() < flip);
        }
}

TEST(neighbours_carry_the_signal)
{
        const size_t n = 600;
        _cleanup_free_ float *x = malloc(n * DIM * sizeof(float)), *oof = malloc(n * sizeof(float));
        _cleanup_free_ uint8_t *y = malloc(n), *fold = malloc(n);
        uint32_t k = 0;

        make(n, 0.35, 0.15, x, y);
        ASSERT_OK(quality_folds(y, n, 5, 1, fold));
        ASSERT_OK(knn_cv(x, DIM, y, n, fold, 5, knn_k_grid, knn_k_grid_n, 9, NULL, &k, oof));
        double auc = metrics_roc_auc(oof, y, n);
        fprintf(stderr, "out-of-fold ROC AUC %.3f, k %u\n", auc, k);
        /* 15 % flipped labels: the best possible AUC is about 0.85 */
        ASSERT_TRUE(auc > 0.75);
        ASSERT_TRUE(k > 1); /* noisy labels: one neighbour is not enough */

        /* a linear model on the same features is at chance: parity */
        double best_linear = 0;
        for (unsigned d = 0; d < DIM; d++) {
                _cleanup_free_ float *col = malloc(n * sizeof(float));
                for (size_t i = 0; i < n; i++)
                        col[i] = x[i * DIM + d];
                double a = metrics_roc_auc(col, y, n);
                best_linear = MAX(best_linear, MAX(a, 1 - a));
        }
        ASSERT_TRUE(best_linear < 0.62);

        /* the final model scores new posts from the same centres */
        _cleanup_(knn_freep) Knn *m = NULL;
        _cleanup_free_ float *xt = malloc(n * DIM * sizeof(float)), *s = malloc(n * sizeof(float));
        _cleanup_free_ uint8_t *yt = malloc(n);
        make(n, 0.35, 0.0, xt, yt);
        ASSERT_OK(knn_fit(x, DIM, y, NULL, n, k, 9, NULL, &m));
        ASSERT_EQ(m->n, (uint32_t)n);
        ASSERT_OK(knn_scores(m, xt, n, s));
        ASSERT_TRUE(metrics_roc_auc(s, yt, n) > 0.9);

        /* the projection comes back from the seed alone (as after loading a model) */
        _cleanup_free_ float *saved = malloc((size_t)DIM * KNN_PROJ_DIM * sizeof(float)),
                             *s2 = malloc(n * sizeof(float));
        memcpy(saved, m->proj, (size_t)DIM * KNN_PROJ_DIM * sizeof(float));
        free(m->proj);
        m->proj = NULL;
        ASSERT_ERROR(knn_scores(m, xt, n, s2), EINVAL);
        ASSERT_OK(knn_build_projection(m));
        ASSERT_TRUE(memcmp(saved, m->proj, (size_t)DIM * KNN_PROJ_DIM * sizeof(float)) == 0);
        ASSERT_OK(knn_scores(m, xt, n, s2));
        ASSERT_TRUE(memcmp(s, s2, n * sizeof(float)) == 0);
}

TEST(out_of_fold_on_random_labels_is_chance)
{
        /* posts far apart and labels at random: were a post its own
         * neighbour, k = 1 would rank it perfectly */
        const size_t n = 400;
        _cleanup_free_ float *x = malloc(n * DIM * sizeof(float)), *oof = malloc(n * sizeof(float));
        _cleanup_free_ uint8_t *y = malloc(n), *fold = malloc(n);
        uint32_t k = 0;
        for (size_t i = 0; i < n * DIM; i++)
                x[i] = (float)gauss();
        for (size_t i = 0; i < n; i++)
                y[i] = unif() < 0.5;
        ASSERT_OK(quality_folds(y, n, 5, 3, fold));
        ASSERT_OK(knn_cv(x, DIM, y, n, fold, 5, knn_k_grid, knn_k_grid_n, 9, NULL, &k, oof));
        ASSERT_TRUE(fabs(metrics_roc_auc(oof, y, n) - 0.5) < 0.1);
}

TEST(refuses_what_it_cannot_fit)
{
        float x[4 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3};
        Knn *m = NULL;
        ASSERT_ERROR(knn_fit(x, 3, (uint8_t[]){1, 1, 1, 1}, NULL, 4, 3, 1, NULL, &m), EINVAL);
        ASSERT_ERROR(knn_fit(x, 3, (uint8_t[]){1, 0, 1, 0}, NULL, 4, 0, 1, NULL, &m), EINVAL);
        ASSERT_ERROR(knn_fit(x, 0, (uint8_t[]){1, 0, 1, 0}, NULL, 4, 3, 1, NULL, &m), EINVAL);
        ASSERT_OK(knn_fit(x, 3, (uint8_t[]){1, 0, 1, 0}, (uint8_t[]){1, 1, 0, 0}, 4, 3, 1, NULL, &m));
        ASSERT_EQ(m->n, 2u);
        knn_free(m);
}

TEST(keeps_the_newest_posts)
{
        /* a long history: the model keeps the newest KNN_MAX_REF posts only */
        const size_t n = KNN_MAX_REF + 301;
        _cleanup_free_ float *x = malloc(n * 2 * sizeof(float));
        _cleanup_free_ uint8_t *y = malloc(n), *use = malloc(n);
        _cleanup_(knn_freep) Knn *m = NULL;
        for (size_t i = 0; i < n; i++) {
                y[i] = i % 2;
                use[i] = i % 3 != 0;
                x[2 * i] = (float)i;
                x[2 * i + 1] = y[i] ? 1.f : -1.f;
        }
        ASSERT_OK(knn_fit(x, 2, y, NULL, n, 3, 1, NULL, &m));
        ASSERT_EQ(m->n, KNN_MAX_REF);
        /* the standardisation is the kept posts': their first feature's mean */
        ASSERT_NEAR(m->mean[0], (double)(n - 1) - (KNN_MAX_REF - 1) / 2.0, 1e-2);
        m = knn_free(m);
        size_t used = 0;
        for (size_t i = 0; i < n; i++)
                used += use[i];
        ASSERT_OK(knn_fit(x, 2, y, use, n, 3, 1, NULL, &m));
        ASSERT_EQ(m->n, (uint32_t)MIN(used, (size_t)KNN_MAX_REF));
        ASSERT_EQ(m->label[m->n - 1], (float)y[n - 1]); /* the newest used post last */
}

TEST_MAIN()
