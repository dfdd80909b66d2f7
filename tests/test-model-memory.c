/* SPDX-License-Identifier: MIT */
/* What a training holds per post. With the backbone a post is 4544 floats
 * (18 KB), so every copy of the dataset costs 1.8 GB at 100,000 posts: the
 * training must keep its one copy (the dataset, adopted from the buffer
 * the rows were read into) and work in place beside it. Two trainings, of
 * N_SMALL and N_LARGE posts, each measure the most bytes malloc had handed
 * out at any progress report (every epoch of every head, folds included),
 * above what was in use before the dataset was built; the difference per
 * post must stay under MAX_COPIES rows. Once there were four: the job's
 * buffer and the dataset's copy, the standardised copy of every row, and
 * each fold's copy of its rows with their standardised copy. Exact bytes,
 * not resident pages (those swing with the allocator and the shader
 * compiler), and not timed: epochs, not the clock, end each head. */
#include <malloc.h>
#include <math.h>

#include "model.h"
#include "vk-test.h"

#define DIM 4544 /* BACKBONE_EMBED_DIM */
#define VOCAB 64
#define N_SMALL 60
#define N_LARGE 460
/* the dataset's row and slack: under the two a duplicate would add */
#define MAX_COPIES 1.5

static const ModelFeatureSet sets[] = {{"mid", 0, 1024}, {"late", 1024, DIM - 1024}};

static size_t in_use(void)
{
        struct mallinfo2 mi = mallinfo2();
        return mi.uordblks + mi.hblkhd;
}

static size_t peak;

static int on_progress(ModelStage stage, unsigned epoch, double loss, double val_auc, double left, void *ud)
{
        peak = MAX(peak, in_use());
        return 0;
}

static float feature(size_t i, uint32_t j)
{
        return (float)((i * 7 + j * 13) % 101) / 101.0f - 0.5f;
}

/* As the train job builds it: the rows read into one buffer, which the
 * dataset adopts; row BAD is non-finite and left out, the rows after it
 * move down. */
#define BAD 5
static ModelDataset *make_dataset(size_t n)
{
        ModelDataset *ds;
        float *x = malloc(n * DIM * sizeof(float));

        ASSERT_TRUE(x);
        vkt_seed(n);
        for (size_t i = 0; i < n; i++)
                for (uint32_t j = 0; j < DIM; j++)
                        x[i * DIM + j] = i == BAD && j == 7 ? NAN : feature(i, j);
        ASSERT_OK(model_dataset_new(DIM, VOCAB, sets, ELEMENTSOF(sets), &ds));
        ASSERT_OK(model_dataset_adopt_features(ds, x, n));
        for (size_t i = 0; i < n; i++) {
                uint32_t tags[3] = {(uint32_t)(i % 20), 20 + (uint32_t)(i % 7), 40 + vkt_u32() % 24};
                /* a taste in the first feature and the first tag, with noise */
                int label = feature(i, 0) + (tags[0] < 10 ? 0.3 : -0.3) + 0.3 * vkt_normal() > 0 ? 1 : -1;
                int r = model_dataset_add(ds, ds->features + i * DIM, tags, 3, label);
                if (i == BAD)
                        ASSERT_ERROR(r, EINVAL);
                else
                        ASSERT_OK(r);
        }
        ASSERT_EQ(ds->n, n - 1);
        /* the rows moved down in place, intact */
        ASSERT_TRUE(ds->features[(BAD - 1) * DIM + 3] == feature(BAD - 1, 3));
        ASSERT_TRUE(ds->features[BAD * DIM + 3] == feature(BAD + 1, 3));
        ASSERT_TRUE(ds->features[(n - 2) * DIM + DIM - 1] == feature(n - 1, DIM - 1));
        return ds;
}

/* The same as the train job holds it since issue 16: half floats (rows.h),
 * read through model_dataset_rows(), each row within half precision of its
 * float (round to nearest: 2^-11 relative) and exactly the round trip. */
