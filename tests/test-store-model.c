/* SPDX-License-Identifier: MIT */
/* The vote outbox, prediction runs, watches and cached embeddings. What must
 * survive bad input: out-of-range votes and thresholds are refused; a vote for
 * an unknown post is refused; a cached embedding of the wrong size is an
 * error, not garbage. */
#include <inttypes.h>

#include "store-test-util.h"

TEST(outbox)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        OutboxEntry *e = NULL;
        size_t n = 0;
        uint64_t a, b, c, next;

        for (uint64_t i = 1; i <= 3; i++)
                test_upsert(s, i);
        ASSERT_ERROR(store_outbox_next_due(s, &next, NULL), ENOENT);
        ASSERT_OK(store_outbox_add(s, 1, 1, 1, &a, NULL));
        ASSERT_OK(store_outbox_add(s, 2, -1, 0, &b, NULL));
        ASSERT_ERROR(store_outbox_add(s, 3, 2, 0, NULL, NULL), EINVAL);
        ASSERT_ERROR(store_outbox_add(s, 404, 1, 0, NULL, NULL), ENOENT);
        /* a second vote on post 2 before the first went out replaces it */
        ASSERT_OK(store_outbox_add(s, 2, 1, 1, &c, NULL));
        ASSERT_TRUE(c != b);

        uint64_t now = UINT64_C(4000000000000000);
        ASSERT_OK(store_outbox_due(s, now, 0, &e, &n, NULL));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(e[0].id, a);
        ASSERT_EQ(e[0].score, 1);
        ASSERT_EQ(e[0].favourite, 1);
        ASSERT_EQ(e[0].state, OUTBOX_PENDING);
        ASSERT_EQ(e[1].id, c);
        ASSERT_EQ(e[1].post_id, 2);
        outbox_entry_array_free(e, n);

        ASSERT_OK(store_outbox_mark_sent(s, a, NULL));
        ASSERT_ERROR(store_outbox_mark_sent(s, a, NULL), ENOENT); /* sent exactly once */
        ASSERT_ERROR(store_outbox_mark_sent(s, b, NULL), ENOENT); /* replaced */
        ASSERT_OK(store_outbox_mark_failed(s, c, "503", false, now + 60 * USEC_PER_SEC, NULL));
        ASSERT_OK(store_outbox_due(s, now, 0, &e, &n, NULL));
        ASSERT_EQ(n, 0);
        free(e);
        ASSERT_OK(store_outbox_next_due(s, &next, NULL));
        ASSERT_EQ(next, now + 60 * USEC_PER_SEC);
        ASSERT_OK(store_outbox_due(s, next, 1, &e, &n, NULL));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(e[0].attempts, 1);
        ASSERT_STREQ(e[0].last_error, "503");
        outbox_entry_array_free(e, n);

        ASSERT_OK(store_outbox_mark_failed(s, c, "422 locked", true, 0, NULL));
        StoreCounts cnt;
        ASSERT_OK(store_counts(s, &cnt, NULL));
        ASSERT_EQ(cnt.outbox_pending, 0);
        ASSERT_EQ(cnt.outbox_sent, 1);
        ASSERT_EQ(cnt.outbox_failed, 1);
        ASSERT_STREQ(outbox_state_to_string(OUTBOX_FAILED), "failed");
        store_free(s);
        test_rm_rf(dir);
}

