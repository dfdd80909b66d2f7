/* SPDX-License-Identifier: MIT */
/* Posts, labels and their sources, conflicts, skips, counts and the list of
 * images to fetch. What must survive bad input: a killed sync never drops a
 * label; a malformed md5 never reaches the store; repeated upserts change
 * nothing. */
#include <inttypes.h>

#include "store-test-util.h"

static int label_of(Store *s, uint64_t id)
{
        int v = 99;
        bool conflict;
        int r = store_post_label(s, id, &v, &conflict, NULL);
        if (r == -ENOENT)
                return 0;
        ASSERT_OK(r);
        return conflict ? 2 : v; /* 2 marks a conflict in these tests */
}

TEST(upsert_is_idempotent)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);

        for (int round = 0; round < 3; round++)
                for (uint64_t id = 1; id <= 20; id++)
                        test_upsert(s, id);
        StoreCounts c;
        ASSERT_OK(store_counts(s, &c, NULL));
        ASSERT_EQ(c.posts, 20);

        _cleanup_post_free_ Post *p = NULL;
        _cleanup_post_free_ Post *orig = test_post(7);
        ASSERT_OK(store_post_get(s, 7, &p, NULL));
        ASSERT_EQ(p->id, 7);
        ASSERT_STREQ(p->md5, orig->md5);
        ASSERT_STREQ(p->ext, "jpg");
        ASSERT_EQ(p->rating, orig->rating);
        ASSERT_EQ(p->created_at, orig->created_at);
        ASSERT_EQ(p->width, orig->width);
        ASSERT_EQ(p->sample_width, 850);
        ASSERT_STREQ(p->sample_url, orig->sample_url);
        ASSERT_EQ(p->score_down, -2);
        ASSERT_EQ(p->fav_count, 5);
        ASSERT_EQ(p->n_tags, 2);
        ASSERT_TRUE(post_has_tag(p, "solo"));
        ASSERT_TRUE(post_has_tag(p, "artist_0"));

        /* tags are replaced, not accumulated; a category change is followed */
        _cleanup_post_free_ Post *q = test_post(7);
        q->score_total = 100;
        ASSERT_OK(post_add_tag(q, "blue_eyes", "general"));
        free(q->tags[0].category);
        q->tags[0].category = strdup("meta");
        ASSERT_OK(store_post_upsert(s, q, NULL));
        post_free(p);
        p = NULL;
        ASSERT_OK(store_post_get(s, 7, &p, NULL));
        ASSERT_EQ(p->n_tags, 3);
        ASSERT_EQ(p->score_total, 100);
        bool meta = false;
        for (size_t i = 0; i < p->n_tags; i++)
                if (streq(p->tags[i].name, "solo"))
                        meta = streq(p->tags[i].category, "meta");
        ASSERT_TRUE(meta);

        /* only the difference is written: one tag goes, one comes, one named
         * twice is linked once */
        _cleanup_post_free_ Post *swap = calloc(1, sizeof(Post));
        swap->id = 7;
        ASSERT_OK(post_add_tag(swap, "red_eyes", "general"));
        ASSERT_OK(post_add_tag(swap, "blue_eyes", "general"));
        ASSERT_OK(post_add_tag(swap, "red_eyes", "general"));
        ASSERT_OK(store_post_upsert(s, swap, NULL));
        post_free(p);
        p = NULL;
        ASSERT_OK(store_post_get(s, 7, &p, NULL));
        ASSERT_EQ(p->n_tags, 2);
        ASSERT_TRUE(post_has_tag(p, "red_eyes"));
        ASSERT_TRUE(post_has_tag(p, "blue_eyes"));

        /* a post with fewer tags loses the others */
        _cleanup_post_free_ Post *bare = calloc(1, sizeof(Post));
        bare->id = 7;
        ASSERT_OK(store_post_upsert(s, bare, NULL));
        post_free(p);
        p = NULL;
        ASSERT_OK(store_post_get(s, 7, &p, NULL));
        ASSERT_EQ(p->n_tags, 0);
        ASSERT_TRUE(p->md5 == NULL);

        ASSERT_ERROR(store_post_get(s, 12345, &p, NULL), ENOENT);
        bare->id = 0;
        ASSERT_ERROR(store_post_upsert(s, bare, NULL), EINVAL);
        bare->id = 8;
        bare->md5 = strdup("0123456789ABCDEF0123456789abcdef");
        ASSERT_ERROR(store_post_upsert(s, bare, NULL), EINVAL);
        ASSERT_OK(store_check_integrity(s, NULL));
        store_free(s);
        test_rm_rf(dir);
}

