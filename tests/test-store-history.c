/* SPDX-License-Identifier: MIT */
/* The model history and the feedback record on a real SQLite file. What must
 * hold: one installed model at most, rollbacks keep the rest, the installed
 * model is never pruned or removed, the count of changed labels sees new,
 * flipped and removed labels (from the site or from Fluff), and the feedback
 * record judges announcements by the label the post has now. */
#include <math.h>
#include <time.h>

#include "store-test-util.h"

static uint64_t add_model(Store *s, StoreModelState state, const char *reason, double auc,
                          const StoreLabelled *ds, size_t n)
{
        StoreModel m = {.state = state,
                        .reason = (char *)reason,
                        .trigger = "manual",
                        .towers = "both",
                        .backbone = "sha256:abc",
                        .n_labels = n,
                        .n_pos = 1,
                        .n_neg = 1,
                        .auc = auc,
                        .info = "{\"towers\":\"both\"}"};
        uint64_t id;
        ASSERT_OK(store_model_add(s, &m, ds, n, &id, NULL));
        return id;
}

TEST(history_install_rollback_remove)
{
        _cleanup_free_ char *dir = NULL, *path = NULL;
        Store *s = test_store(&dir, &path);
        StoreModel *list = NULL, m;
        size_t n;
        uint64_t a, b, c, id;

        ASSERT_ERROR(store_model_installed(s, &id, NULL), ENOENT);
        StoreModel bad = {.state = STORE_MODEL_ASIDE, .trigger = "manual", .towers = "both", .info = "{}"};
        ASSERT_ERROR(store_model_add(s, &bad, NULL, 0, &id, NULL), EINVAL); /* aside without a reason */
        bad.state = STORE_MODEL_INSTALLED, bad.reason = "why";
        ASSERT_ERROR(store_model_add(s, &bad, NULL, 0, &id, NULL),
                     EINVAL); /* a reason for an installed one */

        a = add_model(s, STORE_MODEL_INSTALLED, NULL, 0.85, NULL, 0);
        b = add_model(s, STORE_MODEL_INSTALLED, NULL, 0.87, NULL, 0);
        c = add_model(s, STORE_MODEL_ASIDE, "cross-validated ROC AUC 0.61 is below 0.87", 0.61, NULL, 0);
        ASSERT_OK(store_model_installed(s, &id, NULL));
        ASSERT_EQ(id, b);

        ASSERT_OK(store_model_list(s, &list, &n, NULL));
        ASSERT_EQ(n, 3);
        ASSERT_EQ(list[0].id, c); /* newest first */
        ASSERT_EQ(list[0].state, STORE_MODEL_ASIDE);
        ASSERT_STREQ(list[0].reason, "cross-validated ROC AUC 0.61 is below 0.87");
        ASSERT_EQ(list[0].installed_usec, 0);
        ASSERT_EQ(list[1].state, STORE_MODEL_INSTALLED);
        ASSERT_TRUE(list[1].installed_usec > 0);
        ASSERT_EQ(list[2].state, STORE_MODEL_PREVIOUS);
        ASSERT_NEAR(list[2].auc, 0.85, 1e-12);
        ASSERT_STREQ(list[2].backbone, "sha256:abc");
        ASSERT_STREQ(list[2].info, "{\"towers\":\"both\"}");
        store_model_array_free(list, n);

        /* a rollback: the old one back, the replaced one previous */
        ASSERT_OK(store_model_install(s, a, NULL));
        ASSERT_OK(store_model_get(s, b, &m, NULL));
        ASSERT_EQ(m.state, STORE_MODEL_PREVIOUS);
        store_model_done(&m);
        /* installing an aside model clears its reason */
        ASSERT_OK(store_model_install(s, c, NULL));
        ASSERT_OK(store_model_get(s, c, &m, NULL));
        ASSERT_EQ(m.state, STORE_MODEL_INSTALLED);
        ASSERT_TRUE(m.reason == NULL);
        store_model_done(&m);
        ASSERT_ERROR(store_model_install(s, 404, NULL), ENOENT);
        ASSERT_OK(store_model_installed(s, &id, NULL));
        ASSERT_EQ(id, c); /* a failed install changed nothing */

        ASSERT_ERROR(store_model_remove(s, c, NULL), EBUSY);
        ASSERT_OK(store_model_remove(s, b, NULL));
        ASSERT_ERROR(store_model_remove(s, b, NULL), ENOENT);
        ASSERT_ERROR(store_model_get(s, b, &m, NULL), ENOENT);

        /* it all survives a reopen */
        store_free(s);
        ASSERT_OK(store_open(path, &s, NULL));
        ASSERT_OK(store_model_installed(s, &id, NULL));
        ASSERT_EQ(id, c);
        store_free(s);
        test_rm_rf(dir);
}

