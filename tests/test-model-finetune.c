/* SPDX-License-Identifier: MIT */
/* model_train() with fine-tuning, on a synthetic dataset made so that only a
 * tuned layer can see the taste: the label follows channel 0 of the
 * activations entering the layer, and the layer's starting weights ignore
 * channel 0. Views: view 0 plain, view 1 with noise (standing in for a
 * crop). Must hold: the fine-tuning stage runs and reports, the tuned layer
 * is kept only when it raised the validation AUC (and the final metrics are
 * those of the tuned features), a learning rate too small to move anything
 * keeps the head alone, and bad fine-tuning options are refused. */
#include <math.h>

#include "half.h"
#include "model.h"
#include "vk-test.h"

#define HW 4
#define CIN 6
#define COUT 5
#define OTHER 8
#define D (OTHER + 2 * COUT)
#define N 400
#define VIEWS 2

typedef struct Synth {
        ModelDataset *ds;
        uint16_t act[N * VIEWS * HW * CIN];
        float features[N * VIEWS * D];
        float w[CIN * COUT], b[COUT];
        ModelFinetuneData fd;
} Synth;

static void c_tail(const Synth *s, const float *a, float *out)
{
        for (int k = 0; k < COUT; k++) {
                double sum = 0, mx = 0;
                for (int p = 0; p < HW; p++) {
                        double y = s->b[k];
                        for (int j = 0; j < CIN; j++)
                                y += (double)a[p * CIN + j] * s->w[j * COUT + k];
                        y = fmin(fmax(y, 0), 6);
                        sum += y;
                        mx = fmax(mx, y);
                }
                out[k] = (float)(sum / HW);
                out[COUT + k] = (float)mx;
        }
}

static Synth *make_synth(void)
{
        static const ModelFeatureSet sets[] = {{"b16_project", 0, OTHER}, {"final", OTHER, 2 * COUT}};
        static Synth s;

        ASSERT_OK(model_dataset_new(D, 1, sets, 2, &s.ds));
        vkt_seed(21);
        for (int j = 0; j < CIN * COUT; j++)
                s.w[j] = j / COUT == 0 ? 0 : vkt_uniform(-0.5f, 0.5f); /* blind to channel 0 */
        for (int k = 0; k < COUT; k++)
                s.b[k] = 1.0f;
        for (int i = 0; i < N; i++) {
                float a[HW * CIN], c0 = 0;
                for (int p = 0; p < HW; p++)
                        for (int j = 0; j < CIN; j++) {
                                a[p * CIN + j] = vkt_normal();
                                if (j == 0)
                                        c0 += a[p * CIN + j];
                        }
                int label = c0 + 0.5f * vkt_normal() > 0 ? 1 : -1;
                for (int v = 0; v < VIEWS; v++) {
                        float av[HW * CIN];
                        float *x = s.features + ((size_t)i * VIEWS + v) * D;
                        for (int k = 0; k < HW * CIN; k++) {
                                av[k] = half_to_float(half_from_float(a[k] + (v ? 0.2f * vkt_normal() : 0)));
                                s.act[((size_t)i * VIEWS + v) * HW * CIN + k] = half_from_float(av[k]);
                        }
                        for (int j = 0; j < OTHER; j++)
                                x[j] = vkt_normal(); /* nothing to see here */
                        c_tail(&s, av, x + OTHER);
                }
                ASSERT_OK(model_dataset_add(s.ds, s.features + (size_t)i * VIEWS * D, NULL, 0, label));
        }
        s.fd = (ModelFinetuneData){.set = "final",
                                   .node = "Conv_1",
                                   .hw = HW,
                                   .cin = CIN,
                                   .cout = COUT,
                                   .weight = s.w,
                                   .bias = s.b,
                                   .n_views = VIEWS,
                                   .act = s.act,
                                   .features = s.features,
                                   .budget_share = 0.6,
                                   .lr = 1e-2f,
                                   .patience = 30};
        return &s;
}

typedef struct Seen {
        unsigned finetune;
        double first_auc;
} Seen;

static int on_progress(ModelStage stage, unsigned epoch, double loss, double val_auc, double left, void *ud)
{
        Seen *s = ud;
        if (stage == MODEL_STAGE_FINETUNE) {
                if (s->finetune++ == 0)
                        s->first_auc = val_auc;
                ASSERT_STREQ(model_stage_to_string(stage), "fine-tuning");
        }
        return 0;
}

