/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <time.h>

#include "e621-internal.h"
#include "json-util.h"
#include "fluff/text.h"

/* Timers fire this close to their time: the token bucket's spacing is the
 * point, and sd-event's default slack (250 ms) would blur it. */
#define TIMER_ACCURACY_USEC (1 * USEC_PER_MSEC)
#define SPACING_MARGIN_USEC (30 * USEC_PER_MSEC)

static const E621RetryPolicy retry_defaults = {
        .max_attempts = 5,
        .base_delay_usec = 1 * USEC_PER_SEC,
        .max_delay_usec = 60 * USEC_PER_SEC,
        .connect_timeout_usec = 15 * USEC_PER_SEC,
        .stall_timeout_usec = 30 * USEC_PER_SEC,
        .total_timeout_usec = 120 * USEC_PER_SEC,
};

void e621_config_init(E621Config *c)
{
        *c = (E621Config){
                .site = "https://e621.net",
                .rate_limit = E621_RATE_LIMIT_DEFAULT,
                .download_concurrency = E621_DOWNLOAD_CONCURRENCY_DEFAULT,
                .max_image_bytes = E621_IMAGE_MAX_BYTES_DEFAULT,
                .retry = retry_defaults,
        };
}

int e621_site_check(const char *url)
{
        return url_check_safe(url, false, NULL);
}

static void merge_policy(E621RetryPolicy *dst, const E621RetryPolicy *src)
{
        if (src->max_attempts > 0)
                dst->max_attempts = MIN(src->max_attempts, 20u);
        if (src->base_delay_usec > 0)
                dst->base_delay_usec = src->base_delay_usec;
        if (src->max_delay_usec > 0)
                dst->max_delay_usec = src->max_delay_usec;
        if (src->connect_timeout_usec > 0)
                dst->connect_timeout_usec = src->connect_timeout_usec;
        if (src->stall_timeout_usec > 0)
                dst->stall_timeout_usec = src->stall_timeout_usec;
        if (src->total_timeout_usec > 0)
                dst->total_timeout_usec = src->total_timeout_usec;
}

void e621_client_set_retry_policy(E621Client *c, const E621RetryPolicy *p)
{
        merge_policy(&c->retry, p);
}

static int update_user_agent(E621Client *c)
{
        char *ua;

        if (c->username) {
                if (asprintf(&ua, "fluff/%s (by %s on e621)", FLUFF_VERSION, c->username) < 0)
                        return -ENOMEM;
        } else if (asprintf(&ua, "fluff/%s (anonymous)", FLUFF_VERSION) < 0)
                return -ENOMEM;
        free(c->user_agent);
        c->user_agent = ua;
        return 0;
}

