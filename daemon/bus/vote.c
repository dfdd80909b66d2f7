/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "bus/manager.h"
#include "bus/vote.h"
#include "config.h"
#include "daemon.h"
#include "embed/jobs.h"
#include "fluff/bus.h"
#include "outbox/outbox.h"
#include "review/review.h"

static const char *score_name(int score)
{
        return score > 0 ? "like" : score < 0 ? "dislike" : "clear";
}

/* What the favourite must become: a like favourites (when the user wants
 * that); taking a like back, by a dislike or a clear, unfavourites, or the
 * site's favourite would keep saying "liked" at the next sync. */
static int favourite_change(const Daemon *d, int score, int previous)
{
        if (!d->config->like_favourites)
                return 0;
        if (score > 0)
                return 1;
        return previous > 0 ? -1 : 0;
}

int method_vote(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        Store *s = d->store;
        uint64_t post_id;
        int32_t score;
        int previous = 0, favourite, r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "ti", &post_id, &score);
        if (r < 0)
                return r;
        if (score < -1 || score > 1)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "A vote is 1 (like), -1 (dislike) or 0 (clear), not %" PRIi32 ".",
                                         score);
        if (post_id == 0 || post_id > INT64_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%" PRIu64 " is not a post id.",
                                         post_id);
        if (!daemon_logged_in(d))
                return sd_bus_error_set(
                        error, FLUFF_ERROR_NOT_LOGGED_IN,
                        "Not logged in: run \"fluffctl login USERNAME\" first, so the vote can "
                        "reach the site.");
        /* A label needs the post's tags and image to be of use; Fluff knows
         * those only for posts it synced or predicted. */
        if (!store_post_exists(s, post_id))
                return sd_bus_error_setf(error, FLUFF_ERROR_NOT_FOUND,
                                         "Post %" PRIu64
                                         " is not in Fluff's dataset or predictions; run \"fluffctl "
                                         "sync\" or a prediction that shows it first.",
                                         post_id);

        r = store_post_label(s, post_id, &previous, NULL);
        if (r == -ENOENT)
                previous = 0;
        else if (r < 0)
                goto fail;
        favourite = favourite_change(d, score, previous);

        /* The label and its outbox entry land together or not at all: a
         * label the site never hears of would silently disagree with it. */
        r = store_begin(s);
        if (r < 0)
                goto fail;
        r = store_label_set_app(s, post_id, score);
        if (r >= 0)
                r = store_outbox_add(s, post_id, score, favourite, NULL);
        if (r >= 0)
                r = store_commit(s);
        if (r < 0) {
                (void)store_rollback(s);
                goto fail;
        }
        log_info("Recorded a %s of post %" PRIu64 "; queued for the site.", score_name(score), post_id);
        /* A labelled post belongs to the dataset: its prediction crop moves
         * there before the reply, so whoever looks next finds it. A clear
         * takes the post out of the dataset and leaves the files alone. */
        if (score != 0) {
                r = review_adopt_crop(d, post_id);
                if (r < 0)
                        log_warning_errno(r, "Failed to move the crop of post %" PRIu64
                                          " into the dataset, ignoring (the next sync fetches it): %m",
                                          post_id);
                else if (r > 0)
                        /* Embedded now, the post counts in the very next training. */
                        embed_after_sync(d);
        }

        r = sd_bus_reply_method_return(m, NULL);
        daemon_refresh_counts(d);
        vote_emit_outbox_changed(d);
        outbox_kick(d->outbox);
        return r < 0 ? r : 1;

fail:
        log_warning_errno(r, "Failed to record the %s of post %" PRIu64 ": %s", score_name(score), post_id,
                          store_error(s));
        return fluff_bus_error_set_errnof(error, r, "Failed to record the %s of post %" PRIu64 ": %s",
                                          score_name(score), post_id, store_error(s));
}

int property_get_outbox(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;

        if (streq(property, "OutboxPending"))
                return sd_bus_message_append(reply, "t", d->counts.outbox_pending);
        if (streq(property, "OutboxSent"))
                return sd_bus_message_append(reply, "t", d->counts.outbox_sent);
        if (streq(property, "OutboxFailed"))
                return sd_bus_message_append(reply, "t", d->counts.outbox_failed);
        if (streq(property, "OutboxLastError"))
                return sd_bus_message_append(reply, "s", outbox_last_error(d->outbox));
        return -EINVAL;
}

void vote_emit_outbox_changed(Daemon *d)
{
        int r;

        if (!d->bus)
                return;
        r = sd_bus_emit_properties_changed(d->bus, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, "OutboxPending",
                                           "OutboxSent", "OutboxFailed", "OutboxLastError", NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to announce the outbox's change, ignoring: %m");
}