TEST(label_sources_and_removal)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        uint64_t gen;
        unsigned mask;

        for (uint64_t id = 1; id <= 6; id++)
                test_upsert(s, id);
        ASSERT_OK(store_sync_begin(s, &gen, NULL));
        ASSERT_EQ(gen, 1);
        /* 1: favourite AND upvote; 2: favourite; 3: upvote; 4: downvote; 5: fav + downvote */
        ASSERT_OK(store_label_seen(s, 1, LABEL_SOURCE_FAVOURITE, gen, NULL));
        ASSERT_OK(store_label_seen(s, 1, LABEL_SOURCE_UPVOTE, gen, NULL));
        ASSERT_OK(store_label_seen(s, 2, LABEL_SOURCE_FAVOURITE, gen, NULL));
        ASSERT_OK(store_label_seen(s, 3, LABEL_SOURCE_UPVOTE, gen, NULL));
        ASSERT_OK(store_label_seen(s, 4, LABEL_SOURCE_DOWNVOTE, gen, NULL));
        ASSERT_OK(store_label_seen(s, 5, LABEL_SOURCE_FAVOURITE, gen, NULL));
        ASSERT_OK(store_label_seen(s, 5, LABEL_SOURCE_DOWNVOTE, gen, NULL));
        /* seen twice in one walk: no harm */
        ASSERT_OK(store_label_seen(s, 1, LABEL_SOURCE_UPVOTE, gen, NULL));
        ASSERT_ERROR(store_label_seen(s, 1, LABEL_SOURCE_APP, gen, NULL), EINVAL);
        ASSERT_ERROR(store_label_seen(s, 77, LABEL_SOURCE_UPVOTE, gen, NULL), ENOENT);
        for (int src = 0; src < LABEL_SOURCE_APP; src++)
                ASSERT_OK(store_labels_drop_unseen(s, src, gen, NULL));
        ASSERT_OK(store_sync_end(s, gen, true, NULL));

        ASSERT_OK(store_post_label_sources(s, 1, &mask, NULL));
        ASSERT_EQ(mask, (1u << LABEL_SOURCE_FAVOURITE) | (1u << LABEL_SOURCE_UPVOTE));
        ASSERT_EQ(label_of(s, 1), 1);
        ASSERT_EQ(label_of(s, 2), 1);
        ASSERT_EQ(label_of(s, 3), 1);
        ASSERT_EQ(label_of(s, 4), -1);
        ASSERT_EQ(label_of(s, 5), 2);
        ASSERT_EQ(label_of(s, 6), 0);

        StoreCounts c;
        ASSERT_OK(store_counts(s, &c, NULL));
        ASSERT_EQ(c.liked, 3);
        ASSERT_EQ(c.disliked, 1);
        ASSERT_EQ(c.conflicts, 1);

        /* next sync: post 1's upvote was withdrawn (still a favourite), post 3's
         * upvote too (now unlabelled), post 5's favourite too (now disliked).
         * The favourite walk is interrupted first: nothing may be dropped. */
        ASSERT_OK(store_sync_begin(s, &gen, NULL));
        ASSERT_EQ(gen, 2);
        ASSERT_OK(store_label_seen(s, 1, LABEL_SOURCE_FAVOURITE, gen, NULL));
        ASSERT_OK(store_sync_end(s, gen, false, NULL)); /* killed / failed */
        ASSERT_EQ(label_of(s, 2), 1);
        ASSERT_EQ(label_of(s, 3), 1);

        uint64_t again;
        ASSERT_OK(store_sync_begin(s, &again, NULL)); /* resumes the open generation */
        ASSERT_EQ(again, gen);
        ASSERT_OK(store_label_seen(s, 1, LABEL_SOURCE_FAVOURITE, gen, NULL));
        ASSERT_OK(store_label_seen(s, 2, LABEL_SOURCE_FAVOURITE, gen, NULL));
        ASSERT_EQ(store_labels_drop_unseen(s, LABEL_SOURCE_FAVOURITE, gen, NULL), 1); /* post 5's */
        ASSERT_EQ(store_labels_drop_unseen(s, LABEL_SOURCE_UPVOTE, gen, NULL), 2);    /* posts 1 and 3 */
        ASSERT_OK(store_label_seen(s, 4, LABEL_SOURCE_DOWNVOTE, gen, NULL));
        ASSERT_OK(store_label_seen(s, 5, LABEL_SOURCE_DOWNVOTE, gen, NULL));
        ASSERT_EQ(store_labels_drop_unseen(s, LABEL_SOURCE_DOWNVOTE, gen, NULL), 0);
        ASSERT_OK(store_sync_end(s, gen, true, NULL));
        ASSERT_ERROR(store_sync_end(s, gen, true, NULL), ESTALE);

        ASSERT_EQ(label_of(s, 1), 1);
        ASSERT_OK(store_post_label_sources(s, 1, &mask, NULL));
        ASSERT_EQ(mask, 1u << LABEL_SOURCE_FAVOURITE);
        ASSERT_EQ(label_of(s, 2), 1);
        ASSERT_EQ(label_of(s, 3), 0);
        ASSERT_EQ(label_of(s, 4), -1);
        ASSERT_EQ(label_of(s, 5), -1);
        ASSERT_OK(store_counts(s, &c, NULL));
        ASSERT_EQ(c.liked, 2);
        ASSERT_EQ(c.disliked, 2);
        ASSERT_EQ(c.conflicts, 0);

        ASSERT_OK(store_sync_begin(s, &gen, NULL));
        ASSERT_EQ(gen, 3);
        store_free(s);
        test_rm_rf(dir);
}

