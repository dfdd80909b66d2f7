/* SPDX-License-Identifier: MIT */
/* A prediction's explanation adds up: for real trained models (the head with
 * image features, the head on tags alone, and a cross-validated combination
 * with the tag tower and calibration), bias + image + tags equals the logit
 * the device computed, the score is that logit's sigmoid (or the isotonic
 * calibration of it), and the listed tag pushes are every tag's share. */
#include <math.h>

#include "model.h"
#include "quality.h"
#include "vk-test.h"

#define D 16
#define V 30
#define N 240

static ModelDataset *make_dataset(void)
{
        ModelDataset *ds;
        float x[D];

        ASSERT_OK(model_dataset_new(D, V, NULL, 0, &ds));
        vkt_seed(5);
        for (int i = 0; i < N; i++) {
                uint32_t tags[3];
                size_t nt = 0;
                /* at most 3 tags, so both direction lists together hold all of them */
                for (uint32_t t = vkt_u32() % 8; t < V && nt < 3; t += 1 + vkt_u32() % 12)
                        tags[nt++] = t;
                for (int j = 0; j < D; j++)
                        x[j] = vkt_normal();
                double g = 0;
                for (size_t k = 0; k < nt; k++)
                        g += tags[k] < 5 ? 1.5 : tags[k] >= 25 ? -1.5 : 0;
                ASSERT_OK(model_dataset_add(ds, x, tags, nt, x[0] + g + 0.3 * vkt_normal() > 0 ? 1 : -1));
        }
        return ds;
}

static Model *train(const ModelDataset *ds, bool features, unsigned folds)
{
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        Model *m;
        /* epochs, not the clock, end training; the budget is a ceiling */
        o.time_budget_s = 120;
        o.max_epochs = 15;
        o.ensemble = 2; /* a wider head made of two: still one linear map per post */
        o.select_feature_sets = false;
        o.use_features = features;
        o.folds = folds;
        o.vocabulary = "{}";
        ASSERT_OK(model_train(vkt_engine(), ds, &o, &m, NULL, NULL));
        return m;
}

static void check(const Model *m, const ModelDataset *ds, bool expect_image)
{
        static float prob[N];
        static ModelExplanation ex[N];
        double worst = 0, image_abs = 0;

        ASSERT_OK(model_predict(m, vkt_engine(), ds->features, ds->tag_offsets, ds->tags, ds->n, prob, ex));
        for (size_t i = 0; i < ds->n; i++) {
                const ModelExplanation *e = &ex[i];
                double sum = e->bias + e->image + e->tags, listed = 0;
                ASSERT_TRUE(isfinite(e->logit) && isfinite(sum));
                ASSERT_NEAR(sum, e->logit, 1e-3 * (1 + fabs(e->logit)));
                worst = MAX(worst, fabs(sum - e->logit));
                image_abs += fabs(e->image);

                /* the score is a function of this logit */
                if (streq(e->calibration, "isotonic"))
                        ASSERT_NEAR(quality_calibrator_apply(&m->combine.cal, e->logit), prob[i], 1e-5);
                else
                        ASSERT_NEAR(1 / (1 + exp(-e->logit)), prob[i], 1e-5);

                /* both lists ordered, each in its own direction; together every tag */
                for (int k = 0; k < MODEL_EXPLAIN_TAGS; k++) {
                        if (e->up[k].tag != UINT32_MAX) {
                                ASSERT_TRUE(e->up[k].push > 0);
                                ASSERT_TRUE(k == 0 || e->up[k].push <= e->up[k - 1].push);
                                listed += e->up[k].push;
                        }
                        if (e->down[k].tag != UINT32_MAX) {
                                ASSERT_TRUE(e->down[k].push < 0);
                                ASSERT_TRUE(k == 0 || e->down[k].push >= e->down[k - 1].push);
                                listed += e->down[k].push;
                        }
                }
                ASSERT_NEAR(listed, e->tags, 1e-4 * (1 + fabs(e->tags)));
        }
        fprintf(stderr,
                "  %s, calibration %s: worst |bias + image + tags - logit| %.2g, mean |image| %.3f\n",
                model_towers(m), ex[0].calibration, worst, image_abs / ds->n);
        /* the picture's share is there exactly when the model looks at it */
        if (expect_image)
                ASSERT_TRUE(image_abs / ds->n > 0.05);
        else
                ASSERT_TRUE(image_abs == 0);
}

TEST(head_with_image_features)
{
        _cleanup_(model_dataset_freep) ModelDataset *ds = make_dataset();
        _cleanup_(model_freep) Model *m = train(ds, true, 0);
        check(m, ds, true);
        /* the liked tags push up and the disliked down, on average */
        static float prob[N];
        static ModelExplanation ex[N];
        ASSERT_OK(model_predict(m, vkt_engine(), ds->features, ds->tag_offsets, ds->tags, ds->n, prob, ex));
        double up = 0, down = 0;
        for (size_t i = 0; i < ds->n; i++)
                for (int k = 0; k < MODEL_EXPLAIN_TAGS; k++) {
                        up += ex[i].up[k].tag < 5 ? 1 : 0;
                        down += ex[i].down[k].tag >= 25 && ex[i].down[k].tag != UINT32_MAX ? 1 : 0;
                }
        ASSERT_TRUE(up > 0 && down > 0);
}

TEST(head_on_tags_only)
{
        _cleanup_(model_dataset_freep) ModelDataset *ds = make_dataset();
        _cleanup_(model_freep) Model *m = train(ds, false, 0);
        ASSERT_STREQ(model_towers(m), "tags");
        check(m, ds, false);
}

TEST(cross_validated_combination)
{
        _cleanup_(model_dataset_freep) ModelDataset *ds = make_dataset();
        _cleanup_(model_freep) Model *m = train(ds, true, 2);
        ASSERT_FALSE(isempty(m->combine.kind));
        check(m, ds, !streq(m->combine.kind, "tags"));
        /* isotonic calibration, the branch without a logit of the score */
        Model *iso = m;
        QualityCalibrator saved = iso->combine.cal;
        iso->combine.cal = (QualityCalibrator){
                .method = "isotonic", .n_knots = 3, .knot_x = {-2, 0, 2}, .knot_y = {0.1f, 0.5f, 0.9f}};
        check(iso, ds, !streq(m->combine.kind, "tags"));
        iso->combine.cal = saved;
}

TEST_MAIN()
