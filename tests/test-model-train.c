/* SPDX-License-Identifier: MIT */
/* The trainer on the Vulkan engine, on a synthetic taste that needs both
 * towers: the label is the sign of (a direction in the image features) +
 * (liked minus disliked tags) + noise. Must survive: too few labels
 * (-ENODATA with a message for the user), a cancel from another thread,
 * a tight time budget. */
#include <pthread.h>
#include <time.h>

#include "model.h"
#include "vk-test.h"

#define N_POSTS 1200
#define DIM_A 48
#define DIM_B 32
#define DIM (DIM_A + DIM_B)
#define VOCAB 150
#define GOOD 0 /* tags 0…14 push towards like */
#define BAD 15 /* tags 15…29 towards dislike */
#define N_SIGNED 15

static const ModelFeatureSet sets[] = {{"mid", 0, DIM_A}, {"late", DIM_A, DIM_B}};

static double feature_part(const float *x)
{
        /* a direction inside set "mid" only, seen through per-feature scale and offset */
        double s = 0;
        for (int j = 0; j < 8; j++)
                s += (x[j] - 3.0 * j) / (1.0 + j);
        return s / sqrt(8.0);
}

static float oracle_f[N_POSTS], oracle_g[N_POSTS];

static ModelDataset *make_dataset(uint64_t seed, size_t n, size_t max_likes)
{
        ModelDataset *ds;
        float x[DIM];
        size_t likes = 0;

        ASSERT_OK(model_dataset_new(DIM, VOCAB, sets, ELEMENTSOF(sets), &ds));
        vkt_seed(seed);
        while (ds->n < n) {
                uint32_t tags[12];
                size_t nt = 0;
                for (int j = 0; j < DIM; j++)
                        x[j] = vkt_normal() * (1.0f + j % 9) + 3.0f * (j % 9); /* scales and offsets */
                /* 12 distinct sorted tags from the vocabulary, by a random walk */
                uint32_t t = vkt_u32() % 12;
                while (nt < 12 && t < VOCAB) {
                        tags[nt++] = t;
                        t += 1 + vkt_u32() % 20;
                }
                double g = 0;
                for (size_t i = 0; i < nt; i++)
                        g += tags[i] < GOOD + N_SIGNED
                                     ? 1
                                     : (tags[i] >= BAD && tags[i] < BAD + N_SIGNED ? -1 : 0);
                double score = feature_part(x) + 0.8 * g + 0.15 * vkt_normal();
                int label = score > 0 ? 1 : -1;
                if (label > 0 && likes >= max_likes)
                        continue;
                likes += label > 0;
                if (ds->n < N_POSTS) {
                        oracle_f[ds->n] = (float)feature_part(x);
                        oracle_g[ds->n] = (float)g;
                }
                ASSERT_OK(model_dataset_add(ds, x, tags, nt, label));
        }
        return ds;
}

typedef struct Progress {
        unsigned calls, epochs;
        double last_left;
        const atomic_bool *cancel_seen;
} Progress;

static int on_progress(ModelStage stage, unsigned epoch, double loss, double val_auc, double left, void *ud)
{
        Progress *p = ud;
        p->calls++;
        if (epoch > 0) {
                p->epochs++;
                ASSERT_TRUE(isfinite(loss) && loss >= 0);
                ASSERT_TRUE(val_auc >= 0 && val_auc <= 1);
        }
        ASSERT_TRUE(left >= 0);
        p->last_left = left;
        return 0;
}

static double train_auc(ModelDataset *ds, bool features, bool tags, double budget, Model **ret)
{
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        o.folds = 0; /* the head alone: cross-validation is test-model-cv's */
        Error error = {};
        ModelMetrics mt;
        Progress p = {};
        Model *m;

        o.time_budget_s = budget;
        o.use_features = features;
        o.use_tags = tags;
        o.progress = on_progress;
        o.userdata = &p;
        o.vocabulary = "{\"opaque\":true}";
        o.backbone = "test-backbone";
        double t0 = (double)now_usec(CLOCK_MONOTONIC) / 1e6;
        ASSERT_OK(model_train(vkt_engine(), ds, &o, &m, &mt, &error));
        double took = (double)now_usec(CLOCK_MONOTONIC) / 1e6 - t0;
        fprintf(stderr,
                "  features %d tags %d: val AUC %.4f, acc %.3f, bal acc %.3f, P@10 %.2f, P@50 %.2f, "
                "threshold %.3f, %u epochs in %.2f s, sets 0x%x\n",
                features, tags, mt.roc_auc, mt.accuracy, mt.balanced_accuracy, mt.precision_at_10,
                mt.precision_at_50, mt.threshold, p.epochs, took, m->set_mask);
        ASSERT_TRUE(took <= budget + 1.0);
        ASSERT_TRUE(p.epochs >= 1);
        ASSERT_EQ(mt.n_pos + mt.n_neg, (uint32_t)(ds->n - m->n_train));
        ASSERT_TRUE(m->threshold > 0 && m->threshold < 1);
        ASSERT_STREQ(m->backbone, "test-backbone");
        if (ret)
                *ret = m;
        else
                model_free(m);
        return mt.roc_auc;
}

