/* SPDX-License-Identifier: MIT */
#pragma once

/* The e621 client: every HTTP request fluffd makes, on fluffd's one sd_event
 * loop (libcurl's multi socket API; no threads, nothing blocks).
 *
 *   E621Config c;
 *   e621_config_init(&c);
 *   c.site = "https://e621.net";
 *   r = e621_client_new(event, &c, &client);
 *   r = e621_client_set_credentials(client, "name", api_key);
 *   r = e621_get_user(client, "name", on_user, data, &req);
 *
 * Rules every call follows:
 * - Calls only queue the request and return; the callback runs later, on the
 *   loop, never from inside the call that started it. Exactly one callback per
 *   request, unless the request was cancelled (then none).
 * - Callbacks get (error, message, result..., userdata). error is 0 or a
 *   negative errno; message is a short sentence a person can act on (NULL on
 *   success), valid during the callback only. It never holds the API key.
 *     -EKEYREJECTED  401: the site rejected the username or API key
 *     -EPERM         403: access denied (anonymous, hidden favourites, ...)
 *     -ENOENT        404: no such post or user
 *     -EINVAL        400/410/422: the site refused the parameters (its message)
 *     -EAGAIN        429 or 423 still answered after every retry
 *     -ENETUNREACH   connection failures and timeouts after every retry, TLS
 *                    verification failures (not retried)
 *     -EPROTO        5xx after every retry, malformed or non-JSON bodies,
 *                    unexpected redirects
 *     -EFBIG         the response is larger than the limit for its kind
 *     -ENOMEM        out of memory
 * - An E621Request handle stays valid until its callback has returned or it has
 *   been cancelled, whichever comes first; forget it then. Cancelling from
 *   inside its own callback does nothing (it is finishing anyway).
 * - e621_client_free() cancels every request (no callbacks). It may be called
 *   from inside a callback.
 * - Results handed to callbacks belong to the client and are freed after the
 *   callback returns, except what the callback takes: posts (TAKE_PTR on an
 *   element of E621PostList.posts) and downloaded bytes (TAKE_PTR on
 *   E621Buffer.data).
 *
 * API calls share one token bucket (config.rate_limit per second, never above
 * 2); image downloads do not take tokens but at most
 * config.download_concurrency run at once. Failed attempts are retried as
 * E621RetryPolicy says (timeouts, connection errors, 423, 429, 5xx), honouring
 * Retry-After. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "post.h"

typedef struct E621Client E621Client;
typedef struct E621Request E621Request;

#define E621_RATE_LIMIT_DEFAULT 1.0
#define E621_RATE_LIMIT_MAX 2.0 /* the site's hard limit; config values above are clamped */
#define E621_DOWNLOAD_CONCURRENCY_DEFAULT 4u
#define E621_DOWNLOAD_CONCURRENCY_MAX 16u
#define E621_JSON_MAX_BYTES (16u * 1024u * 1024u)
#define E621_IMAGE_MAX_BYTES_DEFAULT (32u * 1024u * 1024u)
#define E621_POSTS_LIMIT_MAX 320u /* the site answers 410 beyond */
#define E621_QUERY_TERMS_MAX 40u  /* the site answers 422 beyond */
#define E621_URL_MAX 2048u

typedef struct E621RetryPolicy {
        unsigned max_attempts;         /* including the first; default 5 */
        uint64_t base_delay_usec;      /* first backoff; doubles per attempt; default 1 s */
        uint64_t max_delay_usec;       /* cap on one backoff, Retry-After included; default 60 s */
        uint64_t connect_timeout_usec; /* default 15 s */
        uint64_t stall_timeout_usec;   /* no byte received for this long = timeout; default 30 s */
        uint64_t total_timeout_usec;   /* one attempt, whole transfer; default 120 s (images: 300 s) */
} E621RetryPolicy;

typedef struct E621Config {
        const char *site;         /* https://e621.net (default), https://e926.net, http:// on loopback */
        char *const *image_hosts; /* NULL-terminated host names images may also come from, over
                                   * https; NULL: the real site's (static1.e621.net, static1.e926.net) */
        double rate_limit;        /* API requests per second; <= 0 → 1; clamped to 2 */
        unsigned download_concurrency; /* 0 → 4; clamped to 16 */
        uint64_t max_image_bytes;      /* 0 → 32 MiB */
        uint64_t max_json_bytes;       /* 0 → 16 MiB, also the most allowed */
        E621RetryPolicy retry;         /* zero fields take the defaults */
} E621Config;

