/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "notify.h"

/* How long a vote's confirmation stays up; the server's default applies to
 * the posts themselves, which wait for the user. */
#define CONFIRM_TIMEOUT_MS 4000

typedef struct ShowRequest {
        Context *context;
        uint64_t generation;
        Batch *batch; /* owned; NULL for a confirmation, which keeps no mapping */
} ShowRequest;

static void show_request_free(void *p)
{
        ShowRequest *q = p;

        if (!q)
                return;
        batch_free(q->batch);
        free(q);
}

static void queue_flush(Context *c);

static int on_capabilities(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        Context *c = userdata;
        _cleanup_strv_free_ char **caps = NULL;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int r;

        c->caps_slot = sd_bus_slot_unref(c->caps_slot);
        if (e) {
                c->caps = CAPS_UNKNOWN;
                log_warning("No notification server answers on the session bus (%s); %zu new prediction "
                            "batch(es) not shown.",
                            e->message ? e->message : e->name, c->n_queue);
                for (size_t i = 0; i < c->n_queue; i++)
                        batch_free(c->queue[i]);
                c->n_queue = 0;
                return 0;
        }
        r = sd_bus_message_read_strv(reply, &caps);
        if (r < 0) {
                log_warning_errno(
                        r, "Failed to read the notification server's capabilities, assuming none: %m");
                caps = NULL;
        }
        c->cap_actions = strv_contains(caps, "actions");
        c->cap_markup = strv_contains(caps, "body-markup");
        c->caps = CAPS_KNOWN;
        log_debug("Notification server %s: actions %s, body markup %s.", strna(c->server_owner),
                  c->cap_actions ? "yes" : "no", c->cap_markup ? "yes" : "no");
        queue_flush(c);
        return 0;
}

static void caps_load(Context *c)
{
        int r;

        /* An answer from a server that has gone since would describe the wrong one. */
        c->caps_slot = sd_bus_slot_unref(c->caps_slot);
        c->caps = CAPS_LOADING;
        /* Also starts an activatable server that is not running yet. */
        r = sd_bus_call_method_async(c->bus, &c->caps_slot, NOTIFY_SERVER_NAME, NOTIFY_SERVER_PATH,
                                     NOTIFY_SERVER_NAME, "GetCapabilities", on_capabilities, c, NULL);
        if (r < 0) {
                c->caps = CAPS_UNKNOWN;
                log_warning_errno(r, "Failed to ask the notification server for its capabilities: %m");
        }
}

static int on_notify_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        ShowRequest *q = userdata;
        Context *c = q->context;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        uint32_t id, evicted = 0;
        int r;

        if (e) {
                log_warning("Failed to show a notification: %s", e->message ? e->message : e->name);
                return 0;
        }
        r = sd_bus_message_read(reply, "u", &id);
        if (r < 0) {
                log_warning_errno(r, "Failed to read the notification's id, ignoring: %m");
                return 0;
        }
        if (!q->batch || q->generation != c->server_generation)
                return 0;
        r = shown_add(c, id, TAKE_PTR(q->batch), &evicted);
        if (r < 0)
                log_warning_errno(r, "The notification server answered with id %" PRIu32 ", ignoring: %m",
                                  id);
        if (evicted != 0) {
                log_debug("More than %d notifications up; closing the oldest.", NOTIFY_MAX_SHOWN);
                server_close(c, evicted);
        }
        return 0;
}

/* Notify(app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout). */
/* What a notification is, for the hints the Desktop Notifications spec
 * defines: the server shows Fluff's name and icon from desktop-entry, sorts
 * by category, and keeps a transient one (a vote's confirmation) out of its
 * history. */
typedef enum NoteKind {
        NOTE_POST,    /* one new post: normal urgency */
        NOTE_GROUP,   /* several posts in one: low urgency, the posts follow on a click */
        NOTE_CONFIRM, /* "Recorded a like": low urgency, transient */
} NoteKind;

#define DESKTOP_ENTRY "io.github.fluffml.Fluff"
#define CATEGORY_POST "x-fluff.post"
#define CATEGORY_VOTE "x-fluff.vote"

