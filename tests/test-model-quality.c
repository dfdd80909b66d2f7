/* SPDX-License-Identifier: MIT */
/* The quality library (quality.h, logreg.h), plain C: hand-computed PR AUC,
 * folds that are stratified and cover every post, a logistic regression that
 * finds planted weights and whose CV picks a sensible λ, Platt scaling that
 * recovers a known miscalibration, a reliability table and ECE that agree
 * with their definitions, an ECE noise floor that matches its closed form, bootstrap CIs that contain the
 * point estimate and narrow with more data, and the JSON stored in the model file round-trip. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "diversify.h"
#include "logreg.h"
#include "metrics.h"
#include "quality.h"
#include "tests.h"

static uint64_t rng_state = 12345;
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

TEST(pr_auc_hand_computed)
{
        /* ranks: 1 (pos), 2 (neg), 3 (pos): AP = ½·(1/1) + ½·(2/3) */
        ASSERT_NEAR(quality_pr_auc((float[]){0.9f, 0.5f, 0.1f}, (uint8_t[]){1, 0, 1}, 3), 0.5 + 1.0 / 3.0,
                    1e-12);
        ASSERT_NEAR(quality_pr_auc((float[]){3, 2, 1}, (uint8_t[]){1, 1, 0}, 3), 1.0, 1e-12);
        /* all tied: one step at precision 2/4 */
        ASSERT_NEAR(quality_pr_auc((float[]){1, 1, 1, 1}, (uint8_t[]){1, 0, 0, 1}, 4), 0.5, 1e-12);
        ASSERT_TRUE(isnan(quality_pr_auc((float[]){1, 2}, (uint8_t[]){0, 0}, 2)));
}

TEST(folds_stratified_and_complete)
{
        uint8_t labels[103], fold[103];
        unsigned per[5][2] = {{0}};
        for (int i = 0; i < 103; i++)
                labels[i] = i % 3 == 0;
        ASSERT_OK(quality_folds(labels, 103, 5, 7, fold));
        for (int i = 0; i < 103; i++) {
                ASSERT_TRUE(fold[i] < 5);
                per[fold[i]][labels[i]]++;
        }
        for (int f = 0; f < 5; f++) {
                ASSERT_TRUE(per[f][1] >= 6 && per[f][1] <= 8);   /* 35 likes / 5 */
                ASSERT_TRUE(per[f][0] >= 13 && per[f][0] <= 14); /* 68 dislikes / 5 */
                ASSERT_TRUE(per[f][0] + per[f][1] >= 20 && per[f][0] + per[f][1] <= 21);
        }
        ASSERT_ERROR(quality_folds(labels, 103, 1, 7, fold), EINVAL);
}

/* n posts with 40 tags each among 200; tags 0…9 push towards like, 10…19 away. */
typedef struct Synth {
        size_t n;
        uint32_t *offsets, *ids;
        uint8_t *labels;
} Synth;

static void synth(Synth *s, size_t n, double noise)
{
        s->n = n;
        s->offsets = malloc((n + 1) * sizeof(uint32_t));
        s->ids = malloc(n * 8 * sizeof(uint32_t));
        s->labels = malloc(n);
        s->offsets[0] = 0;
        for (size_t i = 0; i < n; i++) {
                uint8_t used[200] = {0};
                double z = 0;
                uint32_t k = s->offsets[i];
                for (int t = 0; t < 8; t++) {
                        uint32_t id = (uint32_t)(unif() * 200);
                        if (used[id])
                                continue;
                        used[id] = 1;
                        z += id < 10 ? 1.5 : id < 20 ? -1.5 : 0;
                }
                for (uint32_t id = 0; id < 200; id++) /* strictly increasing, as vocab gives them */
                        if (used[id])
                                s->ids[k++] = id;
                s->offsets[i + 1] = k;
                s->labels[i] = z + noise * gauss() > 0;
        }
}

static void synth_done(Synth *s)
{
        free(s->offsets);
        free(s->ids);
        free(s->labels);
}