TEST(app_labels)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        uint64_t gen, id;

        for (uint64_t i = 1; i <= 3; i++)
                test_upsert(s, i);
        ASSERT_OK(store_sync_begin(s, &gen, NULL));
        ASSERT_OK(store_label_seen(s, 1, LABEL_SOURCE_DOWNVOTE, gen, NULL));
        ASSERT_OK(store_label_seen(s, 2, LABEL_SOURCE_FAVOURITE, gen, NULL));
        ASSERT_OK(store_sync_end(s, gen, true, NULL));

        /* the user changes their mind in the app: decides at once */
        ASSERT_OK(store_label_set_app(s, 1, 1, NULL));
        ASSERT_EQ(label_of(s, 1), 1);
        ASSERT_OK(store_label_set_app(s, 2, 0, NULL)); /* cleared */
        ASSERT_EQ(label_of(s, 2), 0);
        ASSERT_OK(store_label_set_app(s, 3, -1, NULL)); /* a predicted post joins the dataset */
        ASSERT_EQ(label_of(s, 3), -1);
        ASSERT_ERROR(store_label_set_app(s, 3, 2, NULL), EINVAL);
        ASSERT_ERROR(store_label_set_app(s, 404, 1, NULL), ENOENT);
        StoreCounts c;
        ASSERT_OK(store_counts(s, &c, NULL));
        ASSERT_EQ(c.liked, 1);
        ASSERT_EQ(c.disliked, 1);

        /* votes 1 and 2 reach the site; 3 is refused for good (the site's
         * "must be 3 days old to downvote"), so its app label must stay */
        ASSERT_OK(store_outbox_add(s, 1, 1, 1, &id, NULL));
        ASSERT_OK(store_outbox_mark_sent(s, id, NULL));
        ASSERT_OK(store_outbox_add(s, 2, 0, -1, &id, NULL));
        ASSERT_OK(store_outbox_mark_sent(s, id, NULL));
        ASSERT_OK(store_outbox_add(s, 3, -1, 0, &id, NULL));
        ASSERT_OK(store_outbox_mark_failed(s, id, "422: too young", true, 0, NULL));

        /* the next complete sync sees the site agree */
        ASSERT_OK(store_sync_begin(s, &gen, NULL));
        ASSERT_OK(store_label_seen(s, 1, LABEL_SOURCE_UPVOTE, gen, NULL));
        ASSERT_OK(store_label_seen(s, 1, LABEL_SOURCE_FAVOURITE, gen, NULL));
        for (int src = 0; src < LABEL_SOURCE_APP; src++)
                ASSERT_TRUE(store_labels_drop_unseen(s, src, gen, NULL) >= 0);
        ASSERT_OK(store_sync_end(s, gen, true, NULL));
        unsigned mask;
        ASSERT_OK(store_post_label_sources(s, 1, &mask, NULL));
        ASSERT_EQ(mask, (1u << LABEL_SOURCE_FAVOURITE) | (1u << LABEL_SOURCE_UPVOTE));
        ASSERT_EQ(label_of(s, 1), 1);
        ASSERT_EQ(label_of(s, 2), 0);
        ASSERT_EQ(label_of(s, 3), -1);
        ASSERT_OK(store_post_label_sources(s, 3, &mask, NULL));
        ASSERT_EQ(mask, 1u << LABEL_SOURCE_APP);
        store_free(s);
        test_rm_rf(dir);
}

