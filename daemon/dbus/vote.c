/* SPDX-License-Identifier: MIT */
/* Manager.Vote and the outbox's properties. */
#include <inttypes.h>

#include "core/context.h"
#include "dbus/bus.h"
#include "services/outbox.h"
#include "vote/vote.h"

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
        r = vote_record(s->f.ctx, s->f.outbox, post_id, score, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        return sd_bus_reply_method_return(m, NULL);
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
