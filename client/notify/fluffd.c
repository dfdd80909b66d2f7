/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "fluff/bus.h"
#include "notify.h"

typedef struct VoteRequest {
        Context *context;
        uint32_t id;
        uint64_t generation;
        int score;
        Batch *batch; /* owned: the one post voted on */
} VoteRequest;

static void vote_request_free(void *p)
{
        VoteRequest *q = p;

        if (!q)
                return;
        batch_free(q->batch);
        free(q);
}

static int on_vote_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        VoteRequest *q = userdata;
        Context *c = q->context;
        const NotifyPost *p = &q->batch->posts[0];
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *verb = q->score > 0 ? "like" : "dislike";
        _cleanup_free_ char *summary = NULL;
        /* The id is only worth replacing while the same server holds it. */
        uint32_t id = q->generation == c->server_generation ? q->id : 0;

        if (e) {
                const char *why = e->message ? e->message : e->name;
                if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                        why = "fluffd is not running (start it with \"systemctl --user start fluffd\").";
                log_warning("Failed to %s post %" PRIu64 ": %s", verb, p->id, why);
                if (asprintf(&summary, "Could not %s post %" PRIu64, verb, p->id) < 0)
                        return log_oom(), 0;
                server_replace(c, id, summary, why, p->image);
                return 0;
        }
        log_info("Recorded a %s of post %" PRIu64 ".", verb, p->id);
        if (asprintf(&summary, "%s post %" PRIu64, q->score > 0 ? "Liked" : "Disliked", p->id) < 0)
                return log_oom(), 0;
        server_replace(c, id, summary, "Fluff sends the vote to the site in the background.", p->image);
        return 0;
}

void fluffd_vote(Context *c, uint32_t id, Batch *b, int score)
{
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        VoteRequest *q;
        int r;

        q = calloc(1, sizeof(VoteRequest));
        if (!q) {
                batch_free(b);
                log_oom();
                return;
        }
        *q = (VoteRequest){
                .context = c, .id = id, .generation = c->server_generation, .score = score, .batch = b};
        /* To the well-known name: a fluffd that is not running is started. */
        r = sd_bus_call_method_async(c->bus, &slot, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                     "Vote", on_vote_reply, q, "ti", b->posts[0].id, (int32_t)score);
        if (r < 0) {
                log_warning_errno(r, "Failed to send the vote on post %" PRIu64 ": %m", b->posts[0].id);
                vote_request_free(q);
                return;
        }
        (void)sd_bus_slot_set_destroy_callback(slot, vote_request_free);
        (void)sd_bus_slot_set_floating(slot, 1);
}

static int on_new_predictions(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Context *c = userdata;
        const char *sender = sd_bus_message_get_sender(m);
        bool v2 = streq(strempty(sd_bus_message_get_member(m)), "NewPredictions2");
        const char *want = v2 ? "tsa(tdssssa{sv})" : "tsa(tdssss)";
        Batch *b = NULL;
        int r;

        /* Only fluffd's own signal counts, not one sent by another client. */
        if (!c->fluffd_owner || !sender || !streq(sender, c->fluffd_owner))
                return 0;
        /* A fluffd with explanations sends NewPredictions2 first, then the
         * same rows as NewPredictions for older clients: show them once. */
        if (v2)
                c->fluffd_v2 = true;
        else if (c->fluffd_v2)
                return 0;
        if (!sd_bus_message_has_signature(m, want)) {
                log_warning("fluffd sent %s with the signature \"%s\", not \"%s\"; "
                            "fluff-notify and fluffd are of different versions.",
                            sd_bus_message_get_member(m), strempty(sd_bus_message_get_signature(m, true)),
                            want);
                return 0;
        }
        r = batch_read(m, &b);
        if (r < 0) {
                log_warning_errno(r, "Failed to read fluffd's new predictions, ignoring: %m");
                return 0;
        }
        server_show(c, b);
        return 0;
}

void fluffd_owner_changed(Context *c, const char *new_owner)
{
        bool was = c->fluffd_owner != NULL;

        free(c->fluffd_owner);
        c->fluffd_owner = isempty(new_owner) ? NULL : strdup(new_owner);
        c->fluffd_v2 = false; /* another fluffd may be of another version */
        if (!isempty(new_owner) && !c->fluffd_owner)
                log_oom();
        /* Notifications already up stay valid: votes go to the name, not to a process. */
        if (was && !c->fluffd_owner)
                log_debug("fluffd left the bus.");
        else if (c->fluffd_owner)
                log_debug("fluffd is %s.", c->fluffd_owner);
}

int fluffd_init(Context *c)
{
        int r;

        r = notify_add_match(c,
                             "type='signal',path='" FLUFF_BUS_PATH "',interface='" FLUFF_BUS_MANAGER_IFACE
                             "',member='NewPredictions'",
                             on_new_predictions);
        if (r >= 0)
                r = notify_add_match(c,
                                     "type='signal',path='" FLUFF_BUS_PATH
                                     "',interface='" FLUFF_BUS_MANAGER_IFACE "',member='NewPredictions2'",
                                     on_new_predictions);
        if (r < 0)
                return r;
        return notify_track_owner(c, FLUFF_BUS_NAME, fluffd_owner_changed);
}
