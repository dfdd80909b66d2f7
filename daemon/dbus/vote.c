/* SPDX-License-Identifier: MIT */
/* Manager.Vote and the outbox's properties. */
#include <inttypes.h>

#include "core/context.h"
#include "dbus/bus.h"
#include "services/outbox.h"
#include "vote/vote.h"

/* A recorded vote's reply, once the counts that include it are announced. */
static void vote_counted(void *userdata)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = userdata;
        int r = sd_bus_reply_method_return(m, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to reply to a vote, ignoring: %m");
}

static void vote_recorded(BusServer *s, sd_bus_message *m)
{
        if (vote_count(&s->voter, vote_counted, sd_bus_message_ref(m)) == 0)
                vote_counted(m);
}

/* A vote that waited for the site to send the post. */
typedef struct VoteFetched {
        BusServer *s;
        sd_bus_message *m;
} VoteFetched;

static void vote_fetched(int r, const Error *e, void *userdata)
{
        VoteFetched *f = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = f->m;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        BusServer *s = f->s;

        free(f);
        if (r >= 0) {
                vote_recorded(s, m);
                return;
        }
        (void)bus_error_from(&error, r, e);
        r = sd_bus_reply_method_error(m, &error);
        if (r < 0)
                log_debug_errno(r, "Failed to reply to a vote, ignoring: %m");
}

int method_vote(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        uint64_t post_id;
        int32_t score;
        Error e = {};
        int r;

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
        VoteFetched *f = malloc(sizeof(VoteFetched));
        if (!f)
                return -ENOMEM;
        *f = (VoteFetched){.s = s, .m = sd_bus_message_ref(m)};
        r = vote_record_any(&s->voter, post_id, score, vote_fetched, f, &e);
        if (r != 1) { /* not waiting for the site: the callback will not come */
                sd_bus_message_unref(f->m);
                free(f);
        }
        if (r < 0)
                return bus_error_from(error, r, &e);
        if (r == 0)
                vote_recorded(s, m);
        return 1; /* the reply comes with the counts (or with the post) */
}

int property_get_outbox(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        const StoreCounts *c = &s->f.ctx->counts.now;

        if (streq(property, "OutboxPending"))
                return sd_bus_message_append(reply, "t", c->outbox_pending);
        if (streq(property, "OutboxSent"))
                return sd_bus_message_append(reply, "t", c->outbox_sent);
        if (streq(property, "OutboxFailed"))
                return sd_bus_message_append(reply, "t", c->outbox_failed);
        if (streq(property, "OutboxLastError"))
                return sd_bus_message_append(reply, "s", outbox_last_error(s->f.outbox));
        return -EINVAL;
}