TEST(history_expired_keeps_installed)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        uint64_t ids[6], *exp = NULL;
        size_t n;

        ids[0] = add_model(s, STORE_MODEL_INSTALLED, NULL, 0.9, NULL, 0);
        for (size_t i = 1; i < 6; i++)
                ids[i] = add_model(s, STORE_MODEL_ASIDE, "worse", 0.5, NULL, 0);
        ASSERT_OK(store_model_expired(s, 3, &exp, &n, NULL));
        /* the three newest stay, and the installed (oldest) one is never pruned */
        ASSERT_EQ(n, 2);
        ASSERT_EQ(exp[0], ids[1]);
        ASSERT_EQ(exp[1], ids[2]);
        free(exp);
        ASSERT_OK(store_model_expired(s, 10, &exp, &n, NULL));
        ASSERT_EQ(n, 0);
        free(exp);
        ASSERT_OK(store_model_expired(s, 0, &exp, &n, NULL));
        ASSERT_EQ(n, 5);
        free(exp);
        store_free(s);
        test_rm_rf(dir);
}

TEST(history_labels_changed)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        StoreLabelled *ds = NULL;
        size_t n;
        uint64_t gen, id, changed, base;

        for (uint64_t i = 1; i <= 10; i++)
                test_upsert(s, i);
        ASSERT_OK(store_sync_begin(s, &gen, NULL));
        for (uint64_t i = 1; i <= 6; i++)
                ASSERT_OK(store_label_seen(s, i, LABEL_SOURCE_FAVOURITE, gen, NULL));
        for (uint64_t i = 7; i <= 8; i++)
                ASSERT_OK(store_label_seen(s, i, LABEL_SOURCE_DOWNVOTE, gen, NULL));
        ASSERT_OK(store_sync_end(s, gen, true, NULL));
        ASSERT_OK(store_dataset_list(s, &ds, &n, NULL));
        ASSERT_EQ(n, 8);
        id = add_model(s, STORE_MODEL_INSTALLED, NULL, 0.8, ds, n);
        free(ds);

        ASSERT_OK(store_model_labels_changed(s, id, &changed, &base, NULL));
        ASSERT_EQ(changed, 0);
        ASSERT_EQ(base, 8);
        /* what an incremental sync asks of each post on a page */
        ASSERT_TRUE(store_label_known(s, 1, LABEL_SOURCE_FAVOURITE));
        ASSERT_FALSE(store_label_known(s, 1, LABEL_SOURCE_UPVOTE));
        ASSERT_FALSE(store_label_known(s, 9, LABEL_SOURCE_FAVOURITE));
        ASSERT_FALSE(store_label_known(s, 404, LABEL_SOURCE_DOWNVOTE));
        ASSERT_TRUE(store_label_known(s, 7, LABEL_SOURCE_DOWNVOTE));

        /* one new like from Fluff, one flipped, one favourite removed on the site */
        ASSERT_OK(store_label_set_app(s, 9, 1, NULL));
        ASSERT_OK(store_label_set_app(s, 2, -1, NULL));
        ASSERT_OK(store_sync_begin(s, &gen, NULL));
        for (uint64_t i = 1; i <= 5; i++)
                ASSERT_OK(store_label_seen(s, i, LABEL_SOURCE_FAVOURITE, gen, NULL));
        ASSERT_OK(store_labels_drop_unseen(s, LABEL_SOURCE_FAVOURITE, gen, NULL));
        for (uint64_t i = 7; i <= 8; i++)
                ASSERT_OK(store_label_seen(s, i, LABEL_SOURCE_DOWNVOTE, gen, NULL));
        ASSERT_OK(store_labels_drop_unseen(s, LABEL_SOURCE_DOWNVOTE, gen, NULL));
        ASSERT_OK(store_sync_end(s, gen, true, NULL));
        ASSERT_OK(store_model_labels_changed(s, id, &changed, &base, NULL));
        ASSERT_EQ(changed, 3);
        ASSERT_EQ(base, 8);

        /* a vote taken back to what the model saw is no change */
        ASSERT_OK(store_label_set_app(s, 2, 1, NULL));
        ASSERT_OK(store_model_labels_changed(s, id, &changed, &base, NULL));
        ASSERT_EQ(changed, 2);

        /* what it was trained on: the 8 posts then, not post 9 labelled since */
        _cleanup_free_ uint64_t *seen = NULL;
        size_t n_seen;
        ASSERT_OK(store_model_trained_on(s, id, &seen, &n_seen, NULL));
        ASSERT_EQ(n_seen, 8);
        for (size_t i = 1; i < n_seen; i++)
                ASSERT_TRUE(seen[i] > seen[i - 1]);
        for (size_t i = 0; i < n_seen; i++)
                ASSERT_TRUE(seen[i] != 9);

        /* a model recorded without its dataset: everything is new */
        uint64_t bare = add_model(s, STORE_MODEL_ASIDE, "ablation", 0.7, NULL, 0);
        ASSERT_OK(store_model_labels_changed(s, bare, &changed, &base, NULL));
        ASSERT_EQ(changed, 8);
        ASSERT_EQ(base, 0);
        ASSERT_ERROR(store_model_labels_changed(s, 404, &changed, &base, NULL), ENOENT);
        _cleanup_free_ uint64_t *none = NULL;
        ASSERT_OK(store_model_trained_on(s, bare, &none, &n_seen, NULL));
        ASSERT_EQ(n_seen, 0);
        ASSERT_ERROR(store_model_trained_on(s, 404, &none, &n_seen, NULL), ENOENT);

        /* removing a model drops its dataset too */
        ASSERT_OK(store_model_remove(s, bare, NULL));
        ASSERT_ERROR(store_model_remove(s, id, NULL), EBUSY);
        store_free(s);
        test_rm_rf(dir);
}

