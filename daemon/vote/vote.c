/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "config.h"
#include "core/context.h"
#include "services/outbox.h"
#include "vote/vote.h"

static const char *score_name(int score)
{
        return score > 0 ? "like" : score < 0 ? "dislike" : "clear";
}

/* What the favourite must become: a like favourites (when the user wants
 * that); taking a like back, by a dislike or a clear, unfavourites, or the
 * site's favourite would keep saying "liked" at the next sync. */
static int favourite_change(const Config *config, int score, int previous)
{
        if (!config->like_favourites)
                return 0;
        if (score > 0)
                return 1;
        return previous > 0 ? -1 : 0;
}

Voter voter_make(Context *ctx, Outbox *outbox)
{
        return (Voter){
                .store = ctx->store,
                .e621 = ctx->e621,
                .site = ctx->site,
                .config = ctx->config,
                .session = &ctx->session,
                .counts = &ctx->counts,
                .events = ctx->events,
                .images_dir = ctx->images_dir,
                .outbox = outbox,
        };
}

typedef struct VoteCount {
        Events *events;
        vote_counted_t done;
        void *userdata;
} VoteCount;

/* The Outbox* properties read the counts: announced once they are new. */
static void on_counted(void *userdata)
{
        VoteCount *c = userdata;
        events_emit(c->events, EVENT_OUTBOX_CHANGED, NULL);
        c->done(c->userdata);
        free(c);
}

int vote_count(const Voter *v, vote_counted_t done, void *userdata)
{
        VoteCount *c = malloc(sizeof(VoteCount));

        if (c) {
                *c = (VoteCount){.events = v->events, .done = done, .userdata = userdata};
                if (counts_refresh_then(v->counts, on_counted, c) > 0)
                        return 1;
                free(c); /* counted on the loop */
        } else
                counts_refresh(v->counts);
        events_emit(v->events, EVENT_OUTBOX_CHANGED, NULL);
        return 0;
}

int vote_record(const Voter *v, uint64_t post_id, int score, Error *error)
{
        Store *s = v->store;
        Error db = {}; /* the store's reason, quoted after ours */
        int previous = 0, favourite, r;

        if (!session_logged_in(v->session))
                return error_setf(error, -ENOKEY,
                                  "Not logged in: run \"fluffctl login USERNAME\" first, so the vote can "
                                  "reach the site.");
        /* A label needs the post's tags and image to be of use; Fluff knows
         * those only for posts it synced or predicted. */
        if (!store_post_exists(s, post_id))
                return error_setf(error, -ENOENT,
                                  "Post %" PRIu64
                                  " is not in Fluff's dataset or predictions; run \"fluffctl "
                                  "sync\" or a prediction that shows it first.",
                                  post_id);

        r = store_post_label(s, post_id, &previous, NULL, &db);
        if (r == -ENOENT && score == 0)
                /* never liked or disliked, here or on the site: a clear would
                 * only send the site a removal of nothing */
                return error_setf(error, -ENOENT,
                                  "Post %" PRIu64 " has no like or dislike of yours to clear.", post_id);
        if (r == -ENOENT)
                previous = 0;
        else if (r < 0)
                goto fail;
        favourite = favourite_change(v->config, score, previous);

        /* The label and its outbox entry land together or not at all: a
         * label the site never hears of would silently disagree with it. */
        r = store_begin(s, &db);
        if (r < 0)
                goto fail;
        r = store_label_set_app(s, post_id, score, &db);
        if (r >= 0)
                r = store_outbox_add(s, post_id, score, favourite, NULL, &db);
        if (r >= 0)
                r = store_commit(s, &db);
        if (r < 0) {
                (void)store_rollback(s, NULL);
                goto fail;
        }
        log_info("Recorded a %s of post %" PRIu64 "; queued for the site.", score_name(score), post_id);
        /* A labelled post belongs to the dataset: its prediction crop moves
         * there before the reply, so whoever looks next finds it. A clear
         * takes the post out of the dataset and leaves the files alone. */
        if (score != 0) {
                r = vote_adopt_crop(v, post_id);
                if (r < 0)
                        log_warning_errno(r,
                                          "Failed to move the crop of post %" PRIu64
                                          " into the dataset, ignoring (the next sync fetches it): %m",
                                          post_id);
                else if (r > 0)
                        /* Embedded now, the post counts in the very next training. */
                        events_emit(v->events, EVENT_IMAGES_ADDED, NULL);
        }

        outbox_kick(v->outbox);
        return 0;

fail:
        log_warning_errno(r, "Failed to record the %s of post %" PRIu64 ": %s", score_name(score), post_id,
                          error_message(&db, r));
        return error_setf(error, r, "Failed to record the %s of post %" PRIu64 ": %s", score_name(score),
                          post_id, error_message(&db, r));
}