static ModelDataset *make_dataset_half(size_t n)
{
        ModelDataset *ds;
        uint16_t *x = malloc(n * DIM * sizeof(uint16_t));
        float row[DIM];

        ASSERT_TRUE(x);
        vkt_seed(n);
        for (size_t i = 0; i < n; i++)
                for (uint32_t j = 0; j < DIM; j++)
                        x[i * DIM + j] = half_from_float(i == BAD && j == 7 ? INFINITY : feature(i, j));
        ASSERT_OK(model_dataset_new(DIM, VOCAB, sets, ELEMENTSOF(sets), &ds));
        ASSERT_OK(model_dataset_adopt_features_half(ds, x, n));
        for (size_t i = 0; i < n; i++) {
                uint32_t tags[3] = {(uint32_t)(i % 20), 20 + (uint32_t)(i % 7), 40 + vkt_u32() % 24};
                int label = feature(i, 0) + (tags[0] < 10 ? 0.3 : -0.3) + 0.3 * vkt_normal() > 0 ? 1 : -1;
                int r = model_dataset_add_half(ds, ds->features_half + i * DIM, tags, 3, label);
                if (i == BAD)
                        ASSERT_ERROR(r, EINVAL); /* inf */
                else
                        ASSERT_OK(r);
        }
        ASSERT_EQ(ds->n, n - 1);
        ASSERT_TRUE(ds->features == NULL);
        FeatureRows rows = model_dataset_rows(ds);
        for (size_t i = 0; i < ds->n; i++) {
                size_t src = i < BAD ? i : i + 1; /* the rows after BAD moved down */
                const float *f = feature_row(&rows, i, row);
                for (uint32_t j = 0; j < DIM; j++) {
                        float want = feature(src, j);
                        ASSERT_TRUE(f[j] == half_to_float(half_from_float(want)));
                        ASSERT_TRUE(fabsf(f[j] - want) <= fabsf(want) * (1.0f / 2048) + 1e-7f);
                }
        }
        /* a float row added to a half dataset is converted */
        for (uint32_t j = 0; j < DIM; j++)
                row[j] = feature(7, j);
        uint32_t t = 1;
        ASSERT_OK(model_dataset_add(ds, row, &t, 1, 1));
        rows = model_dataset_rows(ds);
        float back[DIM];
        const float *f = feature_row(&rows, ds->n - 1, back);
        for (uint32_t j = 0; j < DIM; j++)
                ASSERT_TRUE(f[j] == half_to_float(half_from_float(row[j])));
        return ds;
}

/* The most bytes in use while a training of n posts ran, above what was
 * in use before its dataset was built. */
static size_t peak_added_as(size_t n, bool half)
{
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        Error error = {};
        ModelMetrics mt;
        Model *m = NULL;

        size_t before = in_use();
        ModelDataset *ds = half ? make_dataset_half(n) : make_dataset(n);
        /* as the train job asks: folds, the baseline, kNN, calibration */
        o.time_budget_s = 600;
        o.max_epochs = 1;
        o.ensemble = 1;
        o.select_feature_sets = false;
        o.folds = 5;
        o.vocabulary = "{}";
        o.progress = on_progress;
        peak = 0;
        ASSERT_OK(model_train(vkt_engine(), ds, &o, &m, &mt, &error));
        ASSERT_TRUE(peak > before);
        model_free(m);
        model_dataset_free(ds);
        return peak - before;
}

static size_t peak_added(size_t n)
{
        return peak_added_as(n, false);
}

TEST(bytes_per_post)
{
#if defined(__SANITIZE_ADDRESS__)
        TEST_SKIP("the sanitizer's allocator does not report its bytes in use to mallinfo2()");
#endif
        /* the device and its pipelines once, before anything is measured */
        (void)vkt_engine();
        (void)peak_added(N_SMALL);
        size_t small = peak_added(N_SMALL), large = peak_added(N_LARGE);
        double per_post = ((double)large - (double)small) / (N_LARGE - N_SMALL), row = DIM * sizeof(float);
        printf("training's peak: %zu kB at %d posts, %zu kB at %d posts: %.0f bytes a post, %.2f rows\n",
               small >> 10, N_SMALL, large >> 10, N_LARGE, per_post, per_post / row);
        ASSERT_TRUE(per_post >= 0.75 * row); /* the dataset itself: the measurement sees it */
        ASSERT_TRUE(per_post < MAX_COPIES * row);
}

/* Half-float rows: every consumer (the heads' batches, the folds, the
 * similarity, the held-out predictions) converts a row as it reads it, so
 * a post costs about half a float row; one float copy of the rows anywhere
 * would add a whole float row a post. */
TEST(bytes_per_post_half)
{
#if defined(__SANITIZE_ADDRESS__)
        TEST_SKIP("the sanitizer's allocator does not report its bytes in use to mallinfo2()");
#endif
        (void)vkt_engine();
        (void)peak_added_as(N_SMALL, true);
        size_t small = peak_added_as(N_SMALL, true), large = peak_added_as(N_LARGE, true);
        double per_post = ((double)large - (double)small) / (N_LARGE - N_SMALL), row = DIM * sizeof(float);
        printf("half floats: training's peak %zu kB at %d posts, %zu kB at %d posts: %.0f bytes a post, "
               "%.2f float rows\n",
               small >> 10, N_SMALL, large >> 10, N_LARGE, per_post, per_post / row);
        ASSERT_TRUE(per_post >= 0.4 * row); /* the half rows themselves */
        ASSERT_TRUE(per_post < 0.75 * row); /* and no float copy of them */
}

TEST_MAIN()