TEST(incremental_generation_closes)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        uint64_t gen, inc, full;
        int v;

        for (uint64_t i = 1; i <= 3; i++)
                test_upsert(s, i);
        ASSERT_OK(store_sync_begin(s, &gen, NULL));
        for (uint64_t i = 1; i <= 3; i++)
                ASSERT_OK(store_label_seen(s, i, LABEL_SOURCE_DOWNVOTE, gen, NULL));
        ASSERT_OK(store_sync_end(s, gen, true, NULL));
        /* an incremental sync sees post 3 on its first page, then closes */
        ASSERT_OK(store_sync_begin(s, &inc, NULL));
        ASSERT_TRUE(inc > gen);
        ASSERT_OK(store_label_seen(s, 3, LABEL_SOURCE_DOWNVOTE, inc, NULL));
        ASSERT_OK(store_sync_close(s, inc, NULL));
        ASSERT_ERROR(store_sync_close(s, inc, NULL), ESTALE);
        /* the vote on 3 is taken back on the site: the next full sync has a
         * generation of its own, so 3's mark from the incremental one does not count */
        ASSERT_OK(store_sync_begin(s, &full, NULL));
        ASSERT_TRUE(full > inc);
        for (uint64_t i = 1; i <= 2; i++)
                ASSERT_OK(store_label_seen(s, i, LABEL_SOURCE_DOWNVOTE, full, NULL));
        ASSERT_EQ(store_labels_drop_unseen(s, LABEL_SOURCE_DOWNVOTE, full, NULL), 1);
        ASSERT_OK(store_sync_end(s, full, true, NULL));
        ASSERT_ERROR(store_post_label(s, 3, &v, NULL, NULL), ENOENT);
        store_free(s);
        test_rm_rf(dir);
}