static int append_hints(sd_bus_message *m, NoteKind kind, const char *uri)
{
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && uri)
                r = sd_bus_message_append(m, "{sv}", "image-path", "s", uri);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "desktop-entry", "s", DESKTOP_ENTRY);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "category", "s",
                                          kind == NOTE_CONFIRM ? CATEGORY_VOTE : CATEGORY_POST);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "urgency", "y", (uint8_t)(kind == NOTE_POST ? 1 : 0));
        if (r >= 0 && kind == NOTE_CONFIRM)
                r = sd_bus_message_append(m, "{sv}", "transient", "b", 1);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static int send_notify(Context *c, NoteKind kind, uint32_t replaces, const char *summary, const char *body,
                       char *const *actions, const char *image, int32_t timeout, Batch *batch)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ char *uri = NULL;
        ShowRequest *q;
        int r;

        q = calloc(1, sizeof(ShowRequest));
        if (!q) {
                batch_free(batch);
                return -ENOMEM;
        }
        *q = (ShowRequest){.context = c, .generation = c->server_generation, .batch = batch};

        /* The spec allows a path or a file:// URI; the URI is what every server
         * reads. A crop that is gone (pruned) simply shows no image. */
        if (image && access(image, R_OK) >= 0)
                (void)file_uri_from_path(image, &uri);

        r = sd_bus_message_new_method_call(c->bus, &m, NOTIFY_SERVER_NAME, NOTIFY_SERVER_PATH,
                                           NOTIFY_SERVER_NAME, "Notify");
        if (r >= 0)
                r = sd_bus_message_append(m, "susss", "Fluff", replaces, "", summary, body);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, (char **)actions);
        if (r >= 0)
                r = append_hints(m, kind, uri);
        if (r >= 0)
                r = sd_bus_message_append(m, "i", timeout);
        if (r < 0) {
                show_request_free(q);
                return r;
        }
        r = sd_bus_call_async(c->bus, &slot, m, on_notify_reply, q, 0);
        if (r < 0) {
                show_request_free(q);
                return r;
        }
        (void)sd_bus_slot_set_destroy_callback(slot, show_request_free);
        (void)sd_bus_slot_set_floating(slot, 1);
        return 0;
}

static void show_each(Context *c, Batch *b);

static void show_now(Context *c, Batch *b)
{
        _cleanup_free_ char *summary = NULL, *body = NULL;
        char *single[7] = {}, *group[5] = {};
        char **actions = NULL;
        size_t n = 0;
        int r;

        if (b->n_posts > 1 && b->n_posts <= NOTIFY_GROUP_OVER) {
                show_each(c, b);
                return;
        }
        if (b->n_posts == 1) {
                r = text_single(b, c->cap_markup, c->cap_actions, &summary, &body);
                if (c->cap_actions) {
                        /* "default" (a click on the notification) opens the post. */
                        if (url_is_web(b->posts[0].url)) {
                                single[n++] = (char *)"default";
                                single[n++] = (char *)"Open";
                        }
                        single[n++] = (char *)"like";
                        single[n++] = (char *)"Like";
                        single[n++] = (char *)"dislike";
                        single[n++] = (char *)"Dislike";
                        actions = single;
                }
        } else {
                r = text_group(b, c->cap_markup, c->cap_actions, &summary, &body);
                /* A vote applies to one post, never to a group: the group's
                 * actions only unfold it into one notification per post. */
                if (c->cap_actions) {
                        group[0] = (char *)"default";
                        group[1] = (char *)"Show each";
                        group[2] = (char *)"expand";
                        group[3] = (char *)"Show each";
                        actions = group;
                }
        }
        if (r < 0) {
                log_oom();
                batch_free(b);
                return;
        }
        log_debug("Showing %zu post(s) of watch %" PRIu64 ".", b->n_posts, b->watch_id);
        /* Without actions there is nothing to map an id to. */
        r = send_notify(c, b->n_posts == 1 ? NOTE_POST : NOTE_GROUP, 0, summary, body, actions,
                        b->posts[0].image, -1, c->cap_actions ? b : NULL);
        if (!c->cap_actions)
                batch_free(b);
        if (r < 0)
                log_warning_errno(r, "Failed to send a notification: %m");
}

static void queue_flush(Context *c)
{
        size_t n = c->n_queue;

        c->n_queue = 0;
        for (size_t i = 0; i < n; i++)
                show_now(c, TAKE_PTR(c->queue[i]));
}

void server_show(Context *c, Batch *b)
{
        if (b->n_posts == 0) {
                batch_free(b);
                return;
        }
        if (c->caps == CAPS_KNOWN) {
                show_now(c, b);
                return;
        }
        if (c->n_queue == NOTIFY_MAX_QUEUED) {
                log_warning(
                        "The notification server is slow to answer; dropping an older batch of %zu post(s).",
                        c->queue[0]->n_posts);
                batch_free(c->queue[0]);
                memmove(c->queue, c->queue + 1, (NOTIFY_MAX_QUEUED - 1) * sizeof(Batch *));
                c->n_queue--;
        }
        c->queue[c->n_queue++] = b;
        if (c->caps == CAPS_UNKNOWN)
                caps_load(c);
}

