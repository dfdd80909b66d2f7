/* SPDX-License-Identifier: MIT */
/* libcurl's multi socket API on sd-event: curl's sockets become io sources,
 * its timer one time source; finished transfers become outcomes (errno plus a
 * message) for client.c. This is the one place raw curl codes are seen. */
#include <arpa/inet.h>
#include <strings.h>
#include <sys/epoll.h>

#include "e621-internal.h"
#include "e621-json.h"
#include "json-util.h"
#include "fluff/text.h"

struct IoWatch {
        E621Client *client;
        sd_event_source *source;
        IoWatch *prev, *next;
};

static IoWatch *watch_free(E621Client *c, IoWatch *w)
{
        if (!w)
                return NULL;
        if (w->prev)
                w->prev->next = w->next;
        else
                c->watches = w->next;
        if (w->next)
                w->next->prev = w->prev;
        w->source = sd_event_source_disable_unref(w->source);
        free(w);
        return NULL;
}

static void process_done(E621Client *c);

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        E621Client *c = userdata;
        int flags = 0, running;

        if (revents & EPOLLIN)
                flags |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                flags |= CURL_CSELECT_ERR;
        (void)curl_multi_socket_action(c->multi, fd, flags, &running);
        process_done(c);
        return 0;
}

static int curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
        E621Client *c = userp;
        IoWatch *w = socketp;
        uint32_t events = 0;
        int r;

        if (what == CURL_POLL_REMOVE) {
                watch_free(c, w);
                (void)curl_multi_assign(c->multi, s, NULL);
                return 0;
        }
        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;
        if (w) {
                r = sd_event_source_set_io_events(w->source, events);
                return r < 0 ? -1 : 0;
        }
        w = calloc(1, sizeof(IoWatch));
        if (!w)
                return -1;
        r = sd_event_add_io(c->event, &w->source, s, events, on_io, c);
        if (r < 0) {
                free(w);
                return -1;
        }
        (void)sd_event_source_set_description(w->source, "e621-socket");
        w->client = c;
        w->next = c->watches;
        if (w->next)
                w->next->prev = w;
        c->watches = w;
        (void)curl_multi_assign(c->multi, s, w);
        return 0;
}

static int on_curl_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        E621Client *c = userdata;
        int running;

        (void)curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        process_done(c);
        return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
        E621Client *c = userp;
        int r;

        if (timeout_ms < 0)
                return sd_event_source_set_enabled(c->curl_timer, SD_EVENT_OFF) < 0 ? -1 : 0;
        uint64_t when = now_usec(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * USEC_PER_MSEC;
        r = sd_event_source_set_time(c->curl_timer, when);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->curl_timer, SD_EVENT_ONESHOT);
        return r < 0 ? -1 : 0;
}

int http_init(E621Client *c)
{
        static bool global_done = false;
        int r;

        if (!global_done) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return -EIO;
                global_done = true;
        }
        r = sd_event_add_time(c->event, &c->curl_timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_curl_timer, c);
        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(c->curl_timer, SD_EVENT_OFF);
        (void)sd_event_source_set_description(c->curl_timer, "e621-curl-timer");
        c->multi = curl_multi_init();
        if (!c->multi)
                return -ENOMEM;
        if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L) != CURLM_OK)
                return -EIO;
        return 0;
}

void http_done(E621Client *c)
{
        if (c->multi)
                (void)curl_multi_cleanup(c->multi); /* may still report sockets to remove */
        c->multi = NULL;
        while (c->watches)
                watch_free(c, c->watches);
        c->curl_timer = sd_event_source_disable_unref(c->curl_timer);
}