TEST(skipped_and_counts)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        uint64_t gen;

        ASSERT_OK(store_sync_begin(s, &gen, NULL));
        for (uint64_t id = 1; id <= 10; id++) {
                test_upsert(s, id);
                ASSERT_OK(store_label_seen(s, id, id <= 6 ? LABEL_SOURCE_FAVOURITE : LABEL_SOURCE_DOWNVOTE,
                                           gen, NULL));
        }
        ASSERT_OK(store_post_set_skip(s, 1, SKIP_DELETED, NULL));
        ASSERT_OK(store_post_set_skip(s, 2, SKIP_ANIMATED, NULL));
        ASSERT_OK(store_post_set_skip(s, 7, SKIP_NO_URL, NULL));
        ASSERT_OK(store_post_set_skip(s, 8, SKIP_NO_URL, NULL));
        ASSERT_OK(store_post_set_skip(s, 8, SKIP_NO_URL, NULL));
        ASSERT_ERROR(store_post_set_skip(s, 99, SKIP_DELETED, NULL), ENOENT);
        ASSERT_OK(store_sync_end(s, gen, true, NULL));

        StoreCounts c;
        ASSERT_OK(store_counts(s, &c, NULL));
        ASSERT_EQ(c.posts, 10);
        ASSERT_EQ(c.liked, 4);
        ASSERT_EQ(c.disliked, 2);
        ASSERT_EQ(c.skipped, 4);
        ASSERT_EQ(c.skipped_by_reason[SKIP_DELETED], 1);
        ASSERT_EQ(c.skipped_by_reason[SKIP_ANIMATED], 1);
        ASSERT_EQ(c.skipped_by_reason[SKIP_NO_URL], 2);
        ASSERT_EQ(c.images_missing, 6);
        ASSERT_EQ(c.images_ok, 0);

        /* undeleted on the site: back in the dataset */
        ASSERT_OK(store_post_set_skip(s, 1, SKIP_NONE, NULL));
        ASSERT_OK(store_counts(s, &c, NULL));
        ASSERT_EQ(c.liked, 5);
        ASSERT_EQ(c.skipped, 3);

        StoreLabelled *d = NULL;
        size_t n = 0;
        ASSERT_OK(store_dataset_list(s, &d, &n, NULL));
        ASSERT_EQ(n, 7);
        ASSERT_EQ(d[0].post_id, 1);
        ASSERT_EQ(d[0].label, 1);
        ASSERT_EQ(strlen(d[0].md5), 32);
        ASSERT_FALSE(d[0].has_image);
        ASSERT_EQ(d[n - 1].label, -1);
        free(d);

        ASSERT_EQ(skip_reason_from_string("no-url"), SKIP_NO_URL);
        ASSERT_EQ(skip_reason_from_string("bogus"), _SKIP_REASON_INVALID);
        ASSERT_STREQ(label_source_to_string(LABEL_SOURCE_FAVOURITE), "favourite");
        ASSERT_EQ(label_source_from_string("downvote"), LABEL_SOURCE_DOWNVOTE);
        store_free(s);
        test_rm_rf(dir);
}

