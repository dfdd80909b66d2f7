/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/counts.h"
#include "core/events.h"
#include "core/session.h"
#include "e621.h"
#include "services/outbox.h"
#include "store.h"
#include "fluff/text.h"

/* The last failure outlives fluffd, so status still explains a failed vote
 * after a restart; the post it was about lets a later success clear it. */
#define STATE_LAST_ERROR "outbox.last_error"
#define STATE_LAST_ERROR_POST "outbox.last_error_post"
/* The entry being sent, so that after a kill the next start knows the site
 * may already have it and asks before sending it again. */
#define STATE_IN_FLIGHT "outbox.in_flight"

typedef enum Step {
        STEP_VOTE,      /* the vote, or its removal for a clear */
        STEP_FAVOURITE, /* then the favourite change, when the entry has one */
} Step;

struct Outbox {
        sd_event *event;        /* borrowed */
        Store *store;           /* borrowed */
        E621Client *e621;       /* borrowed */
        const Session *session; /* borrowed; sends only while logged in */
        Counts *counts;         /* borrowed; refreshed after each outcome */
        Events *events;         /* borrowed; EVENT_OUTBOX_CHANGED */
        sd_event_source *timer; /* owned; fires at the next due entry */
        E621Request *request;   /* borrowed handle while an entry is in flight */
        OutboxEntry entry;      /* the entry in flight (last_error owned) */
        Step step;
        bool verify; /* the entry was in flight when fluffd stopped: ask the site first */
        bool verify_expect_found;
        char *last_error; /* owned, NULL when none */
        uint64_t last_error_post;
};

static void outbox_send_next(Outbox *o);

static void entry_clear(Outbox *o)
{
        free(o->entry.last_error);
        o->entry = (OutboxEntry){};
}

static void outbox_load_last_error(Outbox *o)
{
        Store *s = o->store;

        if (store_state_get(s, STATE_LAST_ERROR, &o->last_error, NULL) < 0)
                o->last_error = NULL;
        /* stored by an older fluffd that kept a site's raw text: repaired, or
         * the OutboxLastError property (and status) could never be sent */
        if (o->last_error && !text_is_clean(o->last_error, strlen(o->last_error), 0)) {
                char *clean = text_sanitize(o->last_error, strlen(o->last_error), 0);
                if (clean) {
                        free(o->last_error);
                        o->last_error = clean;
                }
        }
        if (store_state_get_u64(s, STATE_LAST_ERROR_POST, &o->last_error_post, NULL) < 0)
                o->last_error_post = 0;
}

int outbox_new(sd_event *event, Store *store, E621Client *e621, const Session *session, Counts *counts,
               Events *events, Outbox **ret)
{
        Outbox *o = calloc(1, sizeof(Outbox));
        if (!o)
                return -ENOMEM;
        o->event = event;
        o->store = store;
        o->e621 = e621;
        o->session = session;
        o->counts = counts;
        o->events = events;
        outbox_load_last_error(o);
        *ret = o;
        return 0;
}

Outbox *outbox_free(Outbox *o)
{
        if (!o)
                return NULL;
        e621_request_cancel(o->request);
        counts_forget(o->counts, o);
        sd_event_source_disable_unref(o->timer);
        entry_clear(o);
        free(o->last_error);
        free(o);
        return NULL;
}

const char *outbox_last_error(const Outbox *o)
{
        return o && o->last_error ? o->last_error : "";
}

static uint64_t random_bits(void)
{
        uint64_t v = 0;
        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
                v = now_usec(CLOCK_MONOTONIC) * UINT64_C(0x9E3779B97F4A7C15);
        return v;
}

static void outbox_set_last_error(Outbox *o, uint64_t post_id, const char *error)
{
        Store *s = o->store;
        char *copy = NULL;
        int r;

        if (error && !(copy = text_sanitize(error, strlen(error), 0))) {
                log_oom();
                return;
        }
        free(o->last_error);
        o->last_error = copy;
        o->last_error_post = error ? post_id : 0;
        Error db = {};
        r = store_state_set(s, STATE_LAST_ERROR, copy, &db);
        if (r >= 0)
                r = error ? store_state_set_u64(s, STATE_LAST_ERROR_POST, post_id, &db)
                          : store_state_set(s, STATE_LAST_ERROR_POST, NULL, &db);
        if (r < 0)
                log_debug_errno(r, "Failed to keep the outbox's last error, ignoring: %s",
                                error_message(&db, r));
}

static void outbox_set_in_flight(Outbox *o, uint64_t entry_id)
{
        Store *s = o->store;
        Error db = {};
        int r;

        r = entry_id ? store_state_set_u64(s, STATE_IN_FLIGHT, entry_id, &db)
                     : store_state_set(s, STATE_IN_FLIGHT, NULL, &db);
        if (r < 0)
                /* Without the mark a kill may resend the entry: harmless, see outbox.h. */
                log_debug_errno(r, "Failed to mark the vote in flight, ignoring: %s", error_message(&db, r));
}