TEST(logreg_finds_planted_weights)
{
        Synth s;
        synth(&s, 1500, 0.5);
        LogregData d = {.n = s.n, .labels = s.labels, .offsets = s.offsets, .ids = s.ids, .n_sparse = 200};
        Logreg m = {0};
        ASSERT_OK(logreg_fit(&d, NULL, 0, 0.001, &m));
        double good = 0, bad = 0, neutral = 0;
        for (int j = 0; j < 10; j++)
                good += m.w[j] / 10;
        for (int j = 10; j < 20; j++)
                bad += m.w[j] / 10;
        for (int j = 20; j < 200; j++)
                neutral += fabs(m.w[j]) / 180;
        ASSERT_TRUE(good > 1.0);
        ASSERT_TRUE(bad < -1.0);
        ASSERT_TRUE(neutral < 0.35 * good);
        /* a stronger penalty shrinks the weights */
        Logreg m2 = {0};
        ASSERT_OK(logreg_fit(&d, NULL, 0, 0.3, &m2));
        ASSERT_TRUE(fabs(m2.w[0]) < fabs(m.w[0]));
        logreg_done(&m);
        logreg_done(&m2);
        ASSERT_ERROR(logreg_fit(&d, NULL, 0, -1, &m), EINVAL);
        synth_done(&s);
}

TEST(logreg_cv_out_of_fold)
{
        Synth s;
        synth(&s, 800, 0.8);
        LogregData d = {.n = s.n, .labels = s.labels, .offsets = s.offsets, .ids = s.ids, .n_sparse = 200};
        uint8_t *fold = malloc(s.n);
        float *oof = malloc(s.n * sizeof(float));
        double lambda;
        ASSERT_OK(quality_folds(s.labels, s.n, 5, 1, fold));
        ASSERT_OK(logreg_cv(&d, fold, 5, logreg_lambda_grid, logreg_lambda_grid_n, INFINITY, &lambda, oof));
        ASSERT_TRUE(lambda < 0.3); /* the strongest penalty flattens a strong signal */
        double auc = metrics_roc_auc(oof, s.labels, s.n);
        ASSERT_TRUE(auc > 0.78); /* a weak signal: about 0.4 telling tags per post */
        /* out of fold is below in-sample with a weak penalty */
        Logreg m = {0};
        float *ins = malloc(s.n * sizeof(float));
        ASSERT_OK(logreg_fit(&d, NULL, 0, 0.0003, &m));
        for (size_t i = 0; i < s.n; i++)
                ins[i] = (float)logreg_logit(&m, &d, i);
        ASSERT_TRUE(metrics_roc_auc(ins, s.labels, s.n) > auc);
        /* rare tags left out: with use_sparse all 0 the model is the prior */
        uint8_t none[200] = {0};
        d.use_sparse = none;
        ASSERT_OK(logreg_cv(&d, fold, 5, logreg_lambda_grid, logreg_lambda_grid_n, INFINITY, &lambda, oof));
        ASSERT_TRUE(fabs(metrics_roc_auc(oof, s.labels, s.n) - 0.5) < 0.1);
        logreg_done(&m);
        free(ins);
        free(fold);
        free(oof);
        synth_done(&s);
}

TEST(platt_recovers_a_known_miscalibration)
{
        /* true P(like) = σ(z); the model reports 3z − 1 */
        size_t n = 4000;
        float *logit = malloc(n * sizeof(float)), *prob = malloc(n * sizeof(float)),
              *raw = malloc(n * sizeof(float));
        uint8_t *y = malloc(n);
        for (size_t i = 0; i < n; i++) {
                double z = 2 * gauss();
                y[i] = unif() < 1 / (1 + exp(-z));
                logit[i] = (float)(3 * z - 1);
                raw[i] = (float)(1 / (1 + exp(-logit[i])));
        }
        QualityCalibration c;
        QualityCalibrator cal;
        ASSERT_OK(quality_calibrate(logit, y, n, NULL, 0, &c, &cal, prob));
        ASSERT_STREQ(c.method, "platt");
        ASSERT_NEAR(cal.a, c.a, 1e-12);
        ASSERT_NEAR(c.a, 1.0 / 3.0, 0.04);
        ASSERT_NEAR(c.b, 1.0 / 3.0, 0.1);
        double ece_raw;
        QualityBin bins[QUALITY_BINS];
        quality_reliability(raw, y, n, bins, &ece_raw);
        ASSERT_TRUE(c.ece < 0.03);
        ASSERT_TRUE(ece_raw > 2 * c.ece);
        /* the table adds up and each bin's mean lies in it */
        uint32_t total = 0;
        for (int b = 0; b < QUALITY_BINS; b++) {
                total += c.bins[b].n;
                if (c.bins[b].n)
                        ASSERT_TRUE(c.bins[b].mean_prob >= c.bins[b].lo &&
                                    c.bins[b].mean_prob <= c.bins[b].hi);
        }
        ASSERT_EQ(total, n);
        /* calibration is monotone: the ranking (AUC) is unchanged */
        ASSERT_NEAR(metrics_roc_auc(prob, y, n), metrics_roc_auc(logit, y, n), 1e-9);
        free(logit);
        free(prob);
        free(raw);
        free(y);
}