static bool string_is_printable(const char *s, size_t max)
{
        size_t n = 0;
        for (; *s; s++, n++)
                if (n >= max || (unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

int e621_client_set_credentials(E621Client *c, const char *username, const char *api_key)
{
        _cleanup_free_ char *u = NULL;
        _cleanup_erase_ char *k = NULL;

        if (username) {
                if (isempty(username) || strchr(username, ':') || strchr(username, ' ') ||
                    !string_is_printable(username, 64))
                        return -EINVAL;
                if (!api_key || !string_is_printable(api_key, 256))
                        return -EINVAL;
                u = strdup(username);
                k = strdup(api_key);
                if (!u || !k)
                        return -ENOMEM;
        }
        free(c->username);
        c->username = TAKE_PTR(u);
        erase_and_free(c->api_key);
        c->api_key = TAKE_PTR(k);
        return update_user_agent(c);
}

const char *e621_client_get_username(const E621Client *c)
{
        return c->username;
}

const char *e621_client_get_site(const E621Client *c)
{
        return c->site;
}

static int on_kick(sd_event_source *s, uint64_t usec, void *userdata);
static int on_dispatch(sd_event_source *s, void *userdata);

int e621_client_new(sd_event *event, const E621Config *config, E621Client **ret)
{
        _cleanup_(e621_client_freep) E621Client *c = NULL;
        int r;

        if (!event || !config)
                return -EINVAL;
        c = calloc(1, sizeof(E621Client));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        r = url_check_safe(config->site ? config->site : "https://e621.net", false, &c->site);
        if (r < 0)
                return r;
        for (char *const *h = config->image_hosts; h && *h; h++) {
                char *d = strdup(*h);
                if (!d)
                        return -ENOMEM;
                r = strv_push(&c->image_hosts, d);
                if (r < 0)
                        return r;
        }
        if (config->image_hosts && !c->image_hosts) {
                /* an empty list means the site's own host only */
                c->image_hosts = calloc(1, sizeof(char *));
                if (!c->image_hosts)
                        return -ENOMEM;
        }
        c->rate = config->rate_limit > 0 && isfinite(config->rate_limit) ? config->rate_limit
                                                                         : E621_RATE_LIMIT_DEFAULT;
        c->rate = MIN(c->rate, E621_RATE_LIMIT_MAX);
        c->download_concurrency = config->download_concurrency > 0 ? config->download_concurrency
                                                                   : E621_DOWNLOAD_CONCURRENCY_DEFAULT;
        c->download_concurrency = MIN(c->download_concurrency, E621_DOWNLOAD_CONCURRENCY_MAX);
        c->max_image_bytes =
                config->max_image_bytes > 0 ? config->max_image_bytes : E621_IMAGE_MAX_BYTES_DEFAULT;
        c->max_json_bytes = config->max_json_bytes > 0
                                    ? MIN(config->max_json_bytes, (uint64_t)E621_JSON_MAX_BYTES)
                                    : E621_JSON_MAX_BYTES;
        c->retry = retry_defaults;
        merge_policy(&c->retry, &config->retry);
        c->tokens = 1.0;
        c->tokens_at = now_usec(CLOCK_MONOTONIC);
        c->rng = now_usec(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
        if (c->rng == 0)
                c->rng = 0x9E3779B97F4A7C15u;

        r = update_user_agent(c);
        if (r < 0)
                return r;
        r = sd_event_add_time(event, &c->kick, CLOCK_MONOTONIC, 0, TIMER_ACCURACY_USEC, on_kick, c);
        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(c->kick, SD_EVENT_OFF);
        (void)sd_event_source_set_description(c->kick, "e621-scheduler");
        r = sd_event_add_defer(event, &c->dispatch, on_dispatch, c);
        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(c->dispatch, SD_EVENT_OFF);
        (void)sd_event_source_set_description(c->dispatch, "e621-dispatch");
        r = http_init(c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

static void cancel_list(RequestList *l)
{
        while (l->head)
                (void)e621_request_cancel(l->head);
}

void e621_client_cancel_all(E621Client *c)
{
        cancel_list(&c->walks); /* first, so no walk starts a new page */
        cancel_list(&c->queue_api);
        cancel_list(&c->queue_download);
        cancel_list(&c->waiting);
        cancel_list(&c->running);
        cancel_list(&c->done);
}

E621Client *e621_client_free(E621Client *c)
{
        if (!c)
                return NULL;
        e621_client_cancel_all(c);
        http_done(c);
        c->kick = sd_event_source_disable_unref(c->kick);
        c->dispatch = sd_event_source_disable_unref(c->dispatch);
        sd_event_unref(c->event);
        free(c->site);
        strv_free(c->image_hosts);
        free(c->username);
        erase_and_free(c->api_key);
        free(c->user_agent);
        free(c);
        return NULL;
}

unsigned e621_client_pending(const E621Client *c)
{
        return c->queue_api.n + c->queue_download.n + c->running.n + c->waiting.n + c->done.n + c->walks.n;
}

void request_list_remove(E621Request *r)
{
        RequestList *l = r->list;

        if (!l)
                return;
        if (r->prev)
                r->prev->next = r->next;
        else
                l->head = r->next;
        if (r->next)
                r->next->prev = r->prev;
        else
                l->tail = r->prev;
        l->n--;
        r->prev = r->next = NULL;
        r->list = NULL;
}

void request_list_append(RequestList *l, E621Request *r, RequestState state)
{
        request_list_remove(r);
        r->prev = l->tail;
        r->next = NULL;
        if (l->tail)
                l->tail->next = r;
        else
                l->head = r;
        l->tail = r;
        l->n++;
        r->list = l;
        r->state = state;
}

static void request_list_prepend(RequestList *l, E621Request *r, RequestState state)
{
        request_list_remove(r);
        r->prev = NULL;
        r->next = l->head;
        if (l->head)
                l->head->prev = r;
        else
                l->tail = r;
        l->head = r;
        l->n++;
        r->list = l;
        r->state = state;
}

int request_new(E621Client *c, RequestClass cls, E621Request **ret)
{
        E621Request *r = calloc(1, sizeof(E621Request));
        if (!r)
                return -ENOMEM;
        r->client = c;
        r->cls = cls;
        r->state = REQUEST_NEW;
        r->method = "GET";
        *ret = r;
        return 0;
}

static void request_reset_attempt(E621Request *r)
{
        http_abort(r);
        r->body = mfree(r->body);
        r->size = r->alloc = 0;
        r->too_large = false;
        r->retry_after = mfree(r->retry_after);
        r->content_type = mfree(r->content_type);
        r->status = 0;
        r->errbuf[0] = '\0';
}

/* Never touches the client: it may be gone when a dispatched request is freed. */
E621Request *request_free(E621Request *r)
{
        if (!r)
                return NULL;
        request_list_remove(r);
        request_reset_attempt(r);
        r->retry_timer = sd_event_source_disable_unref(r->retry_timer);
        free(r->url);
        free(r->post_fields);
        free(r->message);
        free(r->walk.tags);
        free(r);
        return NULL;
}

E621Request *e621_request_cancel(E621Request *r)
{
        if (!r || r->state == REQUEST_DISPATCHING)
                return NULL;
        if (r->cls == REQUEST_WALK) {
                walk_cancel(r);
                return NULL;
        }
        E621Client *c = r->client;
        bool was_running = r->state == REQUEST_RUNNING;
        if (was_running && r->cls == REQUEST_DOWNLOAD && c->n_downloads_running > 0)
                c->n_downloads_running--;
        request_free(r);
        if (was_running && c)
                client_kick(c);
        return NULL;
}

int e621_request_set_max_attempts(E621Request *r, unsigned max_attempts)
{
        if (!r || max_attempts == 0 || max_attempts > 20 || r->state == REQUEST_DISPATCHING)
                return -EINVAL;
        r->max_attempts = max_attempts;
        if (r->cls == REQUEST_WALK && r->walk.current)
                r->walk.current->max_attempts = max_attempts;
        return 0;
}

int request_submit(E621Request *r)
{
        E621Client *c = r->client;

        request_list_append(r->cls == REQUEST_DOWNLOAD ? &c->queue_download : &c->queue_api, r,
                            REQUEST_QUEUED);
        client_kick(c);
        return 0;
}

void client_kick(E621Client *c)
{
        int enabled = SD_EVENT_OFF;
        uint64_t when = 0;

        /* an armed kick that fires sooner would be pushed back by re-arming */
        (void)sd_event_source_get_enabled(c->kick, &enabled);
        (void)sd_event_source_get_time(c->kick, &when);
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        if (enabled != SD_EVENT_OFF && when <= now)
                return;
        (void)sd_event_source_set_time(c->kick, now);
        (void)sd_event_source_set_enabled(c->kick, SD_EVENT_ONESHOT);
}

static void request_start_or_fail(E621Request *r)
{
        int r2 = http_start(r);
        if (r2 < 0) {
                /* the slot was taken for a transfer that never began */
                if (r->cls == REQUEST_DOWNLOAD && r->client->n_downloads_running > 0)
                        r->client->n_downloads_running--;
                request_finish_attempt(r, r2, false, strdup("Fluff could not start the request"), 0, false);
        }
}

static int on_kick(sd_event_source *s, uint64_t usec, void *userdata)
{
        E621Client *c = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        while (c->queue_download.head && c->n_downloads_running < c->download_concurrency) {
                E621Request *r = c->queue_download.head;
                c->n_downloads_running++;
                request_list_append(&c->running, r, REQUEST_RUNNING);
                request_start_or_fail(r);
        }

        /* a bucket of one token: requests are spaced 1/rate apart, never
         * bursting, plus a little so that arrival jitter cannot put three
         * requests into one second at the limit of 2/s */
        double interval = (double)USEC_PER_SEC / c->rate + (double)SPACING_MARGIN_USEC;
        c->tokens = MIN(1.0, c->tokens + (double)(now - c->tokens_at) / interval);
        c->tokens_at = now;
        while (c->queue_api.head && c->tokens >= 1.0 && now >= c->api_blocked_until) {
                E621Request *r = c->queue_api.head;
                c->tokens -= 1.0;
                request_list_append(&c->running, r, REQUEST_RUNNING);
                request_start_or_fail(r);
        }
        if (c->queue_api.head) {
                uint64_t wait = (uint64_t)ceil((1.0 - c->tokens) * interval);
                uint64_t next = MAX(now + wait, c->api_blocked_until);
                (void)sd_event_source_set_time(c->kick, next);
                (void)sd_event_source_set_enabled(c->kick, SD_EVENT_ONESHOT);
        }
        return 0;
}

static uint64_t random_u64(E621Client *c)
{
        /* xorshift64*: jitter only needs to decorrelate clients, not be secret */
        uint64_t x = c->rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c->rng = x;
        return x * UINT64_C(2685821657736338717);
}

static uint64_t backoff_usec(E621Client *c, unsigned attempt, unsigned retry_after_s)
{
        uint64_t d = c->retry.base_delay_usec;

        for (unsigned i = 1; i < attempt && d < c->retry.max_delay_usec; i++)
                d *= 2;
        d = MIN(d, c->retry.max_delay_usec);
        /* "equal jitter": at least half the backoff, so retries still slow down */
        d = d / 2 + (d / 2 > 0 ? random_u64(c) % (d / 2 + 1) : 0);
        if (retry_after_s > 0)
                d = MAX(d, (uint64_t)retry_after_s * USEC_PER_SEC);
        return MIN(d, c->retry.max_delay_usec);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        E621Request *r = userdata;
        E621Client *c = r->client;

        r->retry_timer = sd_event_source_disable_unref(r->retry_timer);
        /* to the front: a retried request keeps its place in line */
        request_list_prepend(r->cls == REQUEST_DOWNLOAD ? &c->queue_download : &c->queue_api, r,
                             REQUEST_QUEUED);
        client_kick(c);
        return 0;
}

void request_finish_attempt(E621Request *r, int error, bool retryable, char *message, unsigned retry_after_s,
                            bool throttled)
{
        E621Client *c = r->client;
        int q;

        http_abort(r);
        unsigned max_attempts = r->max_attempts > 0 ? r->max_attempts : c->retry.max_attempts;
        if (error < 0 && retryable && r->attempt < max_attempts) {
                request_reset_attempt(r);
                uint64_t delay = backoff_usec(c, r->attempt, retry_after_s);
                uint64_t when = now_usec(CLOCK_MONOTONIC) + delay;
                log_debug("e621: attempt %u of %s failed (%s), retrying in %.1f s", r->attempt,
                          r->cls == REQUEST_DOWNLOAD ? "a download" : "an API request",
                          message ? message : strerror(-error), (double)delay / USEC_PER_SEC);
                /* the site asked everyone to slow down, not just this request */
                if (throttled && r->cls == REQUEST_API)
                        c->api_blocked_until = MAX(c->api_blocked_until, when);
                q = sd_event_add_time(c->event, &r->retry_timer, CLOCK_MONOTONIC, when, TIMER_ACCURACY_USEC,
                                      on_retry, r);
                if (q >= 0) {
                        free(message);
                        request_list_append(&c->waiting, r, REQUEST_WAITING);
                        return;
                }
                error = q;
        }
        if (error < 0 && retryable && message && r->attempt > 1) {
                char *m;
                if (asprintf(&m, "%s (after %u attempts)", message, r->attempt) >= 0) {
                        free(message);
                        message = m;
                }
        }
        r->error = error;
        free(r->message);
        r->message = message;
        request_list_append(&c->done, r, REQUEST_DONE);
        (void)sd_event_source_set_enabled(c->dispatch, SD_EVENT_ON);
}

static int on_dispatch(sd_event_source *s, void *userdata)
{
        E621Client *c = userdata;
        E621Request *r = c->done.head;

        if (!r) {
                (void)sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        request_list_remove(r);
        if (!c->done.head)
                (void)sd_event_source_set_enabled(s, SD_EVENT_OFF);
        r->state = REQUEST_DISPATCHING;
        r->client = NULL;
        /* the callback may free the client: nothing of it is touched afterwards */
        r->complete(r);
        request_free(r);
        return 0;
}

char *client_scrub(const E621Client *c, const char *msg)
{
        if (!msg)
                return NULL;
        /* every message leaves the client as clean UTF-8 without controls: it
         * goes to the bus, the store and a terminal */
        char *s = text_sanitize(msg, strlen(msg), 0);
        if (!s || isempty(c->api_key) || strlen(c->api_key) < 4)
                return s;
        for (char *p; (p = strstr(s, c->api_key));) {
                size_t kl = strlen(c->api_key);
                memcpy(p, "****", 4);
                memmove(p + 4, p + kl, strlen(p + kl) + 1);
        }
        return s;
}