/* A short training whose time is not checked: the first run on new shapes
 * builds their pipelines (seconds of LLVM on a cold shader cache, as on a
 * fresh CI machine), and the budgets below are of the training, not of that. */
static void warm_up(ModelDataset *ds)
{
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        Model *m;

        o.folds = 0;
        o.time_budget_s = 0.2;
        ASSERT_OK(model_train(vkt_engine(), ds, &o, &m, NULL, NULL));
        model_free(m);
}

TEST(both_towers_and_ablations)
{
        _cleanup_(model_dataset_freep) ModelDataset *ds = make_dataset(1, N_POSTS, SIZE_MAX);
        size_t likes, dislikes;

        model_dataset_counts(ds, &likes, &dislikes);
        fprintf(stderr,
                "  %zu likes, %zu dislikes; the generator's own parts rank with AUC %.3f (features) "
                "and %.3f (tags) on all posts\n",
                likes, dislikes, metrics_roc_auc(oracle_f, ds->labels, ds->n),
                metrics_roc_auc(oracle_g, ds->labels, ds->n));
        warm_up(ds);
        double both = train_auc(ds, true, true, 4, NULL);
        double feat = train_auc(ds, true, false, 3, NULL);
        double tags = train_auc(ds, false, true, 3, NULL);
        ASSERT_TRUE(both >= 0.9);
        ASSERT_TRUE(feat > 0.6 && feat < both - 0.03);
        ASSERT_TRUE(tags > 0.6 && tags < both - 0.03);
}

typedef struct Stages {
        unsigned seen[_MODEL_STAGE_MAX];
} Stages;

static int count_stages(ModelStage stage, unsigned epoch, double loss, double val_auc, double left, void *ud)
{
        Stages *s = ud;
        ASSERT_TRUE(model_stage_to_string(stage) != NULL);
        s->seen[stage]++;
        return 0;
}

TEST(feature_set_selection)
{
        /* Set "late" carries nothing: with time left after the first candidate,
         * the others are tried, and whatever wins uses set "mid". */
        _cleanup_(model_dataset_freep) ModelDataset *ds = make_dataset(5, 800, SIZE_MAX);
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        o.folds = 0; /* the head alone: cross-validation is test-model-cv's */
        Stages st = {};
        Model *m;

        /* the head must stop early to leave time: under load it ran all of a
         * 3 s budget at the default patience (64 epochs, no set tried) */
        o.time_budget_s = 6;
        o.patience = 20;
        o.use_tags = false;
        o.progress = count_stages;
        o.userdata = &st;
        ASSERT_OK(model_train(vkt_engine(), ds, &o, &m, NULL, NULL));
        fprintf(stderr, "  stages: prepare %u, head %u, feature-sets %u, finish %u; chosen sets 0x%x\n",
                st.seen[MODEL_STAGE_PREPARE], st.seen[MODEL_STAGE_HEAD], st.seen[MODEL_STAGE_SELECT],
                st.seen[MODEL_STAGE_FINISH], m->set_mask);
        ASSERT_EQ(st.seen[MODEL_STAGE_PREPARE], 1u);
        ASSERT_EQ(st.seen[MODEL_STAGE_FINISH], 1u);
        ASSERT_TRUE(st.seen[MODEL_STAGE_SELECT] >= 2);
        ASSERT_TRUE(m->set_mask & 1u);
        /* the unused set's features are switched off in the standardisation */
        if (!(m->set_mask & 2u))
                for (uint32_t j = DIM_A; j < DIM; j++)
                        ASSERT_TRUE(m->inv_std[j] == 0);
        model_free(m);

        /* without selection, every set is used */
        o.select_feature_sets = false;
        memset(&st, 0, sizeof(st));
        ASSERT_OK(model_train(vkt_engine(), ds, &o, &m, NULL, NULL));
        ASSERT_EQ(m->set_mask, 3u);
        ASSERT_EQ(st.seen[MODEL_STAGE_SELECT], 0u);
        model_free(m);
}

TEST(too_few_labels)
{
        _cleanup_(model_dataset_freep) ModelDataset *ds = make_dataset(2, 200, 19);
        Error error = {};
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        o.folds = 0; /* the head alone: cross-validation is test-model-cv's */
        Model *m = NULL;

        ASSERT_ERROR(model_train(vkt_engine(), ds, &o, &m, NULL, &error), ENODATA);
        ASSERT_TRUE(m == NULL);
        ASSERT_TRUE(strstr(error.message, "19 liked") && strstr(error.message, "Like or dislike more"));
        fprintf(stderr, "  %s\n", error.message);
        /* the threshold is the caller's: 19 is enough when it says so */
        o.min_per_class = 19;
        o.time_budget_s = 0.5;
        ASSERT_OK(model_train(vkt_engine(), ds, &o, &m, NULL, NULL));
        model_free(m);
        /* bad options are refused, not trained */
        o.batch_size = 0;
        ASSERT_ERROR(model_train(vkt_engine(), ds, &o, &m, NULL, NULL), EINVAL);
}