TEST(images_needed_and_recorded)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        uint64_t gen;
        ImageNeeded *need = NULL;
        size_t n = 0;

        ASSERT_OK(store_sync_begin(s, &gen, NULL));
        for (uint64_t id = 1; id <= 8; id++) {
                test_upsert(s, id);
                ASSERT_OK(store_label_seen(s, id, LABEL_SOURCE_UPVOTE, gen, NULL));
        }
        test_upsert(s, 9); /* unlabelled: never needed */
        ASSERT_OK(store_post_set_skip(s, 8, SKIP_ANIMATED, NULL));
        _cleanup_post_free_ Post *hidden = test_post(7);
        free(hidden->file_url);
        hidden->file_url = NULL; /* the site hides it: no URL to fetch */
        ASSERT_OK(store_post_upsert(s, hidden, NULL));

        ASSERT_OK(store_images_needed(s, gen, 0, &need, &n, NULL));
        ASSERT_EQ(n, 6);
        ASSERT_EQ(need[0].post_id, 6); /* newest first */
        _cleanup_post_free_ Post *p6 = test_post(6);
        ASSERT_STREQ(need[0].md5, p6->md5);
        ASSERT_STREQ(need[0].url, p6->sample_url);
        image_needed_array_free(need, n);
        ASSERT_OK(store_images_needed(s, gen, 2, &need, &n, NULL));
        ASSERT_EQ(n, 2);
        image_needed_array_free(need, n);

        /* 1 ok, 2 corrupt (permanent), 3 network trouble (transient) */
        _cleanup_post_free_ Post *p1 = test_post(1), *p2 = test_post(2), *p3 = test_post(3);
        ASSERT_OK(store_image_ok(s, p1->md5, 1, 34567, NULL));
        ASSERT_OK(store_image_failed(s, p2->md5, 2, "Cannot decode the image", false, gen, NULL));
        ASSERT_OK(store_image_failed(s, p3->md5, 3, "timeout", true, gen, NULL));
        ASSERT_ERROR(store_image_ok(s, "../x", 1, 1, NULL), EINVAL);
        ASSERT_ERROR(store_image_failed(s, "ABC", 1, "x", true, gen, NULL), EINVAL);
        /* a late failure never unmakes a crop on disk */
        ASSERT_OK(store_image_failed(s, p1->md5, 1, "late", true, gen, NULL));
        ASSERT_TRUE(store_image_is_ok(s, p1->md5));

        ASSERT_OK(store_images_needed(s, gen, 0, &need, &n, NULL));
        ASSERT_EQ(n, 3); /* 4, 5, 6; 3 waits for the next sync */
        for (size_t i = 0; i < n; i++)
                ASSERT_TRUE(need[i].post_id >= 4 && need[i].post_id <= 6);
        image_needed_array_free(need, n);

        StoreCounts c;
        ASSERT_OK(store_counts(s, &c, NULL));
        ASSERT_EQ(c.images_ok, 1);
        ASSERT_EQ(c.images_failed, 2);
        ASSERT_EQ(c.images_missing, 4); /* 4, 5, 6 and 7 (no URL) */

        /* the next sync retries the transient one, up to the attempt limit */
        uint64_t g = gen;
        for (unsigned attempt = 2; attempt <= STORE_IMAGE_MAX_ATTEMPTS + 1; attempt++) {
                g++;
                ASSERT_OK(store_images_needed(s, g, 0, &need, &n, NULL));
                bool has3 = false;
                for (size_t i = 0; i < n; i++)
                        has3 = has3 || need[i].post_id == 3;
                image_needed_array_free(need, n);
                ASSERT_EQ(has3, attempt <= STORE_IMAGE_MAX_ATTEMPTS);
                ASSERT_OK(store_image_failed(s, p3->md5, 3, "timeout", true, g, NULL));
        }

        /* a sync that failed and is resumed retries what failed transiently in
         * the stopped run, under the same generation */
        ASSERT_OK(store_sync_end(s, gen, false, NULL));
        _cleanup_post_free_ Post *p5 = test_post(5);
        ASSERT_OK(store_image_failed(s, p5->md5, 5, "connection reset", true, gen, NULL));
        ASSERT_OK(store_images_needed(s, gen, 0, &need, &n, NULL));
        for (size_t i = 0; i < n; i++)
                ASSERT_TRUE(need[i].post_id != 5);
        image_needed_array_free(need, n);
        uint64_t resumed;
        ASSERT_OK(store_sync_begin(s, &resumed, NULL));
        ASSERT_EQ(resumed, gen);
        ASSERT_OK(store_images_needed(s, gen, 0, &need, &n, NULL));
        bool has5 = false;
        for (size_t i = 0; i < n; i++)
                has5 = has5 || need[i].post_id == 5;
        image_needed_array_free(need, n);
        ASSERT_TRUE(has5);

        /* a crop on disk is never fetched again, even in a later generation */
        ASSERT_OK(store_images_needed(s, g + 10, 0, &need, &n, NULL));
        for (size_t i = 0; i < n; i++)
                ASSERT_TRUE(need[i].post_id != 1 && need[i].post_id != 2);
        image_needed_array_free(need, n);

        /* unless the file vanished: verify finds it gone and forgets it */
        _cleanup_free_ char *images = NULL, *f4 = NULL;
        _cleanup_post_free_ Post *p4 = test_post(4);
        ASSERT_TRUE(asprintf(&images, "%s/images", dir) > 0);
        ASSERT_TRUE(asprintf(&f4, "%s/%s.jpg", images, p4->md5) > 0);
        ASSERT_OK(mkdir_parents(images, 0700));
        ASSERT_OK(write_file_atomic(f4, "x", 1, 0644));
        ASSERT_OK(store_image_ok(s, p4->md5, 4, 1, NULL));
        ASSERT_EQ(store_images_verify(s, images, NULL), 1); /* p1's file was never there */
        ASSERT_FALSE(store_image_is_ok(s, p1->md5));
        ASSERT_TRUE(store_image_is_ok(s, p4->md5));
        ASSERT_EQ(store_images_verify(s, images, NULL), 0);
        ASSERT_OK(store_image_forget(s, p4->md5, NULL));
        ASSERT_FALSE(store_image_is_ok(s, p4->md5));
        StoreLabelled *d;
        ASSERT_OK(store_dataset_list(s, &d, &n, NULL));
        free(d);
        store_free(s);
        test_rm_rf(dir);
}