TEST(feedback_record)
{
        _cleanup_free_ char *dir = NULL, *src = NULL;
        Store *s = test_store(&dir, NULL);
        StoreFeedback f;
        uint64_t watch_run, predict_run, wid, gen, start;
        double score;
        int label;

        for (uint64_t i = 1; i <= 6; i++)
                test_upsert(s, i);
        start = now_usec(CLOCK_REALTIME);
        ASSERT_OK(store_feedback(s, 0, &f, NULL));
        ASSERT_EQ(f.announced, 0);
        ASSERT_TRUE(isnan(f.precision));

        ASSERT_OK(store_watch_add(s, "wolf", 0.7, 10, &wid, NULL));
        ASSERT_OK(store_prediction_run_new_watch(s, wid, "wolf", &watch_run, NULL));
        ASSERT_OK(store_prediction_run_new(s, "fox", &predict_run, NULL));
        /* a watch announces 1, 2, 3; Predict shows 4 (like) and 5, 6 (dislikes) */
        for (uint64_t i = 1; i <= 3; i++) {
                PredictionRow r = {.post_id = i, .score = 0.9 - 0.01 * (double)i, .label = 1};
                ASSERT_OK(store_prediction_add(s, watch_run, (unsigned)i, &r, NULL));
        }
        for (uint64_t i = 4; i <= 6; i++) {
                PredictionRow r = {.post_id = i, .score = i == 4 ? 0.8 : 0.2, .label = i == 4 ? 1 : -1};
                ASSERT_OK(store_prediction_add(s, predict_run, (unsigned)i, &r, NULL));
        }
        PredictionRow ghost = {.post_id = 404, .score = 0.9, .label = 1};
        ASSERT_ERROR(store_prediction_add(s, predict_run, 9, &ghost, NULL), ENOENT);

        ASSERT_OK(store_feedback_get(s, 2, &score, &label, &src, NULL));
        ASSERT_NEAR(score, 0.88, 1e-12);
        ASSERT_EQ(label, 1);
        ASSERT_STREQ(src, "watch");
        ASSERT_ERROR(store_feedback_get(s, 404, &score, &label, NULL, NULL), ENOENT);

        ASSERT_OK(store_feedback(s, start, &f, NULL));
        ASSERT_EQ(f.announced, 4);
        ASSERT_EQ(f.unanswered, 4);

        /* a like here, a dislike seen on the site, a dislike of a predicted dislike */
        ASSERT_OK(store_label_set_app(s, 1, 1, NULL));
        ASSERT_OK(store_sync_begin(s, &gen, NULL));
        ASSERT_OK(store_label_seen(s, 2, LABEL_SOURCE_DOWNVOTE, gen, NULL));
        ASSERT_OK(store_label_seen(s, 4, LABEL_SOURCE_UPVOTE, gen, NULL));
        ASSERT_OK(store_sync_end(s, gen, false, NULL));
        ASSERT_OK(store_label_set_app(s, 5, -1, NULL));
        ASSERT_OK(store_feedback(s, start, &f, NULL));
        ASSERT_EQ(f.announced, 4);
        ASSERT_EQ(f.liked, 2);
        ASSERT_EQ(f.disliked, 1);
        ASSERT_EQ(f.unanswered, 1);
        ASSERT_NEAR(f.precision, 2.0 / 3.0, 1e-12);

        /* a vote taken back no longer counts */
        ASSERT_OK(store_label_set_app(s, 1, 0, NULL));
        ASSERT_OK(store_feedback(s, start, &f, NULL));
        ASSERT_EQ(f.liked, 1);
        ASSERT_EQ(f.unanswered, 2);

        /* outside the window */
        ASSERT_OK(store_feedback(s, now_usec(CLOCK_REALTIME) + 1000000, &f, NULL));
        ASSERT_EQ(f.announced, 0);
        store_free(s);
        test_rm_rf(dir);
}

TEST_MAIN()
