/* SPDX-License-Identifier: MIT */
/* vote_record() without D-Bus, on the real core (a store in a fresh XDG data
 * folder, the default config) and the real outbox: the label and its outbox
 * entry land together with the favourite the config asks for, a vote on a
 * predicted post moves its crop into the dataset and announces
 * EVENT_IMAGES_ADDED, and the counts and the outbox are announced once
 * counted off the loop (vote_count), before the vote's reply would go. Runs
 * in tests/with-session.sh (fresh XDG folders). */
#include <sys/stat.h>

#include "config.h"
#include "core/context.h"
#include "images.h"
#include "post.h"
#include "services/outbox.h"
#include "store.h"
#include "tests.h"
#include "vote/vote.h"
/* Last: glib redefines MIN and MAX over util.h's (the same meaning). */
#include <vips/vips.h>

#define MD5_PREDICTED "0123456789abcdef0123456789abcdef"
#define MD5_SYNCED "fedcba9876543210fedcba9876543210"

typedef struct Seen {
        unsigned counts, outbox, images;
} Seen;

static void on_event(EventKind kind, const void *payload, void *userdata)
{
        Seen *s = userdata;
        s->counts += kind == EVENT_COUNTS_CHANGED;
        s->outbox += kind == EVENT_OUTBOX_CHANGED;
        s->images += kind == EVENT_IMAGES_ADDED;
}

static void add_post(Store *st, uint64_t id, const char *md5)
{
        Post p = {.id = id, .rating = 's', .width = 100, .height = 100};
        p.md5 = (char *)md5;
        p.ext = (char *)"jpg";
        ASSERT_OK(store_post_upsert(st, &p, NULL));
}

/* A real crop of the configured size where a prediction run keeps it. */
static char *write_prediction_crop(Context *ctx)
{
        _cleanup_free_ char *dir = NULL;
        VipsImage *black = NULL;
        void *buf = NULL;
        size_t len = 0;
        char *path;

        ASSERT_OK(xdg_fluff_dir("CACHE", "predictions", &dir));
        ASSERT_OK(mkdir_parents(dir, 0700));
        ASSERT_OK(image_path_for_md5(dir, MD5_PREDICTED, &path));
        ASSERT_OK(vips_black(&black, 32, 24, "bands", 3, NULL));
        ASSERT_OK(vips_jpegsave_buffer(black, &buf, &len, NULL));
        ASSERT_OK(image_crop_square(buf, len, ctx->config->image_size, CROP_CENTRE, NULL, path, NULL));
        g_object_unref(black);
        g_free(buf);
        ASSERT_OK(image_check_crop(path, ctx->config->image_size));
        return path;
}

static const OutboxEntry *find_entry(const OutboxEntry *e, size_t n, uint64_t post_id, int score)
{
        for (size_t i = 0; i < n; i++)
                if (e[i].post_id == post_id && e[i].score == score)
                        return &e[i];
        return NULL;
}

static void on_counted(void *userdata)
{
        (*(unsigned *)userdata)++;
}

/* vote_count() and the loop until it is done: nothing is counted or
 * announced before, done() comes once, after both announcements. */
static void count_votes(Context *ctx, Voter *v, Seen *seen)
{
        uint64_t liked = ctx->counts.now.liked;
        unsigned told = 0;

        ASSERT_EQ(vote_count(v, on_counted, &told), 1);
        ASSERT_EQ(seen->counts, 0u);
        ASSERT_EQ(seen->outbox, 0u);
        ASSERT_EQ(ctx->counts.now.liked, liked);
        for (int i = 0; i < 200 && told == 0; i++)
                ASSERT_TRUE(sd_event_run(ctx->event, 100 * USEC_PER_MSEC) >= 0);
        ASSERT_EQ(told, 1u);
        ASSERT_TRUE(seen->outbox >= 1u);
}