TEST(predictions)
{
        _cleanup_free_ char *dir = NULL, *tags = NULL;
        Store *s = test_store(&dir, NULL);
        uint64_t run1, run2, latest;
        PredictionRow *rows = NULL;
        size_t n;

        ASSERT_ERROR(store_prediction_latest_run(s, &latest, NULL), ENOENT);
        for (uint64_t i = 1; i <= 4; i++)
                test_upsert(s, i);
        ASSERT_OK(store_prediction_run_new(s, "wolf rating:s", &run1, NULL));
        PredictionRow r1 = {
                .post_id = 1, .score = 0.9, .label = 1, .top_tags = "solo +0.4", .image_path = "/c/a.jpg"};
        PredictionRow r2 = {.post_id = 2, .score = 0.2, .label = -1};
        ASSERT_OK(store_prediction_add(s, run1, 1, &r2, NULL));
        ASSERT_OK(store_prediction_add(s, run1, 0, &r1, NULL));
        PredictionRow bad = {.post_id = 404};
        ASSERT_ERROR(store_prediction_add(s, run1, 2, &bad, NULL), ENOENT);
        ASSERT_OK(store_prediction_run_new(s, "fox", &run2, NULL));
        ASSERT_OK(store_prediction_add(s, run2, 0, &r2, NULL));
        ASSERT_OK(store_prediction_latest_run(s, &latest, NULL));
        ASSERT_EQ(latest, run2);

        ASSERT_OK(store_prediction_list(s, run1, &tags, &rows, &n, NULL));
        ASSERT_STREQ(tags, "wolf rating:s");
        ASSERT_EQ(n, 2);
        ASSERT_EQ(rows[0].post_id, 1);
        ASSERT_NEAR(rows[0].score, 0.9, 1e-12);
        ASSERT_STREQ(rows[0].top_tags, "solo +0.4");
        ASSERT_STREQ(rows[0].image_path, "/c/a.jpg");
        ASSERT_TRUE(rows[1].image_path == NULL);
        prediction_row_array_free(rows, n);

        ASSERT_OK(store_prediction_prune(s, run2, NULL));
        ASSERT_ERROR(store_prediction_list(s, run1, NULL, &rows, &n, NULL), ENOENT);
        ASSERT_OK(store_prediction_list(s, run2, NULL, &rows, &n, NULL));
        ASSERT_EQ(n, 1);
        prediction_row_array_free(rows, n);
        ASSERT_OK(store_check_integrity(s, NULL));
        store_free(s);
        test_rm_rf(dir);
}

/* Watch runs beside manual ones: a manual prune or "latest" never sees them,
 * and they expire by age and by count, oldest first. */
TEST(prediction_watch_runs)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_free_ uint64_t *old = NULL;
        Store *s = test_store(&dir, NULL);
        uint64_t manual, w1, w2, w3, latest, watch;
        size_t n;

        for (uint64_t i = 1; i <= 4; i++)
                test_upsert(s, i);
        ASSERT_ERROR(store_prediction_run_new_watch(s, 0, "wolf", &w1, NULL), EINVAL);
        ASSERT_OK(store_prediction_run_new_watch(s, 7, "wolf", &w1, NULL));
        PredictionRow r1 = {.post_id = 1, .score = 0.9, .label = 1, .image_path = "/w/a.jpg"};
        ASSERT_OK(store_prediction_add(s, w1, 0, &r1, NULL));
        ASSERT_FALSE(store_prediction_in_watch_run(s, 2));
        ASSERT_TRUE(store_prediction_in_watch_run(s, 1));
        ASSERT_ERROR(store_prediction_latest_run(s, &latest, NULL), ENOENT);
        ASSERT_OK(store_prediction_run_new(s, "fox", &manual, NULL));
        PredictionRow r2 = {.post_id = 2, .score = 0.2, .label = -1, .image_path = "/p/b.jpg"};
        ASSERT_OK(store_prediction_add(s, manual, 0, &r2, NULL));
        ASSERT_FALSE(store_prediction_in_watch_run(s, 2));
        ASSERT_OK(store_prediction_run_new_watch(s, 8, "cat", &w2, NULL));
        ASSERT_OK(store_prediction_run_new_watch(s, 7, "wolf", &w3, NULL));
        ASSERT_OK(store_prediction_latest_run(s, &latest, NULL));
        ASSERT_EQ(latest, manual);
        ASSERT_OK(store_prediction_run_watch(s, w2, &watch, NULL));
        ASSERT_EQ(watch, 8);
        ASSERT_OK(store_prediction_run_watch(s, manual, &watch, NULL));
        ASSERT_EQ(watch, 0);
        ASSERT_ERROR(store_prediction_run_watch(s, 999, &watch, NULL), ENOENT);

        ASSERT_OK(store_prediction_prune(s, 0, NULL));
        ASSERT_ERROR(store_prediction_latest_run(s, &latest, NULL), ENOENT);
        ASSERT_TRUE(store_prediction_in_watch_run(s, 1));
        ASSERT_TRUE(store_prediction_image_in_use(s, "/w/a.jpg"));
        ASSERT_FALSE(store_prediction_image_in_use(s, "/p/b.jpg"));

        ASSERT_OK(store_prediction_watch_runs_expired(s, 0, 10, &old, &n, NULL));
        ASSERT_EQ(n, 0);
        free(TAKE_PTR(old));
        ASSERT_OK(store_prediction_watch_runs_expired(s, 0, 1, &old, &n, NULL));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(old[0], w1);
        ASSERT_EQ(old[1], w2);
        free(TAKE_PTR(old));
        ASSERT_OK(store_prediction_watch_runs_expired(s, UINT64_MAX / 2, 10, &old, &n, NULL));
        ASSERT_EQ(n, 3);
        ASSERT_OK(store_prediction_run_delete(s, w1, NULL));
        ASSERT_ERROR(store_prediction_run_delete(s, w1, NULL), ENOENT);
        ASSERT_FALSE(store_prediction_in_watch_run(s, 1));
        ASSERT_FALSE(store_prediction_image_in_use(s, "/w/a.jpg"));
        ASSERT_OK(store_check_integrity(s, NULL));
        store_free(s);
        test_rm_rf(dir);
}