void server_replace(Context *c, uint32_t id, const char *summary, const char *body, const char *image)
{
        _cleanup_free_ char *escaped = NULL;
        int r;

        if (c->cap_markup) {
                escaped = markup_escape(body);
                if (!escaped) {
                        log_oom();
                        return;
                }
                body = escaped;
        }
        r = send_notify(c, NOTE_CONFIRM, id, summary, body, NULL, image, CONFIRM_TIMEOUT_MS, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to update a notification: %m");
}

void server_close(Context *c, uint32_t id)
{
        int r;

        r = sd_bus_call_method_async(c->bus, NULL, NOTIFY_SERVER_NAME, NOTIFY_SERVER_PATH,
                                     NOTIFY_SERVER_NAME, "CloseNotification", NULL, NULL, "u", id);
        if (r < 0)
                log_debug_errno(r, "Failed to close notification %" PRIu32 ", ignoring: %m", id);
}

static bool from_server(Context *c, sd_bus_message *m)
{
        const char *sender = sd_bus_message_get_sender(m);

        /* Anyone may emit these names; only the server's count. */
        return c->server_owner && sender && streq(sender, c->server_owner);
}

static void show_each(Context *c, Batch *b)
{
        for (size_t i = 0; i < b->n_posts; i++) {
                Batch *one = NULL;
                if (batch_pick(b, i, &one) < 0) {
                        log_oom();
                        break;
                }
                show_now(c, one);
        }
        batch_free(b);
}

static int on_action_invoked(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Context *c = userdata;
        const char *key;
        uint32_t id;
        Shown *s;
        int r;

        if (!from_server(c, m))
                return 0;
        r = sd_bus_message_read(m, "us", &id, &key);
        if (r < 0) {
                log_debug_errno(r, "Malformed ActionInvoked, ignoring: %m");
                return 0;
        }
        s = shown_find(c, id);
        if (!s)
                return 0; /* another program's notification, or one already handled */
        if (s->batch->n_posts > 1) {
                if (streq(key, "default") || streq(key, "expand")) {
                        server_close(c, id);
                        show_each(c, shown_take(c, id));
                }
                return 0;
        }
        if (streq(key, "like") || streq(key, "dislike"))
                /* Forget the id first: a second click must not vote twice. */
                fluffd_vote(c, id, shown_take(c, id), streq(key, "like") ? 1 : -1);
        else if (streq(key, "default")) {
                r = open_url(c, s->batch->posts[0].url, s->activation_token);
                if (r == -EINVAL)
                        log_warning("Post %" PRIu64 " has no web address to open.", s->batch->posts[0].id);
        } else
                log_debug("Unknown action \"%s\" on notification %" PRIu32 ", ignoring.", key, id);
        return 0;
}

/* Spec 1.3: sent just before ActionInvoked, so the window the action raises
 * may take the focus (Wayland's xdg-activation, X11's startup id). */
static int on_activation_token(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Context *c = userdata;
        const char *token;
        uint32_t id;
        Shown *s;

        if (!from_server(c, m) || sd_bus_message_read(m, "us", &id, &token) < 0)
                return 0;
        s = shown_find(c, id);
        if (!s)
                return 0;
        free(s->activation_token);
        s->activation_token = NULL;
        /* It goes into an environment variable: printable ASCII, bounded. */
        if (strlen(token) > 0 && strlen(token) <= 512 &&
            strspn(token, "abcdefghijklmnopqrstuvwxyz"
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789-_.:/+=@") == strlen(token))
                s->activation_token = strdup(token);
        return 0;
}

static int on_notification_closed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Context *c = userdata;
        uint32_t id, reason;

        if (!from_server(c, m))
                return 0;
        if (sd_bus_message_read(m, "uu", &id, &reason) < 0)
                return 0;
        batch_free(shown_take(c, id));
        return 0;
}

void server_owner_changed(Context *c, const char *new_owner)
{
        bool was_loading = c->caps == CAPS_LOADING;

        free(c->server_owner);
        c->server_owner = isempty(new_owner) ? NULL : strdup(new_owner);
        if (!isempty(new_owner) && !c->server_owner)
                log_oom();
        c->server_generation++;
        if (c->n_shown > 0)
                log_info("The notification server %s; forgetting %zu notification(s).",
                         c->server_owner ? "changed" : "left", c->n_shown);
        shown_clear(c);
        c->caps_slot = sd_bus_slot_unref(c->caps_slot);
        c->caps = CAPS_UNKNOWN;
        /* A new server may not have what the old one had. */
        if (c->server_owner || was_loading || c->n_queue > 0)
                caps_load(c);
}

int server_init(Context *c)
{
        int r;

        r = notify_add_match(c,
                             "type='signal',path='" NOTIFY_SERVER_PATH "',interface='" NOTIFY_SERVER_NAME
                             "',member='ActionInvoked'",
                             on_action_invoked);
        if (r < 0)
                return r;
        r = notify_add_match(c,
                             "type='signal',path='" NOTIFY_SERVER_PATH "',interface='" NOTIFY_SERVER_NAME
                             "',member='NotificationClosed'",
                             on_notification_closed);
        if (r < 0)
                return r;
        r = notify_add_match(c,
                             "type='signal',path='" NOTIFY_SERVER_PATH "',interface='" NOTIFY_SERVER_NAME
                             "',member='ActivationToken'",
                             on_activation_token);
        if (r < 0)
                return r;
        return notify_track_owner(c, NOTIFY_SERVER_NAME, server_owner_changed);
}