/* Untimed trainings with fine-tuning whose results are not checked, until one
 * has run an epoch of it: the first run on these shapes builds the head's and
 * the tuned layer's pipelines (seconds of LLVM on a cold shader cache, as on
 * a fresh CI machine), which would otherwise eat the 6 s budget before
 * fine-tuning's first epoch. */
static void warm_up(Synth *s)
{
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        Seen seen = {};

        o.folds = 0;
        o.time_budget_s = 2;
        o.max_epochs = 1;
        o.use_tags = false;
        o.finetune = &s->fd;
        o.progress = on_progress;
        o.userdata = &seen;
        for (int i = 0; i < 5 && seen.finetune < 2; i++) {
                Model *m;
                seen.finetune = 0;
                ASSERT_OK(model_train(vkt_engine(), s->ds, &o, &m, NULL, NULL));
                model_free(m);
        }
}

static Model *train(Synth *s, float lr)
{
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        o.folds = 0; /* the head alone: cross-validation is test-model-cv's */
        Seen seen = {};
        Model *m;

        s->fd.lr = lr;
        warm_up(s);
        o.time_budget_s = 6;
        o.use_tags = false;
        o.finetune = &s->fd;
        o.progress = on_progress;
        o.userdata = &seen;
        ASSERT_OK(model_train(vkt_engine(), s->ds, &o, &m, NULL, NULL));
        fprintf(stderr, "  lr %g: %u fine-tuning reports, AUC at its start %.3f; model AUC %.3f, %s\n",
                (double)lr, seen.finetune, seen.first_auc, m->metrics.roc_auc,
                m->tail ? "tuned layer kept" : "head alone");
        ASSERT_TRUE(seen.finetune >= 2);
        return m;
}

TEST(tuning_finds_what_the_layer_hid)
{
        Synth *s = make_synth();
        _cleanup_(model_freep) Model *m = train(s, 1e-2f);

        ASSERT_TRUE(m->tail != NULL);
        fprintf(stderr, "  validation AUC: head alone %.3f, tuned %.3f\n", m->tail->auc_head,
                m->tail->auc_tuned);
        ASSERT_TRUE(m->tail->auc_head < 0.7);
        ASSERT_TRUE(m->tail->auc_tuned > m->tail->auc_head + 0.15);
        /* the final metrics were computed through the tuned layer */
        ASSERT_NEAR(m->metrics.roc_auc, m->tail->auc_tuned, 0.02);
        ASSERT_EQ(model_tail_set(m), 1);
        ASSERT_TRUE(m->set_mask & 2u);
        /* channel 0 now reaches the features */
        double w0 = 0;
        for (int k = 0; k < COUT; k++)
                w0 += fabs(m->tail->weight[k]);
        ASSERT_TRUE(w0 > 1e-3);
        model_dataset_free(s->ds);
}

TEST(no_gain_keeps_the_head)
{
        Synth *s = make_synth();
        _cleanup_(model_freep) Model *m = train(s, 1e-12f);
        /* the layer cannot move: whatever the head's last steps did, a kept
         * tail would have to beat the head-only AUC it started from */
        if (m->tail)
                ASSERT_TRUE(m->tail->auc_tuned > m->tail->auc_head);
        ASSERT_TRUE(m->metrics.roc_auc < 0.75);
        model_dataset_free(s->ds);
}

TEST(bad_options_refused)
{
        Synth *s = make_synth();
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        o.folds = 0; /* the head alone: cross-validation is test-model-cv's */
        Error error = {};
        Model *m = NULL;

        o.time_budget_s = 1;
        o.finetune = &s->fd;
        s->fd.budget_share = 0.95;
        ASSERT_EQ(model_train(vkt_engine(), s->ds, &o, &m, NULL, &error), -EINVAL);
        s->fd.budget_share = 0.5;
        s->fd.n_views = 0;
        ASSERT_EQ(model_train(vkt_engine(), s->ds, &o, &m, NULL, NULL), -EINVAL);
        s->fd.n_views = VIEWS;
        s->fd.set = "b16_project"; /* 8 floats, not 2·5 */
        ASSERT_EQ(model_train(vkt_engine(), s->ds, &o, &m, NULL, NULL), -EINVAL);
        ASSERT_TRUE(m == NULL);
        model_dataset_free(s->ds);
}

TEST_MAIN()