TEST(watches)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        Watch *w = NULL, one;
        size_t n;
        uint64_t a, b;

        ASSERT_OK(store_watch_add(s, "wolf", 0.8, 10, &a, NULL));
        ASSERT_OK(store_watch_add(s, "fox solo", 0.5, 3, &b, NULL));
        ASSERT_ERROR(store_watch_add(s, "", 0.5, 3, NULL, NULL), EINVAL);
        ASSERT_ERROR(store_watch_add(s, "x", 1.5, 3, NULL, NULL), EINVAL);
        ASSERT_ERROR(store_watch_add(s, "x", 0.5, 0, NULL, NULL), EINVAL);
        ASSERT_OK(store_watch_ran(s, a, 500, 1000, NULL));
        ASSERT_OK(store_watch_ran(s, a, 400, 2000, NULL)); /* never backwards */
        ASSERT_OK(store_watch_get(s, a, &one, NULL));
        ASSERT_EQ(one.last_seen_id, 500);
        ASSERT_EQ(one.last_run_usec, 2000);
        ASSERT_STREQ(one.tags, "wolf");
        free(one.tags);
        ASSERT_OK(store_watch_list(s, &w, &n, NULL));
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(w[1].tags, "fox solo");
        ASSERT_EQ(w[1].max_per_run, 3);
        watch_array_free(w, n);
        ASSERT_OK(store_watch_remove(s, a, NULL));
        ASSERT_ERROR(store_watch_remove(s, a, NULL), ENOENT);
        ASSERT_ERROR(store_watch_get(s, a, &one, NULL), ENOENT);
        ASSERT_ERROR(store_watch_ran(s, a, 1, 1, NULL), ENOENT);
        ASSERT_OK(store_watch_list(s, &w, &n, NULL));
        ASSERT_EQ(n, 1);
        watch_array_free(w, n);
        store_free(s);
        test_rm_rf(dir);
}