TEST(vote_record)
{
        _cleanup_free_ char *crop = NULL, *dst = NULL, *tags = NULL;
        Context *ctx = NULL;
        Outbox *outbox = NULL;
        OutboxEntry *due = NULL;
        PredictionRow row, *rows = NULL;
        Seen seen = {};
        Error e = {};
        uint64_t run;
        size_t n = 0, n_due = 0;
        int label;
        struct stat st;

        if (!getenv("FLUFF_TEST_ROOT"))
                TEST_SKIP("needs tests/with-session.sh (fresh XDG folders)");
        /* The outbox may try the site: let it find nobody. */
        ASSERT_OK(setenv("FLUFF_SITE", "http://127.0.0.1:9", 1));
        ASSERT_OK(images_init());
        ASSERT_OK(context_new(&ctx));
        ASSERT_OK(outbox_new(ctx->event, ctx->store, ctx->e621, &ctx->session, &ctx->counts, ctx->events,
                             &outbox));
        for (EventKind k = 0; k < _EVENT_MAX; k++)
                ASSERT_OK(events_subscribe(ctx->events, k, on_event, &seen));
        Voter voter = voter_make(ctx, outbox);

        add_post(ctx->store, 7, MD5_PREDICTED);
        add_post(ctx->store, 8, MD5_SYNCED);

        /* Logged out: nothing is recorded. */
        ASSERT_ERROR(vote_record(&voter, 8, 1, &e), ENOKEY);
        ASSERT_TRUE(strstr(e.message, "Not logged in") == e.message);
        ASSERT_ERROR(store_post_label(ctx->store, 8, &label, NULL, NULL), ENOENT);

        ASSERT_OK(session_set(&ctx->session, "someone", "key"));
        e = (Error){};
        ASSERT_ERROR(vote_record(&voter, 99, 1, &e), ENOENT);
        ASSERT_TRUE(strstr(e.message, "Post 99 is not in Fluff's dataset") == e.message);

        /* A like of a synced post: label and entry (with the favourite the
         * default config asks for), the counts and the outbox announced, no
         * image moved. */
        ASSERT_TRUE(ctx->config->like_favourites);
        seen = (Seen){};
        ASSERT_OK(vote_record(&voter, 8, 1, NULL));
        count_votes(ctx, &voter, &seen);
        ASSERT_OK(store_post_label(ctx->store, 8, &label, NULL, NULL));
        ASSERT_EQ(label, 1);
        ASSERT_OK(store_outbox_due(ctx->store, now_usec(CLOCK_REALTIME) + 3600 * USEC_PER_SEC, 0, &due,
                                   &n_due, NULL));
        ASSERT_TRUE(find_entry(due, n_due, 8, 1) != NULL);
        ASSERT_EQ(find_entry(due, n_due, 8, 1)->favourite, 1);
        ASSERT_EQ(seen.counts, 1u);
        ASSERT_EQ(ctx->counts.now.liked, 1u);
        ASSERT_EQ(ctx->counts.now.outbox_pending, 1u);
        ASSERT_EQ(seen.images, 0u);

        /* A dislike of a predicted post: its crop moves into the dataset,
         * the run points at it, and embedding is asked for once. */
        crop = write_prediction_crop(ctx);
        ASSERT_OK(store_prediction_run_new(ctx->store, "canine", &run, NULL));
        row = (PredictionRow){
                .post_id = 7, .score = 0.8, .label = 1, .top_tags = (char *)"", .image_path = crop};
        ASSERT_OK(store_prediction_add(ctx->store, run, 0, &row, NULL));
        seen = (Seen){};
        ASSERT_OK(vote_record(&voter, 7, -1, NULL));
        ASSERT_EQ(seen.images, 1u);
        ASSERT_OK(image_path_for_md5(ctx->images_dir, MD5_PREDICTED, &dst));
        ASSERT_OK(image_check_crop(dst, ctx->config->image_size));
        ASSERT_TRUE(stat(crop, &st) < 0 && errno == ENOENT);
        ASSERT_TRUE(store_image_is_ok(ctx->store, MD5_PREDICTED));
        ASSERT_OK(store_prediction_list(ctx->store, run, &tags, &rows, &n, NULL));
        ASSERT_EQ(n, (size_t)1);
        ASSERT_STREQ(rows[0].image_path, dst);
        prediction_row_array_free(rows, n);

        /* Taking the like back unfavourites; a clear moves no file. */
        for (size_t i = 0; i < n_due; i++)
                free(due[i].last_error);
        free(due);
        seen = (Seen){};
        ASSERT_OK(vote_record(&voter, 8, 0, NULL));
        ASSERT_EQ(seen.images, 0u);
        ASSERT_OK(store_outbox_due(ctx->store, now_usec(CLOCK_REALTIME) + 3600 * USEC_PER_SEC, 0, &due,
                                   &n_due, NULL));
        ASSERT_TRUE(find_entry(due, n_due, 8, 0) != NULL);
        ASSERT_EQ(find_entry(due, n_due, 8, 0)->favourite, -1);
        ASSERT_TRUE(find_entry(due, n_due, 7, -1) != NULL);
        ASSERT_EQ(find_entry(due, n_due, 7, -1)->favourite, 0);
        for (size_t i = 0; i < n_due; i++)
                free(due[i].last_error);
        free(due);

        outbox_free(outbox);
        context_free(ctx);
}

TEST_MAIN()