TEST(isotonic_fits_a_shape_no_sigmoid_can)
{
        /* P(like) rises steeply in the middle and flattens at 0.25/0.75 in
         * the tails (overconfident logits): cross-fitted isotonic beats Platt */
        size_t n = 3000;
        float *logit = malloc(n * sizeof(float)), *prob = malloc(n * sizeof(float));
        uint8_t *y = malloc(n), *fold = malloc(n);
        for (size_t i = 0; i < n; i++) {
                double z = 6 * gauss(), p = z < -1 ? 0.25 : z > 1 ? 0.75 : 0.5 + 0.25 * z;
                logit[i] = (float)z;
                y[i] = unif() < p;
        }
        ASSERT_OK(quality_folds(y, n, 5, 3, fold));
        QualityCalibration c;
        QualityCalibrator cal;
        ASSERT_OK(quality_calibrate(logit, y, n, fold, 5, &c, &cal, prob));
        ASSERT_STREQ(c.method, "isotonic");
        ASSERT_TRUE(c.brier_isotonic < c.brier_platt);
        ASSERT_TRUE(c.ece < 0.04);
        ASSERT_TRUE(cal.n_knots >= 2);
        for (uint32_t j = 1; j < cal.n_knots; j++)
                ASSERT_TRUE(cal.knot_x[j] > cal.knot_x[j - 1] && cal.knot_y[j] > cal.knot_y[j - 1]);
        /* the flat tails: PAV still follows some noise there */
        ASSERT_NEAR(quality_calibrator_apply(&cal, -30), 0.25, 0.1);
        ASSERT_NEAR(quality_calibrator_apply(&cal, 30), 0.75, 0.1);
        /* linear between knots */
        double mid = 0.5 * (cal.knot_x[0] + cal.knot_x[1]);
        ASSERT_NEAR(quality_calibrator_apply(&cal, mid), 0.5 * (cal.knot_y[0] + cal.knot_y[1]), 1e-6);
        free(logit);
        free(prob);
        free(y);
        free(fold);
}

TEST(reliability_by_hand)
{
        QualityBin bins[QUALITY_BINS];
        double ece;
        /* bin 0: p 0.05, 0.05, labels 0, 1 → mean 0.05, frac 0.5; bin 9: p 0.95, label 1 */
        quality_reliability((float[]){0.05f, 0.05f, 0.95f}, (uint8_t[]){0, 1, 1}, 3, bins, &ece);
        ASSERT_EQ(bins[0].n, 2u);
        ASSERT_EQ(bins[9].n, 1u);
        ASSERT_TRUE(isnan(bins[5].mean_prob));
        ASSERT_NEAR(ece, (2.0 / 3.0) * 0.45 + (1.0 / 3.0) * 0.05, 1e-6);
        /* p = 1.0 falls in the last bin */
        quality_reliability((float[]){1.0f}, (uint8_t[]){1}, 1, bins, &ece);
        ASSERT_EQ(bins[9].n, 1u);
}

static double ece_of(const float *p, const uint8_t *y, size_t n)
{
        QualityBin bins[QUALITY_BINS];
        double ece;
        quality_reliability(p, y, n, bins, &ece);
        return ece;
}

TEST(ece_floor_by_hand)
{
        double floor;
        /* probabilities of 0 and 1 are certain: a perfectly calibrated score shows no error */
        ASSERT_OK(quality_ece_floor((float[]){0, 1, 0, 1}, 4, 1, &floor));
        ASSERT_NEAR(floor, 0, 1e-12);
        /* one post at 0.3: |0.3 − y| is 0.7 with P 0.3 and 0.3 with P 0.7 → 0.42 */
        ASSERT_OK(quality_ece_floor((float[]){0.3f}, 1, 1, &floor));
        ASSERT_NEAR(floor, 0.42, 0.04);
        ASSERT_ERROR(quality_ece_floor((float[]){NAN}, 1, 1, &floor), EINVAL);
        ASSERT_ERROR(quality_ece_floor(NULL, 0, 1, &floor), EINVAL);
}

/* The floor is what a perfectly calibrated score shows: ≈ √(2/π)·Σ n_b/n·
 * √(p(1−p)/n_b), shrinking as 1/√n; a calibrated score's ECE lies near it,
 * a miscalibrated one's far above it, and 0.05 is a bar that 1,000 posts can
 * hold a calibrated score to and 263 cannot. */