static bool host_is_loopback(const char *host)
{
        struct in_addr a4;

        if (strcasecmp(host, "localhost") == 0 || streq(host, "[::1]"))
                return true;
        return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

int url_check_safe(const char *url, bool allow_path, char **ret_normalised)
{
        CURLU *h;
        char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL,
             *fragment = NULL;
        int r = -EINVAL;

        if (!e621_url_is_valid(url))
                return -EINVAL;
        h = curl_url();
        if (!h)
                return -ENOMEM;
        if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK)
                goto finish;
        (void)curl_url_get(h, CURLUPART_PORT, &port, 0);
        (void)curl_url_get(h, CURLUPART_PATH, &path, 0);
        (void)curl_url_get(h, CURLUPART_QUERY, &query, 0);
        (void)curl_url_get(h, CURLUPART_USER, &user, 0);
        (void)curl_url_get(h, CURLUPART_FRAGMENT, &fragment, 0);
        if (user || fragment)
                goto finish;
        if (!allow_path && (query || (path && !streq(path, "/") && !streq(path, ""))))
                goto finish;
        /* plain HTTP would show the key to the network: only on this machine */
        if (!(strcasecmp(scheme, "https") == 0 ||
              (strcasecmp(scheme, "http") == 0 && host_is_loopback(host))))
                goto finish;
        r = 0;
        if (ret_normalised) {
                if (asprintf(ret_normalised, "%s://%s%s%s", scheme, host, port ? ":" : "",
                             port ? port : "") < 0)
                        r = -ENOMEM;
        }
finish:
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_free(path);
        curl_free(query);
        curl_free(user);
        curl_free(fragment);
        curl_url_cleanup(h);
        return r;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
        E621Request *r = userdata;
        size_t n = size * nmemb;

        if (n > r->max_size || r->size > r->max_size - n) {
                r->too_large = true;
                return 0; /* aborts the transfer: the limit holds however the server frames the body */
        }
        if (r->size + n + 1 > r->alloc) {
                size_t a = MAX(r->alloc * 2, r->size + n + 1);
                a = MAX(a, (size_t)16384);
                a = MIN(a, r->max_size + 1);
                char *b = realloc(r->body, a);
                if (!b)
                        return 0;
                r->body = b;
                r->alloc = a;
        }
        memcpy(r->body + r->size, data, n);
        r->size += n;
        r->body[r->size] = '\0';
        return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
        E621Request *r = userdata;
        size_t n = size * nmemb;

        /* a new status line starts a new response (after 100 Continue) */
        if (n >= 5 && strneq(data, "HTTP/", 5))
                r->retry_after = mfree(r->retry_after);
        else if (n > 12 && strncasecmp(data, "Retry-After:", 12) == 0 && n < 200) {
                const char *v = data + 12;
                size_t l = n - 12;
                while (l > 0 && (*v == ' ' || *v == '\t'))
                        v++, l--;
                while (l > 0 && (v[l - 1] == '\r' || v[l - 1] == '\n' || v[l - 1] == ' '))
                        l--;
                free(r->retry_after);
                r->retry_after = strndup(v, l);
        }
        return n;
}

#define SETOPT(e, opt, val)                                                                                 \
        do {                                                                                                \
                if (curl_easy_setopt((e), (opt), (val)) != CURLE_OK)                                        \
                        return -EIO;                                                                        \
        } while (0)

