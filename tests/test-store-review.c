/* SPDX-License-Identifier: MIT */
/* The prediction rows a vote and a review read: a post's crops across the
 * kept runs, re-pointing them after a move, and the review order. What must
 * survive bad input: a threshold that is not a probability is refused; a
 * post in no run has no crops (not an error); labelled, cleared and skipped
 * posts never come up for review. */
#include <inttypes.h>
#include <math.h>

#include "store-test-util.h"

static void add_row(Store *s, uint64_t run, unsigned rank, uint64_t post, double score, const char *path)
{
        PredictionRow row = {.post_id = post,
                             .score = score,
                             .label = score >= 0.5 ? 1 : -1,
                             .top_tags = (char *)"solo +0.10",
                             .image_path = (char *)path};
        ASSERT_OK(store_prediction_add(s, run, rank, &row, NULL));
}

TEST(images_of_a_post)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        _cleanup_strv_free_ char **paths = NULL;
        uint64_t manual, watch;

        for (uint64_t i = 1; i <= 3; i++)
                test_upsert(s, i);
        ASSERT_OK(store_prediction_run_new(s, "canine", &manual, NULL));
        ASSERT_OK(store_prediction_run_new(s, "watched", &watch, NULL));
        add_row(s, manual, 0, 1, 0.9, "/cache/predictions/a.jpg");
        add_row(s, watch, 0, 1, 0.8, "/cache/watches/a.jpg");
        add_row(s, manual, 1, 2, 0.4, NULL);

        ASSERT_EQ(store_prediction_images(s, 1, &paths, NULL), 2);
        ASSERT_STREQ(paths[0], "/cache/watches/a.jpg"); /* newest run first */
        ASSERT_STREQ(paths[1], "/cache/predictions/a.jpg");
        ASSERT_TRUE(!paths[2]);
        paths = strv_free(paths);
        ASSERT_EQ(store_prediction_images(s, 2, &paths, NULL), 0);
        ASSERT_TRUE(paths && !paths[0]);
        paths = strv_free(paths);
        ASSERT_EQ(store_prediction_images(s, 404, &paths, NULL), 0);
        paths = strv_free(paths);

        ASSERT_OK(store_prediction_set_image(s, 1, "/data/images/a.jpg", NULL));
        ASSERT_EQ(store_prediction_images(s, 1, &paths, NULL), 1);
        ASSERT_STREQ(paths[0], "/data/images/a.jpg");
        store_free(s);
        test_rm_rf(dir);
}

TEST(review_order)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        PredictionRow *rows = NULL;
        size_t n = 0;
        uint64_t a, b;

        for (uint64_t i = 1; i <= 9; i++)
                test_upsert(s, i);
        ASSERT_OK(store_prediction_run_new(s, "canine", &a, NULL));
        ASSERT_OK(store_prediction_run_new(s, "watched", &b, NULL));
        add_row(s, a, 0, 1, 0.95, "/p/1.jpg");
        add_row(s, a, 1, 2, 0.75, "/p/2.jpg"); /* 2, 3 and 4 tie at distance 0.25 */
        add_row(s, a, 2, 3, 0.25, "/p/3.jpg");
        add_row(s, a, 3, 4, 0.75, "/p/4.jpg");
        add_row(s, a, 4, 5, 0.0625, "/p/5.jpg");
        add_row(s, a, 5, 6, 0.59, "/p/6.jpg"); /* labelled: never listed */
        add_row(s, a, 6, 7, 0.60, "/p/7.jpg"); /* vote cleared: seen, never listed */
        add_row(s, a, 7, 8, 0.61, "/p/8.jpg"); /* skipped */
        add_row(s, a, 8, 9, 0.99, "/p/9.jpg");
        add_row(s, b, 0, 9, 0.375, "/w/9.jpg"); /* the newest run's score counts */
        ASSERT_OK(store_label_set_app(s, 6, 1, NULL));
        ASSERT_OK(store_label_set_app(s, 7, 0, NULL));
        ASSERT_OK(store_post_set_skip(s, 8, SKIP_DELETED, NULL));

        ASSERT_ERROR(store_review_list(s, NAN, 0, &rows, &n, NULL), EINVAL);
        ASSERT_ERROR(store_review_list(s, 1.5, 0, &rows, &n, NULL), EINVAL);

        ASSERT_OK(store_review_list(s, 0.5, 0, &rows, &n, NULL));
        ASSERT_EQ(n, 6);
        static const uint64_t want[] = {9, 2, 4, 3, 5, 1};
        for (size_t i = 0; i < n; i++)
                ASSERT_EQ(rows[i].post_id, want[i]);
        ASSERT_NEAR(rows[0].score, 0.375, 1e-12);
        ASSERT_STREQ(rows[0].image_path, "/w/9.jpg");
        ASSERT_STREQ(rows[1].top_tags, "solo +0.10");
        prediction_row_array_free(rows, n);

        ASSERT_OK(store_review_list(s, 0.5, 2, &rows, &n, NULL));
        ASSERT_EQ(n, 2);
        prediction_row_array_free(rows, n);

        ASSERT_OK(store_prediction_prune(s, 0, NULL));
        ASSERT_OK(store_review_list(s, 0.5, 0, &rows, &n, NULL));
        ASSERT_EQ(n, 0);
        prediction_row_array_free(rows, n);
        store_free(s);
        test_rm_rf(dir);
}

TEST_MAIN()