/* Fills in the defaults (site e621.net). */
void e621_config_init(E621Config *c);

/* 0 when url is a site Fluff may talk to: https://host[:port] (no path beyond
 * "/", no user info, no query), or http:// on a loopback host (127.0.0.0/8,
 * [::1], localhost). -EINVAL otherwise. */
int e621_site_check(const char *url);

/* The image host policy, applied by e621_download(): 0 when url may be
 * fetched for a client of site, -EPERM when it points elsewhere, -EINVAL when
 * it is not a URL Fluff accepts at all. Allowed: https to the site's own host
 * and port, or to one of image_hosts (NULL: the real site's) on port 443;
 * plain http only when the site itself is an http loopback test site, and then
 * only to that same host and port. */
int e621_image_url_allowed(const char *site, char *const *image_hosts, const char *url);

/* The client copies the config (the site string and the image hosts too). */
int e621_client_new(sd_event *event, const E621Config *config, E621Client **ret);
E621Client *e621_client_free(E621Client *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(E621Client *, e621_client_free);
#define _cleanup_e621_client_free_ _cleanup_(e621_client_freep)

/* Credentials for API requests that start from now on, queued ones included
 * (Basic auth; running ones keep theirs; cancel them on logout). NULL username → anonymous. Both strings are
 * copied; the key's copy is wiped when replaced or freed. -EINVAL for a name
 * with control characters or ':', or a key with control characters. */
int e621_client_set_credentials(E621Client *c, const char *username, const char *api_key);
/* NULL when anonymous. */
const char *e621_client_get_username(const E621Client *c);
/* The base URL without a trailing '/'. */
const char *e621_client_get_site(const E621Client *c);
/* Tests shorten the backoff; zero fields keep their current value. */
void e621_client_set_retry_policy(E621Client *c, const E621RetryPolicy *p);
/* Requests queued (waiting for a token or a download slot, or for a retry) and running. */
unsigned e621_client_pending(const E621Client *c);

/* Overrides the policy's max_attempts for one request (a walk: each of its
 * pages), e.g. 1 for a login check that should fail fast when the site is down.
 * Call it right after the call that returned r (callbacks never run before). */
int e621_request_set_max_attempts(E621Request *r, unsigned max_attempts);

/* Cancels a queued, waiting or running request; its callback is not called.
 * NULL-safe. Returns NULL. */
E621Request *e621_request_cancel(E621Request *r);
/* Cancels everything queued or running. */
void e621_client_cancel_all(E621Client *c);

/* ---- results ---- */

typedef struct E621User {
        uint64_t id;
        const char *name;
        const char *blacklisted_tags; /* NULL when the site did not say (another user, older servers) */
} E621User;

typedef struct E621PostList {
        Post **posts; /* posts that parsed; an element may be taken (set to NULL) */
        size_t n_posts;
        size_t n_entries;        /* entries in the site's array, including ones that did not parse */
        size_t n_invalid;        /* entries skipped as malformed (no id, not an object, ...) */
        uint64_t min_id, max_id; /* over the entries with an id; 0 when none */
} E621PostList;

typedef struct E621VoteResult {
        int score, up, down;
        int our_score; /* -1, 0 (no_unvote kept an existing vote) or +1 */
} E621VoteResult;

typedef struct E621Buffer {
        uint8_t *data; /* may be taken by the callback (TAKE_PTR); free() it then */
        size_t size;
        const char *content_type; /* as the server sent it, or NULL */
} E621Buffer;

typedef void (*E621DoneCallback)(int error, const char *message, void *userdata);
typedef void (*E621UserCallback)(int error, const char *message, const E621User *user, void *userdata);
/* list is NULL on error. */
typedef void (*E621PostsCallback)(int error, const char *message, E621PostList *list, void *userdata);
typedef void (*E621VoteCallback)(int error, const char *message, const E621VoteResult *vote, void *userdata);
typedef void (*E621DownloadCallback)(int error, const char *message, E621Buffer *buf, void *userdata);
/* One page of a walk; return < 0 to stop the walk with that error (the done
 * callback then gets it), 0 to go on, E621_WALK_STOP to end it here as if the
 * list had ended (the done callback gets 0): an incremental sync stops at the
 * first page that reaches posts it already knows. */
typedef int (*E621PageCallback)(E621PostList *page, void *userdata);
#define E621_WALK_STOP 1
/* The page callback's work goes on after it returns (it takes the posts it
 * needs from the page, which is freed): the walk waits for
 * e621_walk_resume() with what the callback would have returned. */
#define E621_WALK_PAUSE 2

/* ---- API calls ----
 * ret_request may be NULL when the caller never cancels. */

/* GET /users/<name>.json: with credentials for that user this checks the login
 * and gives blacklisted_tags. */
int e621_get_user(E621Client *c, const char *name, E621UserCallback cb, void *userdata,
                  E621Request **ret_request);

/* GET /posts.json?tags=…&limit=…&page=…. tags: a query as typed on the site
 * (NULL or "" for none). limit: 1..320 (0 → 320). page: NULL (first page), a
 * page number "2", or a cursor "b<id>" (ids below) / "a<id>" (ids above). */
int e621_search_posts(E621Client *c, const char *tags, unsigned limit, const char *page,
                      E621PostsCallback cb, void *userdata, E621Request **ret_request);

/* GET /posts/<id>.json; the list holds one post. */
int e621_get_post(E621Client *c, uint64_t post_id, E621PostsCallback cb, void *userdata,
                  E621Request **ret_request);

/* Walks a whole search newest first with page=b<lowest id seen>, limit 320
 * (or limit when nonzero), until a short or empty page. page_cb gets every page
 * (each post exactly once: the cursor only moves down) and may end the walk
 * early (E621_WALK_STOP); done_cb gets the end (0) or the error that stopped it. Cancelling the returned
 * handle stops the walk without either callback. */
int e621_walk_posts(E621Client *c, const char *tags, unsigned limit, E621PageCallback page_cb,
                    E621DoneCallback done_cb, void *userdata, E621Request **ret_request);
/* Goes on with a walk paused by its page callback: r as the callback would
 * have returned it (< 0, 0 or E621_WALK_STOP). Not from inside a callback of
 * the walk. */
void e621_walk_resume(E621Request *walk, int r);

/* POST /posts/<id>/votes.json score=±1 no_unvote=true. */
int e621_vote(E621Client *c, uint64_t post_id, int score, E621VoteCallback cb, void *userdata,
              E621Request **ret_request);
/* DELETE /posts/<id>/votes.json. */
int e621_unvote(E621Client *c, uint64_t post_id, E621DoneCallback cb, void *userdata,
                E621Request **ret_request);
/* POST /favorites.json post_id=<id>; "already favorited" counts as success. */
int e621_favorite(E621Client *c, uint64_t post_id, E621DoneCallback cb, void *userdata,
                  E621Request **ret_request);
/* DELETE /favorites/<id>.json; idempotent (404 counts as success). */
int e621_unfavorite(E621Client *c, uint64_t post_id, E621DoneCallback cb, void *userdata,
                    E621Request **ret_request);

/* Downloads an image URL the API returned, when e621_image_url_allowed()
 * allows it (-EPERM, before any request, when not); no credentials are sent
 * with it. Bounded by config.max_image_bytes (-EFBIG
 * beyond); the body must not be HTML or JSON (-EPROTO). */
int e621_download(E621Client *c, const char *url, E621DownloadCallback cb, void *userdata,
                  E621Request **ret_request);

/* ---- helpers ---- */

/* Whether an error from a callback may pass when asked again later (network,
 * throttling, the site's own failures), as opposed to an answer that will not
 * change (not found, too large, refused, bad key). */
bool e621_error_is_transient(int error);

/* Joins search terms into one query ("fav:name -animated"). Each term must be
 * non-empty without whitespace or control characters; at most 40 terms.
 * -EINVAL otherwise. */
int e621_query_join(char *const *terms, char **ret);

/* "<site>/posts/<id>", the page a person opens in a browser. */
int e621_post_page_url(const E621Client *c, uint64_t post_id, char **ret);