TEST(ece_noise_floor)
{
        size_t n = 4000;
        float *p = malloc(n * sizeof(float)), *over = malloc(n * sizeof(float)),
              *half = malloc(n * sizeof(float));
        uint8_t *y = malloc(n);
        double floor, floor_over, f1000 = 0, f263 = 0, e1000 = 0, e263 = 0;
        for (size_t i = 0; i < n; i++) {
                double z = 1.5 * gauss();
                p[i] = (float)(1 / (1 + exp(-z)));
                over[i] = (float)(1 / (1 + exp(-2.5 * z))); /* overconfident */
                half[i] = 0.5f;
                y[i] = unif() < p[i];
        }
        /* p = ½ everywhere, one bin: E|Binomial(400, ½) − 200|/400 ≈ √(2/π)·½/√400 */
        ASSERT_OK(quality_ece_floor(half, 400, 3, &floor));
        ASSERT_NEAR(floor, sqrt(2 / M_PI) * 0.5 / 20, 0.002);

        double ece = ece_of(p, y, n), ece_over = ece_of(over, y, n);
        ASSERT_OK(quality_ece_floor(p, n, 3, &floor));
        ASSERT_OK(quality_ece_floor(over, n, 3, &floor_over));
        fprintf(stderr, "4000 posts: calibrated ECE %.4f (floor %.4f), overconfident %.4f (floor %.4f)\n",
                ece, floor, ece_over, floor_over);
        ASSERT_TRUE(ece < 2 * floor);
        ASSERT_TRUE(ece_over > 5 * floor_over);
        /* 1/√n: 15 slices of 263 posts and 4 of 1,000, each its own sample */
        for (size_t k = 0; k < 15; k++) {
                double f;
                ASSERT_OK(quality_ece_floor(p + 263 * k, 263, 3, &f));
                e263 += ece_of(p + 263 * k, y + 263 * k, 263) / 15;
                f263 += f / 15;
        }
        for (size_t k = 0; k < 4; k++) {
                double f;
                ASSERT_OK(quality_ece_floor(p + 1000 * k, 1000, 3, &f));
                e1000 += ece_of(p + 1000 * k, y + 1000 * k, 1000) / 4;
                f1000 += f / 4;
        }
        fprintf(stderr,
                "mean ECE of a calibrated score: 263 posts %.4f (floor %.4f), 1,000 posts %.4f (floor "
                "%.4f)\n",
                e263, f263, e1000, f1000);
        ASSERT_NEAR(f263 / f1000, sqrt(1000.0 / 263.0), 0.25);
        ASSERT_NEAR(e263, f263, 0.3 * f263);
        ASSERT_NEAR(e1000, f1000, 0.3 * f1000);
        ASSERT_TRUE(f263 > 0.05);   /* 0.05 is within the noise of 263 posts */
        ASSERT_TRUE(f1000 < 0.035); /* and above the noise of 1,000 */
        free(p);
        free(over);
        free(half);
        free(y);
}

TEST(scores_and_bootstrap)
{
        size_t n = 400;
        float *p = malloc(n * sizeof(float));
        uint8_t *y = malloc(n);
        for (size_t i = 0; i < n; i++) {
                double z = gauss();
                y[i] = unif() < 1 / (1 + exp(-2 * z));
                p[i] = (float)(1 / (1 + exp(-2 * z)));
        }
        QualityScores q, q_small;
        ASSERT_OK(quality_scores(p, y, n, QUALITY_BOOTSTRAP, 1, &q));
        ASSERT_TRUE(q.roc_auc_lo < q.roc_auc && q.roc_auc < q.roc_auc_hi);
        ASSERT_TRUE(q.pr_auc_lo < q.pr_auc && q.pr_auc < q.pr_auc_hi);
        ASSERT_TRUE(q.roc_auc_hi - q.roc_auc_lo < 0.15);
        ASSERT_EQ(q.n_pos + q.n_neg, n);
        ASSERT_TRUE(q.brier > 0 && q.brier < 0.25);
        ASSERT_TRUE(isfinite(q.precision_at_10) && isfinite(q.precision_at_50));
        /* 60 posts: precision@50 would use most of them, so it is not reported; the CI widens */
        ASSERT_OK(quality_scores(p, y, 60, QUALITY_BOOTSTRAP, 1, &q_small));
        ASSERT_TRUE(isfinite(q_small.precision_at_10));
        ASSERT_TRUE(isnan(q_small.precision_at_50));
        ASSERT_TRUE(q_small.roc_auc_hi - q_small.roc_auc_lo > q.roc_auc_hi - q.roc_auc_lo);
        ASSERT_ERROR(quality_scores(p, y, 0, 10, 1, &q), EINVAL);
        ASSERT_NEAR(quality_flip_rate((float[]){0.4f, 0.6f, 0.5f}, (float[]){0.6f, 0.7f, 0.49f}, 3, 0.5),
                    2.0 / 3.0, 1e-12);
        free(p);
        free(y);
}