static int setup_easy(E621Request *r, CURL *e)
{
        E621Client *c = r->client;
        const E621RetryPolicy *p = &c->retry;
        uint64_t total = p->total_timeout_usec;

        if (r->cls == REQUEST_DOWNLOAD)
                total = MAX(total, total * 5 / 2); /* images are larger than pages */
        SETOPT(e, CURLOPT_URL, r->url);
        SETOPT(e, CURLOPT_PRIVATE, r);
        SETOPT(e, CURLOPT_NOSIGNAL, 1L);
        SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
        SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
        /* no redirects at all: the API never redirects, and following one could
         * carry the credentials elsewhere */
        SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
        SETOPT(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
        SETOPT(e, CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(e, CURLOPT_SSL_VERIFYHOST, 2L);
        SETOPT(e, CURLOPT_USERAGENT, c->user_agent);
        SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(p->connect_timeout_usec / USEC_PER_MSEC));
        SETOPT(e, CURLOPT_TIMEOUT_MS, (long)(total / USEC_PER_MSEC));
        SETOPT(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        SETOPT(e, CURLOPT_LOW_SPEED_TIME, (long)MAX(p->stall_timeout_usec / USEC_PER_SEC, (uint64_t)1));
        SETOPT(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_size);
        SETOPT(e, CURLOPT_WRITEFUNCTION, on_write);
        SETOPT(e, CURLOPT_WRITEDATA, r);
        SETOPT(e, CURLOPT_HEADERFUNCTION, on_header);
        SETOPT(e, CURLOPT_HEADERDATA, r);
        SETOPT(e, CURLOPT_ERRORBUFFER, r->errbuf);
        if (r->fresh_connect)
                SETOPT(e, CURLOPT_FRESH_CONNECT, 1L);
        if (r->json) {
                SETOPT(e, CURLOPT_ACCEPT_ENCODING, "");
                r->headers = curl_slist_append(NULL, "Accept: application/json");
                if (!r->headers)
                        return -ENOMEM;
                SETOPT(e, CURLOPT_HTTPHEADER, r->headers);
        }
        if (r->auth && c->username) {
                SETOPT(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                SETOPT(e, CURLOPT_USERNAME, c->username);
                SETOPT(e, CURLOPT_PASSWORD, c->api_key);
        }
        if (streq(r->method, "POST"))
                SETOPT(e, CURLOPT_COPYPOSTFIELDS, r->post_fields ? r->post_fields : "");
        else if (!streq(r->method, "GET"))
                SETOPT(e, CURLOPT_CUSTOMREQUEST, r->method);
        return 0;
}

int http_start(E621Request *r)
{
        int q;

        r->attempt++;
        r->easy = curl_easy_init();
        if (!r->easy)
                return -ENOMEM;
        q = setup_easy(r, r->easy);
        if (q < 0)
                return q;
        if (curl_multi_add_handle(r->client->multi, r->easy) != CURLM_OK) {
                curl_easy_cleanup(r->easy);
                r->easy = NULL;
                return -EIO;
        }
        return 0;
}

void http_abort(E621Request *r)
{
        if (r->easy) {
                CURLM *m = r->client ? r->client->multi : NULL;
                if (m)
                        (void)curl_multi_remove_handle(m, r->easy);
                curl_easy_cleanup(r->easy);
                r->easy = NULL;
        }
        curl_slist_free_all(r->headers);
        r->headers = NULL;
}

unsigned e621_parse_retry_after(const char *v, time_t now)
{
        unsigned s;

        if (isempty(v))
                return 0;
        if (safe_atou(v, &s) >= 0)
                return MIN(s, 86400u);
        time_t t = curl_getdate(v, NULL);
        if (t == (time_t)-1)
                return 0;
        int64_t d = (int64_t)t - (int64_t)now;
        return d <= 0 ? 0 : (unsigned)MIN(d, (int64_t)86400);
}

static char *site_message(E621Request *r)
{
        char *m = NULL;
        (void)e621_error_body_message(r->content_type, r->body, r->size, &m);
        return m;
}

/* "prefix: the site's words" or just prefix, without the key. */
static char *compose(E621Client *c, const char *prefix, const char *detail)
{
        char *s;
        if (isempty(detail))
                s = strdup(prefix);
        else if (asprintf(&s, "%s: %s", prefix, detail) < 0)
                s = NULL;
        char *t = client_scrub(c, s);
        free(s);
        return t;
}

static void outcome_http(E621Request *r)
{
        E621Client *c = r->client;
        _cleanup_free_ char *detail = NULL, *prefix = NULL;
        int error;
        bool retry = false, throttled = false;
        long st = r->status;

        if (st >= 200 && st < 300) {
                if (r->json && r->size > 0 && !e621_content_type_is_json(r->content_type)) {
                        detail = site_message(r);
                        if (asprintf(&prefix, "the site answered with \"%s\" instead of JSON",
                                     r->content_type ? r->content_type : "no content type") < 0)
                                prefix = NULL;
                        request_finish_attempt(r, -EPROTO, false, compose(c, prefix ? prefix : "", detail),
                                               0, false);
                        return;
                }
                request_finish_attempt(r, 0, false, NULL, 0, false);
                return;
        }

        detail = site_message(r);
        switch (st) {
        case 401:
                error = -EKEYREJECTED;
                /* a ban comes with its reason, which says more than any advice */
                if (detail && !strstr(detail, "AuthenticationFailure")) {
                        prefix = strdup("the site refused the login");
                        break;
                }
                if (asprintf(&prefix,
                             "the site rejected the username or API key: check the key at %s/users/home → "
                             "Manage API access",
                             c->site) < 0)
                        prefix = NULL;
                detail = mfree(detail); /* "SessionLoader::AuthenticationFailure" helps nobody */
                break;
        case 403:
                error = -EPERM;
                prefix = strdup("the site denied access");
                break;
        case 404:
                error = -ENOENT;
                prefix = strdup("not found on the site");
                break;
        case 423:
        case 429:
                error = -EAGAIN;
                retry = throttled = true;
                if (asprintf(&prefix, "the site asks to retry later (%ld)", st) < 0)
                        prefix = NULL;
                break;
        default:
                if (st >= 500) {
                        error = -EPROTO;
                        retry = true;
                        throttled = st == 503; /* the site's answer to more than 2 requests a second */
                        if (asprintf(&prefix, "the site failed with HTTP %ld", st) < 0)
                                prefix = NULL;
                } else if (st >= 300 && st < 400) {
                        error = -EPROTO;
                        if (asprintf(&prefix,
                                     "the site answered with a redirect (%ld), which Fluff does not follow",
                                     st) < 0)
                                prefix = NULL;
                } else {
                        error = -EINVAL;
                        if (asprintf(&prefix, "the site refused the request (%ld)", st) < 0)
                                prefix = NULL;
                }
        }
        request_finish_attempt(r, error, retry, compose(c, prefix ? prefix : "the request failed", detail),
                               e621_parse_retry_after(r->retry_after, time(NULL)), throttled);
}

static void outcome(E621Request *r, CURLcode code)
{
        E621Client *c = r->client;
        _cleanup_free_ char *prefix = NULL;
        const char *why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(code);
        int error;
        bool retry = false;

        if (code == CURLE_OK) {
                outcome_http(r);
                return;
        }
        switch (code) {
        case CURLE_WRITE_ERROR:
        case CURLE_FILESIZE_EXCEEDED:
                if (code == CURLE_FILESIZE_EXCEEDED || r->too_large) {
                        error = -EFBIG;
                        if (asprintf(&prefix, "the answer is larger than the limit of %zu bytes",
                                     r->max_size) < 0)
                                prefix = NULL;
                        why = NULL;
                } else
                        error = -ENOMEM;
                break;
        case CURLE_OUT_OF_MEMORY:
                error = -ENOMEM;
                break;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
                error = -ENETUNREACH;
                prefix = strdup("the site's TLS certificate could not be verified");
                break;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
                error = -EINVAL;
                prefix = strdup("the address is not valid");
                break;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                error = -ENETUNREACH;
                retry = true;
                r->fresh_connect = true;
                if (asprintf(&prefix, "could not reach %s", c->site) < 0)
                        prefix = NULL;
                break;
        default:
                error = -EPROTO;
                prefix = strdup("the transfer failed");
        }
        request_finish_attempt(r, error, retry, compose(c, prefix ? prefix : "the request failed", why), 0,
                               false);
}

static void process_done(E621Client *c)
{
        CURLMsg *m;
        int left;

        while ((m = curl_multi_info_read(c->multi, &left))) {
                E621Request *r = NULL;
                char *ct = NULL;

                if (m->msg != CURLMSG_DONE)
                        continue;
                CURLcode code = m->data.result;
                (void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
                if (!r)
                        continue;
                (void)curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
                (void)curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
                free(r->content_type);
                /* the server's words, echoed in messages: clean before anything sees them */
                r->content_type = ct ? text_sanitize(ct, strnlen(ct, 200), 0) : NULL;
                if (r->cls == REQUEST_DOWNLOAD && c->n_downloads_running > 0)
                        c->n_downloads_running--;
                /* the body stays until the outcome is read; the handle goes now */
                (void)curl_multi_remove_handle(c->multi, r->easy);
                curl_easy_cleanup(r->easy);
                r->easy = NULL;
                outcome(r, code);
                client_kick(c);
        }
}