static void on_counted(void *userdata)
{
        Outbox *o = userdata;
        events_emit(o->events, EVENT_OUTBOX_CHANGED, NULL);
}

/* The Outbox* properties read the counts: announced once they are new. */
static void outbox_changed(Outbox *o)
{
        if (counts_refresh_then(o->counts, on_counted, o) == 0)
                on_counted(o);
}

static void outbox_done(Outbox *o)
{
        Store *s = o->store;
        int r;

        Error db = {};
        r = store_outbox_mark_sent(s, o->entry.id, &db);
        if (r == -ENOENT)
                /* A newer vote on the post replaced it meanwhile; that one goes next. */
                log_debug("Vote %" PRIu64 " was replaced while it was being sent.", o->entry.id);
        else if (r < 0)
                /* The site has it; resending it later is harmless. */
                log_warning_errno(r, "Failed to record vote %" PRIu64 " as sent, it will be sent again: %s",
                                  o->entry.id, error_message(&db, r));
        else
                log_info("Sent the %s of post %" PRIu64 " to the site.",
                         o->entry.score > 0   ? "like"
                         : o->entry.score < 0 ? "dislike"
                                              : "vote removal",
                         o->entry.post_id);
        if (o->last_error && o->last_error_post == o->entry.post_id)
                outbox_set_last_error(o, 0, NULL);
        outbox_set_in_flight(o, 0);
        entry_clear(o);
        outbox_changed(o);
        outbox_send_next(o);
}

/* The site answers 422 also when the user voted too often ("You have reached
 * the hourly limit for this action"): that passes with time. */
static bool is_throttle(const char *message)
{
        return message && (strcasestr(message, "limit") || strcasestr(message, "throttle"));
}

static void outbox_failed(Outbox *o, int error, const char *message)
{
        _cleanup_free_ char *text = NULL;
        Store *s = o->store;
        bool permanent;
        uint64_t next = 0;
        int r;

        /* Only an answer about the vote itself is final (422 and 400: refused,
         * 404: no such post). A rejected key, access denied during a lockdown
         * or trouble on the way is fixed by time or a new login: the vote
         * must not be lost to it. */
        permanent = (error == -EINVAL && !is_throttle(message)) || error == -ENOENT || error == -EFBIG;
        if (!permanent)
                next = now_usec(CLOCK_REALTIME) + outbox_backoff_usec(o->entry.attempts + 1, random_bits());
        if (asprintf(&text, "post %" PRIu64 ": %s%s", o->entry.post_id, message ?: strerror(-error),
                     permanent ? " (not retried)" : " (will retry)") < 0)
                text = NULL;

        if (permanent)
                log_warning("The site refused the vote on post %" PRIu64 ": %s", o->entry.post_id,
                            message ?: strerror(-error));
        else
                log_notice("Sending the vote on post %" PRIu64 " failed, retrying in %" PRIu64 " s: %s",
                           o->entry.post_id, (next - now_usec(CLOCK_REALTIME)) / USEC_PER_SEC,
                           message ?: strerror(-error));
        Error db = {};
        r = store_outbox_mark_failed(s, o->entry.id, text ?: "unknown error", permanent, next, &db);
        if (r == -ENOENT)
                /* A newer vote on the post replaced it meanwhile: its failure no longer matters. */
                log_debug("Vote %" PRIu64 " was replaced while it was being sent.", o->entry.id);
        else if (r < 0)
                log_warning_errno(r, "Failed to record the failed vote %" PRIu64 ": %s", o->entry.id,
                                  error_message(&db, r));
        if (r != -ENOENT)
                outbox_set_last_error(o, o->entry.post_id, text ?: "unknown error");
        outbox_set_in_flight(o, 0);
        entry_clear(o);
        outbox_changed(o);
        outbox_send_next(o);
}

static void on_done(int error, const char *message, void *userdata);

static void on_vote(int error, const char *message, const E621VoteResult *vote, void *userdata)
{
        on_done(error, message, userdata);
}

static int outbox_send_step(Outbox *o)
{
        E621Client *c = o->e621;
        const OutboxEntry *e = &o->entry;
        int r;

        if (o->step == STEP_VOTE)
                r = e->score != 0 ? e621_vote(c, e->post_id, e->score, on_vote, o, &o->request)
                                  : e621_unvote(c, e->post_id, on_done, o, &o->request);
        else
                r = e->favourite > 0 ? e621_favorite(c, e->post_id, on_done, o, &o->request)
                                     : e621_unfavorite(c, e->post_id, on_done, o, &o->request);
        /* One quick retry for a hiccup; longer outages are the outbox's
         * backoff, which survives a restart. */
        if (r >= 0)
                (void)e621_request_set_max_attempts(o->request, 2);
        return r;
}

/* The search that shows whether this step's effect is already on the site;
 * NULL when there is nothing to ask (removing a vote twice changes nothing). */