TEST(embeddings)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        const char *md5 = "00112233445566778899aabbccddeeff";
        float v[1792], *got = NULL;
        size_t n;

        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                v[i] = (float)i * 0.25f - 100.0f;
        ASSERT_ERROR(store_embedding_get(s, "mnv2-abc", "mid+late", md5, &got, &n, NULL), ENOENT);
        ASSERT_OK(store_embedding_put(s, "mnv2-abc", "mid+late", md5, v, ELEMENTSOF(v), NULL));
        ASSERT_OK(store_embedding_put(s, "mnv2-abc", "mid+late", md5, v, ELEMENTSOF(v), NULL));
        ASSERT_OK(store_embedding_get(s, "mnv2-abc", "mid+late", md5, &got, &n, NULL));
        ASSERT_EQ(n, ELEMENTSOF(v));
        ASSERT_TRUE(memcmp(got, v, sizeof v) == 0);
        free(got);
        ASSERT_ERROR(store_embedding_put(s, "mnv2-abc", "x", "nothex", v, 4, NULL), EINVAL);
        ASSERT_ERROR(store_embedding_put(s, "mnv2-abc", "x", md5, v, 0, NULL), EINVAL);
        /* other backbones on both sides of the kept one in the key's order */
        ASSERT_OK(store_embedding_put(s, "other", "x", md5, v, 4, NULL));
        ASSERT_OK(store_embedding_put(s, "a-older", "x", md5, v, 4, NULL));
        ASSERT_EQ(store_embedding_prune(s, "mnv2-abc", NULL), 2);
        ASSERT_ERROR(store_embedding_get(s, "other", "x", md5, &got, &n, NULL), ENOENT);
        ASSERT_ERROR(store_embedding_get(s, "a-older", "x", md5, &got, &n, NULL), ENOENT);
        ASSERT_OK(store_embedding_get(s, "mnv2-abc", "mid+late", md5, &got, &n, NULL));
        free(got);
        store_free(s);
        test_rm_rf(dir);
}

TEST(embeddings_missing)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        char md5[4][33];
        float v = 1;
        char **l = NULL;
        size_t n;
        uint64_t done, missing;

        /* test_post's md5s grow with the id */
        for (size_t i = 0; i < ELEMENTSOF(md5); i++) {
                _cleanup_post_free_ Post *p = test_post(i + 1);
                test_upsert(s, i + 1);
                snprintf(md5[i], sizeof(md5[i]), "%s", p->md5);
                ASSERT_OK(store_image_ok(s, md5[i], i + 1, 100, NULL));
        }
        ASSERT_OK(store_embedding_put(s, "bb", "done", md5[1], &v, 1, NULL));
        ASSERT_OK(store_embedding_failed(s, "bb", md5[2], -EIO, NULL));
        /* in md5 order, done and failed ones left out, from the first or after a cursor */
        ASSERT_OK(store_embedding_missing(s, "bb", "done", NULL, 10, &l, &n, NULL));
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(l[0], md5[0]);
        ASSERT_STREQ(l[1], md5[3]);
        strv_free(l);
        ASSERT_OK(store_embedding_missing(s, "bb", "done", md5[0], 1, &l, &n, NULL));
        ASSERT_EQ(n, 1);
        ASSERT_STREQ(l[0], md5[3]);
        strv_free(l);
        ASSERT_OK(store_embedding_missing(s, "bb", "done", md5[3], 10, &l, &n, NULL));
        ASSERT_EQ(n, 0);
        strv_free(l);
        ASSERT_OK(store_embedding_counts(s, "bb", "done", &done, &missing, NULL));
        ASSERT_EQ(done, 1);
        ASSERT_EQ(missing, 2);
        /* one count alone */
        missing = 99;
        ASSERT_OK(store_embedding_counts(s, "bb", "done", &done, NULL, NULL));
        ASSERT_EQ(done, 1);
        ASSERT_OK(store_embedding_counts(s, "bb", "done", NULL, &missing, NULL));
        ASSERT_EQ(missing, 2);
        store_free(s);
        test_rm_rf(dir);
}

TEST_MAIN()