/* The shape of the real data: a few hundred posts, thousands of backbone
 * activations (the image part seen weakly in many of them, beside a set of
 * pure noise), tags of which a few are loved or hated, 7% of the labels
 * flipped. A head that memorises the wide features in its first epochs ends
 * below what either tower reaches alone; it must not. */
#define WIDE_POSTS 420
#define WIDE_SIGNAL 1152
#define WIDE_NOISE 640
#define WIDE_DIM (WIDE_SIGNAL + WIDE_NOISE)
#define WIDE_VOCAB 300

static ModelDataset *make_wide_dataset(uint64_t seed)
{
        static const ModelFeatureSet wide_sets[] = {{"signal", 0, WIDE_SIGNAL},
                                                    {"noise", WIDE_SIGNAL, WIDE_NOISE}};
        static float dir[WIDE_SIGNAL], x[WIDE_DIM];
        ModelDataset *ds;

        ASSERT_OK(model_dataset_new(WIDE_DIM, WIDE_VOCAB, wide_sets, ELEMENTSOF(wide_sets), &ds));
        vkt_seed(seed);
        for (int j = 0; j < WIDE_SIGNAL; j++)
                dir[j] = vkt_u32() % 2 ? 0.12f : -0.12f;
        while (ds->n < WIDE_POSTS) {
                uint32_t tags[30];
                size_t nt = 0;
                float object = vkt_u32() % 2 ? 1.0f : -1.0f;
                for (int j = 0; j < WIDE_DIM; j++)
                        x[j] = (j < WIDE_SIGNAL ? object * dir[j] : 0) + vkt_normal();
                int loved = 0, hated = 0;
                for (uint32_t t = vkt_u32() % 10; nt < 30 && t < WIDE_VOCAB; t += 1 + vkt_u32() % 20) {
                        tags[nt++] = t;
                        loved += t < 8;
                        hated += t >= 8 && t < 16;
                }
                double tag_part = (double)(loved - hated) / MAX(1, loved + hated);
                double score = object + 1.5 * tag_part + 0.25 * vkt_normal();
                int label = score > 0 ? 1 : -1;
                if (vkt_u32() % 100 < 7)
                        label = -label;
                ASSERT_OK(model_dataset_add(ds, x, tags, nt, label));
        }
        return ds;
}

TEST(wide_features_small_data)
{
        _cleanup_(model_dataset_freep) ModelDataset *ds = make_wide_dataset(7);

        warm_up(ds);
        double both = train_auc(ds, true, true, 3, NULL);
        double feat = train_auc(ds, true, false, 2, NULL);
        double tags = train_auc(ds, false, true, 2, NULL);
        ASSERT_TRUE(feat > 0.6);
        ASSERT_TRUE(tags > 0.6);
        ASSERT_TRUE(both >= MAX(feat, tags) - 0.02);
}

TEST(time_budget)
{
        _cleanup_(model_dataset_freep) ModelDataset *ds = make_dataset(3, 800, SIZE_MAX);
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        o.folds = 0; /* the head alone: cross-validation is test-model-cv's */
        Model *m;

        warm_up(ds);
        /* no early stop: the budget alone ends training */
        o.time_budget_s = 2.0;
        o.patience = 100000;
        double t0 = (double)now_usec(CLOCK_MONOTONIC) / 1e6;
        ASSERT_OK(model_train(vkt_engine(), ds, &o, &m, NULL, NULL));
        double took = (double)now_usec(CLOCK_MONOTONIC) / 1e6 - t0;
        fprintf(stderr, "  budget 2 s: took %.2f s\n", took);
        ASSERT_TRUE(took >= 1.0 && took <= 3.0);
        model_free(m);
}

typedef struct Canceller {
        atomic_bool flag;
        double set_at;
} Canceller;

static void *cancel_later(void *ud)
{
        Canceller *c = ud;
        nanosleep(&(struct timespec){.tv_nsec = 700 * 1000 * 1000}, NULL);
        c->set_at = (double)now_usec(CLOCK_MONOTONIC) / 1e6;
        atomic_store(&c->flag, true);
        return NULL;
}

TEST(cancel)
{
        _cleanup_(model_dataset_freep) ModelDataset *ds = make_dataset(4, 800, SIZE_MAX);
        Error error = {};
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        o.folds = 0; /* the head alone: cross-validation is test-model-cv's */
        Canceller c = {};
        pthread_t th;
        Model *m = NULL;

        atomic_init(&c.flag, false);
        o.time_budget_s = 60;
        o.patience = 100000;
        o.cancel = &c.flag;
        (void)vkt_engine(); /* device start-up is not part of the measurement */
        ASSERT_EQ(pthread_create(&th, NULL, cancel_later, &c), 0);
        ASSERT_ERROR(model_train(vkt_engine(), ds, &o, &m, NULL, &error), ECANCELED);
        double late = (double)now_usec(CLOCK_MONOTONIC) / 1e6 - c.set_at;
        ASSERT_EQ(pthread_join(th, NULL), 0);
        fprintf(stderr, "  stopped %.3f s after the cancel: %s\n", late, error.message);
        ASSERT_TRUE(m == NULL);
        ASSERT_TRUE(late < 0.5);
}

TEST_MAIN()
