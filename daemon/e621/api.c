/* SPDX-License-Identifier: MIT */
/* The site's endpoints: each builds its request and, once it is done, turns the
 * body into the callback's result. */
#include <inttypes.h>
#include <strings.h>

#include "e621-internal.h"
#include "e621-json.h"
#include "json-util.h"

static char *escape(const char *s)
{
        char *e = curl_easy_escape(NULL, s, (int)strlen(s));
        char *copy = e ? strdup(e) : NULL;
        curl_free(e);
        return copy;
}

/* A request for site + path (the caller escaped what needs it). */
static int api_request(E621Client *c, const char *method, char *path_owned, E621Request **ret)
{
        _cleanup_free_ char *path = path_owned;
        _cleanup_(request_freep) E621Request *r = NULL;
        int q;

        if (!path)
                return -ENOMEM;
        q = request_new(c, REQUEST_API, &r);
        if (q < 0)
                return q;
        if (asprintf(&r->url, "%s%s", c->site, path) < 0) {
                r->url = NULL;
                return -ENOMEM;
        }
        if (strlen(r->url) > E621_URL_MAX * 4)
                return -E2BIG;
        r->method = method;
        r->json = true;
        r->auth = true;
        r->max_size = c->max_json_bytes;
        *ret = TAKE_PTR(r);
        return 0;
}