TEST(blacklist)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        _cleanup_strv_free_ char **l = NULL;
        char *rules[] = {"gore", "rating:e -solo", "~a ~b", NULL};

        ASSERT_OK(store_blacklist_get(s, &l, NULL));
        ASSERT_EQ(strv_length(l), 0);
        strv_free(l);
        ASSERT_OK(store_blacklist_set(s, rules, NULL));
        ASSERT_OK(store_blacklist_get(s, &l, NULL));
        ASSERT_EQ(strv_length(l), 3);
        ASSERT_STREQ(l[1], "rating:e -solo");
        strv_free(l);
        ASSERT_OK(store_blacklist_set(s, NULL, NULL));
        ASSERT_OK(store_blacklist_get(s, &l, NULL));
        ASSERT_EQ(strv_length(l), 0);
        store_free(s);
        test_rm_rf(dir);
}

TEST(many_posts_in_pages)
{
        /* the shape of a real sync: pages of 320 in batches, then counts */
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        uint64_t gen;
        ASSERT_OK(store_sync_begin(s, &gen, NULL));
        for (uint64_t page = 0; page < 5; page++) {
                ASSERT_OK(store_begin(s, NULL));
                for (uint64_t i = 1; i <= 320; i++) {
                        uint64_t id = page * 320 + i;
                        test_upsert(s, id);
                        ASSERT_OK(store_label_seen(
                                s, id, id % 4 ? LABEL_SOURCE_FAVOURITE : LABEL_SOURCE_DOWNVOTE, gen, NULL));
                }
                ASSERT_OK(store_commit(s, NULL));
        }
        ASSERT_OK(store_sync_end(s, gen, true, NULL));
        StoreCounts c;
        ASSERT_OK(store_counts(s, &c, NULL));
        ASSERT_EQ(c.liked, 1200);
        ASSERT_EQ(c.disliked, 400);
        ASSERT_OK(store_check_integrity(s, NULL));
        store_free(s);
        test_rm_rf(dir);
}

TEST_MAIN()