TEST(json_round_trip)
{
        ModelQuality q = {.version = QUALITY_VERSION,
                          .folds = 5,
                          .n = 100,
                          .n_pos = 60,
                          .n_neg = 40,
                          .threshold = 0.5,
                          .baseline_min_count = 2,
                          .baseline_tags = 33,
                          .baseline_lambda = 0.01,
                          .time_n_train = 80,
                          .time_n_test = 20};
        snprintf(q.combination, sizeof(q.combination), "stack");
        q.model =
                (QualityScores){0.71, 0.65, 0.77, 0.8, 0.75, 0.85, 0.2, 0.6, 0.03, 0.025, 0.9, NAN, 60, 40};
        q.baseline =
                (QualityScores){0.65, 0.6, 0.7, 0.75, 0.7, 0.8, 0.22, 0.64, 0.04, 0.025, 0.8, NAN, 60, 40};
        q.tower_tags = q.baseline;
        q.time_model = q.model;
        q.time_baseline = q.baseline;
        float lg[] = {-2, -1, 0, 1, 2, 3}, pr[6];
        QualityCalibrator cal;
        ASSERT_OK(
                quality_calibrate(lg, (uint8_t[]){0, 0, 1, 0, 1, 1}, 6, NULL, 0, &q.calibration, &cal, pr));
        json_object *o = model_quality_to_json(&q);
        ASSERT_TRUE(o != NULL);
        /* through text, as it is stored */
        json_object *back = json_tokener_parse(json_object_to_json_string(o));
        ModelQuality r;
        ASSERT_OK(model_quality_from_json(back, &r));
        ASSERT_EQ(r.folds, 5u);
        ASSERT_STREQ(r.combination, "stack");
        ASSERT_NEAR(r.model.roc_auc, 0.71, 1e-12);
        ASSERT_NEAR(r.model.roc_auc_lo, 0.65, 1e-12);
        ASSERT_NEAR(r.baseline.pr_auc_hi, 0.8, 1e-12);
        ASSERT_TRUE(isnan(r.model.precision_at_50));
        ASSERT_NEAR(r.model.precision_at_10, 0.9, 1e-12);
        ASSERT_EQ(r.tower_head.n_pos, 0u); /* not measured */
        ASSERT_EQ(r.time_n_test, 20u);
        ASSERT_NEAR(r.calibration.a, q.calibration.a, 1e-9);
        ASSERT_NEAR(r.model.ece_floor, 0.025, 1e-12);
        ASSERT_TRUE(q.calibration.ece_floor > 0);
        ASSERT_NEAR(r.calibration.ece_floor, q.calibration.ece_floor, 1e-9);
        ASSERT_EQ(r.calibration.bins[9].n, q.calibration.bins[9].n);
        ASSERT_EQ(r.baseline_tags, 33u);
        json_object_put(back);
        /* not ours: refused */
        json_object_object_add(o, "version", json_object_new_int(99));
        ASSERT_ERROR(model_quality_from_json(o, &r), EBADMSG);
        json_object_put(o);
}

TEST(per_artist_cap)
{
        /* scores 9…0; artist 7 drew the five best, artist 8 two, post 6 has none */
        float s[] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
        uint32_t offs[] = {0, 1, 2, 3, 4, 5, 6, 6, 7, 8, 10};
        uint32_t art[] = {7, 7, 7, 7, 7, 8, 8, 9, 8, 7};
        uint32_t order[10];
        ASSERT_OK(diversify_by_artist(s, offs, art, 10, 2, order));
        /* 0, 1 (artist 7 full), 5 (8), 6 (none), 7 (8, now full), 8 (9); then the waiting, best first */
        uint32_t want[] = {0, 1, 5, 6, 7, 8, 2, 3, 4, 9};
        for (int i = 0; i < 10; i++)
                ASSERT_EQ(order[i], want[i]);
        /* cap 0: score order */
        ASSERT_OK(diversify_by_artist(s, offs, art, 10, 0, order));
        for (uint32_t i = 0; i < 10; i++)
                ASSERT_EQ(order[i], i);
}

TEST_MAIN()