static char *printf_path(const char *fmt, ...) _printf_(1, 2);
static char *printf_path(const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

static void submit(E621Request *r, void *userdata, E621Request **ret_request)
{
        r->userdata = userdata;
        (void)request_submit(r);
        if (ret_request)
                *ret_request = r;
}

/* ---- users ---- */

static void complete_user(E621Request *r)
{
        E621User u = {};
        E621UserStorage *storage = NULL;
        _cleanup_free_ char *msg = NULL;
        int q = r->error;

        if (q >= 0)
                q = e621_parse_user(r->body, r->size, &u, &storage, &msg);
        if (q < 0)
                r->cb.user(q, msg ? msg : r->message, NULL, r->userdata);
        else
                r->cb.user(0, NULL, &u, r->userdata);
        e621_user_storage_free(storage);
}

int e621_get_user(E621Client *c, const char *name, E621UserCallback cb, void *userdata,
                  E621Request **ret_request)
{
        E621Request *r;
        _cleanup_free_ char *n = NULL;
        int q;

        if (isempty(name) || strlen(name) > 64 || !cb)
                return -EINVAL;
        n = escape(name);
        if (!n)
                return -ENOMEM;
        q = api_request(c, "GET", printf_path("/users/%s.json", n), &r);
        if (q < 0)
                return q;
        r->complete = complete_user;
        r->cb.user = cb;
        submit(r, userdata, ret_request);
        return 0;
}

/* ---- posts ---- */

static void complete_posts(E621Request *r)
{
        _cleanup_(e621_post_list_freep) E621PostList *l = NULL;
        _cleanup_free_ char *msg = NULL;
        int q = r->error;

        if (q >= 0)
                q = r->limit > 0 ? e621_parse_posts(r->body, r->size, &l, &msg)
                                 : e621_parse_post_response(r->body, r->size, &l, &msg);
        if (q < 0)
                r->cb.posts(q, msg ? msg : r->message, NULL, r->userdata);
        else
                r->cb.posts(0, NULL, l, r->userdata);
}

static bool page_is_valid(const char *page)
{
        const char *p = page;
        if (*p == 'a' || *p == 'b')
                p++;
        size_t n = strspn(p, "0123456789");
        return n > 0 && n <= 19 && p[n] == '\0';
}

int e621_search_posts(E621Client *c, const char *tags, unsigned limit, const char *page,
                      E621PostsCallback cb, void *userdata, E621Request **ret_request)
{
        _cleanup_free_ char *t = NULL;
        E621Request *r;
        int q;

        if (!cb || limit > E621_POSTS_LIMIT_MAX || (page && !page_is_valid(page)))
                return -EINVAL;
        if (limit == 0)
                limit = E621_POSTS_LIMIT_MAX;
        if (tags && strlen(tags) > 4096)
                return -E2BIG;
        t = escape(tags ? tags : "");
        if (!t)
                return -ENOMEM;
        q = api_request(c, "GET",
                        printf_path("/posts.json?tags=%s&limit=%u%s%s", t, limit, page ? "&page=" : "",
                                    page ? page : ""),
                        &r);
        if (q < 0)
                return q;
        r->complete = complete_posts;
        r->cb.posts = cb;
        r->limit = limit;
        submit(r, userdata, ret_request);
        return 0;
}

int e621_get_post(E621Client *c, uint64_t post_id, E621PostsCallback cb, void *userdata,
                  E621Request **ret_request)
{
        E621Request *r;
        int q;

        if (post_id == 0 || !cb)
                return -EINVAL;
        q = api_request(c, "GET", printf_path("/posts/%" PRIu64 ".json", post_id), &r);
        if (q < 0)
                return q;
        r->complete = complete_posts; /* limit 0: one post */
        r->cb.posts = cb;
        submit(r, userdata, ret_request);
        return 0;
}

/* ---- votes and favourites ---- */

static void complete_vote(E621Request *r)
{
        E621VoteResult v = {};
        _cleanup_free_ char *msg = NULL;
        int q = r->error;

        if (q >= 0)
                q = e621_parse_vote(r->body, r->size, &v, &msg);
        if (q < 0)
                r->cb.vote(q, msg ? msg : r->message, NULL, r->userdata);
        else
                r->cb.vote(0, NULL, &v, r->userdata);
}

static void complete_done(E621Request *r)
{
        int q = r->error;

        /* favouriting twice or unfavouriting what is gone is what was asked */
        if ((q == -EINVAL && r->ok_422 && r->status == 422 && r->message &&
             strcasestr(r->message, "already")) ||
            (q == -ENOENT && r->ok_404))
                q = 0;
        r->cb.done(q, q < 0 ? r->message : NULL, r->userdata);
}

int e621_vote(E621Client *c, uint64_t post_id, int score, E621VoteCallback cb, void *userdata,
              E621Request **ret_request)
{
        E621Request *r;
        int q;

        if (post_id == 0 || (score != 1 && score != -1) || !cb)
                return -EINVAL;
        q = api_request(c, "POST", printf_path("/posts/%" PRIu64 "/votes.json", post_id), &r);
        if (q < 0)
                return q;
        /* without no_unvote a repeated vote would remove the vote */
        if (asprintf(&r->post_fields, "score=%d&no_unvote=true", score) < 0) {
                r->post_fields = NULL;
                request_free(r);
                return -ENOMEM;
        }
        r->complete = complete_vote;
        r->cb.vote = cb;
        submit(r, userdata, ret_request);
        return 0;
}

static int simple_call(E621Client *c, const char *method, char *path, char *fields, bool ok_422, bool ok_404,
                       E621DoneCallback cb, void *userdata, E621Request **ret_request)
{
        _cleanup_free_ char *f = fields;
        E621Request *r;
        int q;

        if (!cb)
                return -EINVAL;
        q = api_request(c, method, path, &r);
        if (q < 0)
                return q;
        r->post_fields = TAKE_PTR(f);
        r->ok_422 = ok_422;
        r->ok_404 = ok_404;
        r->complete = complete_done;
        r->cb.done = cb;
        submit(r, userdata, ret_request);
        return 0;
}

int e621_unvote(E621Client *c, uint64_t post_id, E621DoneCallback cb, void *userdata,
                E621Request **ret_request)
{
        if (post_id == 0)
                return -EINVAL;
        return simple_call(c, "DELETE", printf_path("/posts/%" PRIu64 "/votes.json", post_id), NULL, false,
                           false, cb, userdata, ret_request);
}

int e621_favorite(E621Client *c, uint64_t post_id, E621DoneCallback cb, void *userdata,
                  E621Request **ret_request)
{
        char *fields;

        if (post_id == 0)
                return -EINVAL;
        if (asprintf(&fields, "post_id=%" PRIu64, post_id) < 0)
                return -ENOMEM;
        return simple_call(c, "POST", printf_path("/favorites.json"), fields, true, false, cb, userdata,
                           ret_request);
}

int e621_unfavorite(E621Client *c, uint64_t post_id, E621DoneCallback cb, void *userdata,
                    E621Request **ret_request)
{
        if (post_id == 0)
                return -EINVAL;
        return simple_call(c, "DELETE", printf_path("/favorites/%" PRIu64 ".json", post_id), NULL, false,
                           true, cb, userdata, ret_request);
}

/* ---- images ---- */

static bool content_type_is_document(const char *ct)
{
        return ct && (strncasecmp(ct, "text/", 5) == 0 || e621_content_type_is_json(ct));
}

static void complete_download(E621Request *r)
{
        int q = r->error;
        const char *msg = r->message;

        if (q >= 0 && content_type_is_document(r->content_type)) {
                q = -EPROTO;
                msg = "the image address answered with a document instead of an image";
        } else if (q >= 0 && r->size == 0) {
                q = -EPROTO;
                msg = "the image address answered with an empty body";
        }
        if (q < 0) {
                r->cb.download(q, msg, NULL, r->userdata);
                return;
        }
        E621Buffer b = {.data = (uint8_t *)r->body, .size = r->size, .content_type = r->content_type};
        r->cb.download(0, NULL, &b, r->userdata);
        if (!b.data) /* taken */
                r->body = NULL;
}

int e621_download(E621Client *c, const char *url, E621DownloadCallback cb, void *userdata,
                  E621Request **ret_request)
{
        _cleanup_(request_freep) E621Request *r = NULL;
        int q;

        if (!cb)
                return -EINVAL;
        q = e621_image_url_allowed(c->site, c->image_hosts, url);
        if (q < 0)
                return q;
        q = request_new(c, REQUEST_DOWNLOAD, &r);
        if (q < 0)
                return q;
        r->url = strdup(url);
        if (!r->url)
                return -ENOMEM;
        /* image hosts are not the API: they get no credentials */
        r->auth = false;
        r->max_size = c->max_image_bytes;
        r->complete = complete_download;
        r->cb.download = cb;
        submit(TAKE_PTR(r), userdata, ret_request);
        return 0;
}

/* ---- helpers ---- */

bool e621_error_is_transient(int error)
{
        switch (error < 0 ? -error : error) {
        case ENETUNREACH:
        case EAGAIN:
        case EPROTO: /* 5xx after every retry, or a body cut short */
        case ENOMEM:
                return true;
        default:
                return false;
        }
}

int e621_query_join(char *const *terms, char **ret)
{
        size_t n = strv_length(terms), len = 0;

        if (n > E621_QUERY_TERMS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (isempty(terms[i]) || strlen(terms[i]) > E621_TAG_MAX + 32)
                        return -EINVAL;
                for (const char *p = terms[i]; *p; p++)
                        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                                return -EINVAL;
                len += strlen(terms[i]) + 1;
        }
        char *s = malloc(len + 1), *p = s;
        if (!s)
                return -ENOMEM;
        *p = '\0';
        for (size_t i = 0; i < n; i++)
                p = stpcpy(stpcpy(p, i > 0 ? " " : ""), terms[i]);
        *ret = s;
        return 0;
}

int e621_post_page_url(const E621Client *c, uint64_t post_id, char **ret)
{
        char *s;
        if (asprintf(&s, "%s/posts/%" PRIu64, c->site, post_id) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}
