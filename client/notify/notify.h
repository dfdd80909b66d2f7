/* SPDX-License-Identifier: MIT */
#pragma once

/* fluff-notify: turns fluffd's NewPredictions into desktop notifications
 * (org.freedesktop.Notifications) and their Like / Dislike buttons into
 * votes. One sd_event loop, one session bus connection, one Context. */

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "fluff/util.h"

#define NOTIFY_SERVER_NAME "org.freedesktop.Notifications"
#define NOTIFY_SERVER_PATH "/org/freedesktop/Notifications"

/* A batch with more posts than this becomes one grouped notification. */
#define NOTIFY_GROUP_OVER 3
/* The most posts kept from one signal (the rest are logged, not shown) and
 * the most notifications remembered at once: a misbehaving sender cannot
 * make us grow without bound. */
#define NOTIFY_MAX_POSTS 20
#define NOTIFY_MAX_SHOWN 64
/* Signals that arrived while the server's capabilities were being read. */
#define NOTIFY_MAX_QUEUED 8

/* One row of NewPredictions, owned. */
typedef struct NotifyPost {
        uint64_t id;
        double score;
        char *label, *tags, *image, *url;
        /* the score's parts (NewPredictions2): logit = bias + image + tags */
        bool explained;
        double logit, bias, image_share, tags_share;
} NotifyPost;

/* One NewPredictions signal: a watch's new posts, best first. */
typedef struct Batch {
        uint64_t watch_id;
        char *query;
        NotifyPost *posts;
        size_t n_posts;
} Batch;

Batch *batch_free(Batch *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Batch *, batch_free);
/* Reads "t s a(tdssss)" (NewPredictions) or "t s a(tdssssa{sv})"
 * (NewPredictions2, with explanations) from m; keeps at most NOTIFY_MAX_POSTS rows. */
int batch_read(sd_bus_message *m, Batch **ret);
/* A new batch with one post of b (copied). */
int batch_pick(const Batch *b, size_t i, Batch **ret);

/* A notification on screen, by the server's id: one post, or a group. */
typedef struct Shown {
        uint32_t id;
        Batch *batch;           /* owned */
        char *activation_token; /* owned; from ActivationToken, for the window xdg-open raises */
} Shown;

typedef enum CapsState {
        CAPS_UNKNOWN,
        CAPS_LOADING,
        CAPS_KNOWN,
} CapsState;

typedef struct Context Context;

/* One bus name whose owner we follow (main.c). */
typedef struct OwnerTracker {
        Context *context;
        const char *name;
        void (*on_change)(Context *c, const char *owner);
} OwnerTracker;

struct Context {
        sd_event *event;
        sd_bus *bus;

        char *fluffd_owner; /* unique name; NULL while fluffd is not on the bus */
        bool fluffd_v2;     /* that fluffd sent NewPredictions2: its NewPredictions are copies */
        char *server_owner; /* unique name of the notification server, or NULL */
        /* Bumped whenever the server changes hands: answers from an older
         * one carry ids that mean nothing now. */
        uint64_t server_generation;
        CapsState caps;
        sd_bus_slot *caps_slot; /* GetCapabilities in flight; dropped when the server changes */
        bool cap_actions, cap_markup;

        Shown shown[NOTIFY_MAX_SHOWN];
        size_t n_shown;
        Batch *queue[NOTIFY_MAX_QUEUED];
        size_t n_queue;

        OwnerTracker trackers[2];
        size_t n_trackers;
};

/* ---- text.c: what a notification says (pure functions, unit-tested) ---- */
/* &, <, >, " and ' as entities, for servers with body-markup. */
char *markup_escape(const char *s);
/* "file://" + the absolute path, percent-encoded; -EINVAL for a relative path. */
int file_uri_from_path(const char *path, char **ret);
/* An http(s) URL with a host and no spaces or control characters: the only
 * thing handed to xdg-open. */
bool url_is_web(const char *url);
/* Summary and body of one post's notification. */
int text_single(const Batch *b, bool markup, bool actions, char **ret_summary, char **ret_body);
/* Summary and body of a grouped notification. */
int text_group(const Batch *b, bool markup, bool actions, char **ret_summary, char **ret_body);

/* ---- shown.c: the id → posts table ---- */
/* Takes batch (also on failure). Evicts the oldest entry when full and
 * returns its id in ret_evicted (0: none). */
int shown_add(Context *c, uint32_t id, Batch *batch, uint32_t *ret_evicted);
Shown *shown_find(Context *c, uint32_t id);
/* Hands out the entry's batch and forgets the id. */
Batch *shown_take(Context *c, uint32_t id);
void shown_clear(Context *c);

/* ---- server.c: org.freedesktop.Notifications ---- */
int server_init(Context *c);
/* Shows a batch (one post or a group) once the capabilities are known. Takes b. */
void server_show(Context *c, Batch *b);
/* Shows a short text without actions in place of notification id (0: as
 * a new one). */
void server_replace(Context *c, uint32_t id, const char *summary, const char *body, const char *image);
void server_close(Context *c, uint32_t id);
/* The server changed hands (new_owner NULL: it left): its ids are stale. */
void server_owner_changed(Context *c, const char *new_owner);

/* ---- fluffd.c: io.github.fluffml.Fluff1 ---- */
int fluffd_init(Context *c);
void fluffd_owner_changed(Context *c, const char *new_owner);
/* Vote(post, score) for the one post of b; the answer replaces notification
 * id. Takes b. */
void fluffd_vote(Context *c, uint32_t id, Batch *b, int score);

/* ---- open.c ---- */
/* Runs "xdg-open URL" (no shell) for an http(s) URL; -EINVAL otherwise.
 * token (may be NULL): the server's activation token, handed on as
 * XDG_ACTIVATION_TOKEN and DESKTOP_STARTUP_ID so the browser may take focus. */
int open_url(Context *c, const char *url, const char *token);

/* ---- main.c ---- */
/* Adds an async match; a failure to install it ends the connection (and
 * so the program): the matches are fixed strings, so that is a bug. */
int notify_add_match(Context *c, const char *match, sd_bus_message_handler_t callback);
/* Tracks the unique owner of name: on_change(c, owner or NULL) once from
 * GetNameOwner and at every NameOwnerChanged. */
int notify_track_owner(Context *c, const char *name, void (*on_change)(Context *c, const char *owner));