static int step_check_query(Outbox *o, bool *ret_expect_found, char **ret_query)
{
        const char *user = e621_client_get_username(o->e621);
        const OutboxEntry *e = &o->entry;
        const char *term;

        if (!user)
                return -ENOKEY;
        if (o->step == STEP_VOTE) {
                if (e->score == 0) {
                        *ret_query = NULL;
                        return 0;
                }
                term = e->score > 0 ? "votedup" : "voteddown";
                *ret_expect_found = true;
        } else {
                term = "fav";
                *ret_expect_found = e->favourite > 0;
        }
        if (asprintf(ret_query, "id:%" PRIu64 " %s:%s status:any", e->post_id, term, user) < 0)
                return -ENOMEM;
        return 0;
}

static void on_check(int error, const char *message, E621PostList *list, void *userdata)
{
        Outbox *o = userdata;
        bool found = false;
        int r;

        o->request = NULL;
        if (error < 0) {
                /* Not knowing is no reason to hold the vote back: a resend is harmless. */
                log_debug("Could not ask the site about post %" PRIu64 ", sending: %s", o->entry.post_id,
                          message ?: strerror(-error));
        } else {
                for (size_t i = 0; i < list->n_posts; i++)
                        if (list->posts[i] && list->posts[i]->id == o->entry.post_id)
                                found = true;
                if (found == o->verify_expect_found) {
                        log_info("The %s of post %" PRIu64
                                 " reached the site before fluffd stopped; not sending it again.",
                                 o->step == STEP_VOTE ? "vote" : "favourite change", o->entry.post_id);
                        on_done(0, NULL, o);
                        return;
                }
        }
        r = outbox_send_step(o);
        if (r < 0)
                outbox_failed(o, r, NULL);
}

/* Sends the current step, first asking the site whether it already has it
 * when the entry was in flight as fluffd stopped: the site then counts the
 * vote once, not twice. */
static int outbox_start_step(Outbox *o)
{
        _cleanup_free_ char *query = NULL;
        int r;

        if (!o->verify)
                return outbox_send_step(o);
        r = step_check_query(o, &o->verify_expect_found, &query);
        if (r < 0 || !query)
                return r < 0 ? r : outbox_send_step(o);
        r = e621_search_posts(o->e621, query, 1, NULL, on_check, o, &o->request);
        if (r >= 0)
                (void)e621_request_set_max_attempts(o->request, 2);
        return r;
}

static void on_done(int error, const char *message, void *userdata)
{
        Outbox *o = userdata;
        int r;

        o->request = NULL;
        if (error < 0) {
                outbox_failed(o, error, message);
                return;
        }
        if (o->step == STEP_VOTE && o->entry.favourite != 0) {
                o->step = STEP_FAVOURITE;
                r = outbox_start_step(o);
                if (r < 0)
                        outbox_failed(o, r, NULL);
                return;
        }
        outbox_done(o);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        outbox_kick(userdata);
        return 0;
}

static void outbox_arm(Outbox *o)
{
        uint64_t when;
        Error db = {};
        int r;

        r = store_outbox_next_due(o->store, &when, &db);
        if (r == -ENOENT) {
                (void)sd_event_source_set_enabled(o->timer, SD_EVENT_OFF);
                return;
        }
        if (r < 0) {
                log_warning_errno(r, "Failed to read the vote outbox: %s", error_message(&db, r));
                return;
        }
        if (!o->timer) {
                r = sd_event_add_time(o->event, &o->timer, CLOCK_REALTIME, when, USEC_PER_SEC / 10, on_timer,
                                      o);
                if (r < 0) {
                        log_warning_errno(r, "Failed to arm the vote outbox's timer: %m");
                        return;
                }
                return;
        }
        r = sd_event_source_set_time(o->timer, when);
        if (r >= 0)
                r = sd_event_source_set_enabled(o->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the vote outbox's timer: %m");
}

static void outbox_send_next(Outbox *o)
{
        OutboxEntry *due = NULL;
        uint64_t in_flight = 0;
        size_t n = 0;
        Error db = {};
        int r;

        if (o->request || !session_logged_in(o->session))
                return;
        r = store_outbox_due(o->store, now_usec(CLOCK_REALTIME), 1, &due, &n, &db);
        if (r < 0) {
                log_warning_errno(r, "Failed to read the vote outbox: %s", error_message(&db, r));
                return;
        }
        if (n == 0) {
                outbox_arm(o);
                return;
        }
        entry_clear(o);
        o->entry = due[0];
        free(due); /* the entry's last_error moved into o->entry */
        o->step = STEP_VOTE;
        o->verify = store_state_get_u64(o->store, STATE_IN_FLIGHT, &in_flight, NULL) >= 0 &&
                    in_flight == o->entry.id;
        outbox_set_in_flight(o, o->entry.id);
        r = outbox_start_step(o);
        if (r < 0)
                outbox_failed(o, r, NULL);
}

void outbox_kick(Outbox *o)
{
        if (o)
                outbox_send_next(o);
}

void outbox_stop(Outbox *o)
{
        if (!o)
                return;
        o->request = e621_request_cancel(o->request);
        entry_clear(o);
        (void)sd_event_source_set_enabled(o->timer, SD_EVENT_OFF);
}
