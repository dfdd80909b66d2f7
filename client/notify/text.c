/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <math.h>
#include <strings.h>

#include "notify.h"

/* Top tags longer than this are cut (at a character boundary): a body is a
 * glance, not a report. */
#define TAGS_MAX 160
/* Posts a grouped notification lists by name. */
#define GROUP_LISTED 5

char *markup_escape(const char *s)
{
        size_t n = 1;
        char *out, *o;

        for (const char *p = s; *p; p++)
                n += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : *p == '"' || *p == '\'' ? 6 : 1;
        out = o = malloc(n);
        if (!out)
                return NULL;
        for (const char *p = s; *p; p++)
                switch (*p) {
                case '&':
                        o = stpcpy(o, "&amp;");
                        break;
                case '<':
                        o = stpcpy(o, "&lt;");
                        break;
                case '>':
                        o = stpcpy(o, "&gt;");
                        break;
                case '"':
                        o = stpcpy(o, "&quot;");
                        break;
                case '\'':
                        o = stpcpy(o, "&apos;");
                        break;
                default:
                        *o++ = *p;
                }
        *o = '\0';
        return out;
}

int file_uri_from_path(const char *path, char **ret)
{
        static const char keep[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/";
        char *out, *o;

        if (isempty(path) || path[0] != '/')
                return -EINVAL;
        out = o = malloc(strlen("file://") + 3 * strlen(path) + 1);
        if (!out)
                return -ENOMEM;
        o = stpcpy(o, "file://");
        for (const unsigned char *p = (const unsigned char *)path; *p; p++)
                if (strchr(keep, *p))
                        *o++ = (char)*p;
                else
                        o += sprintf(o, "%%%02X", *p);
        *o = '\0';
        *ret = out;
        return 0;
}

bool url_is_web(const char *url)
{
        const char *host;
        size_t n;

        if (isempty(url))
                return false;
        n = strlen(url);
        if (n > 2048 || !utf8_is_valid(url, n))
                return false;
        if (strncasecmp(url, "https://", 8) == 0)
                host = url + 8;
        else if (strncasecmp(url, "http://", 7) == 0)
                host = url + 7;
        else
                return false;
        /* A host, not "http:///x" or "http://@x". */
        if (*host == '\0' || strchr("/?#@:", *host))
                return false;
        for (const unsigned char *p = (const unsigned char *)url; *p; p++)
                if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '\\' || *p == '<' || *p == '>' ||
                    *p == '`')
                        return false;
        return true;
}

/* Copies s without control characters and at most max bytes (ending on a
 * character boundary), escaped when markup is on. */
static char *clean_text(const char *s, size_t max, bool markup)
{
        _cleanup_free_ char *t = NULL;
        size_t n = 0;

        s = strempty(s);
        t = malloc(MIN(strlen(s), max) + 4);
        if (!t)
                return NULL;
        for (; *s && n < max; s++)
                t[n++] = (unsigned char)*s < ' ' || *s == 0x7f ? ' ' : *s;
        if (*s) {
                /* Cut inside a character: drop its leading bytes too. */
                if (((unsigned char)*s & 0xC0) == 0x80) {
                        while (n > 0 && ((unsigned char)t[n - 1] & 0xC0) == 0x80)
                                n--;
                        n -= n > 0;
                }
                memcpy(t + n, "…", strlen("…"));
                n += strlen("…");
        }
        t[n] = '\0';
        return markup ? markup_escape(t) : TAKE_PTR(t);
}

static int percent(double p)
{
        if (!isfinite(p))
                return 0;
        return (int)lround(CLAMP(p, 0.0, 1.0) * 100.0);
}

static int finish(FILE *f, char **buf, char **ret)
{
        if (ferror(f) || fclose(f) != 0) {
                free(*buf);
                *buf = NULL;
                return -ENOMEM;
        }
        *ret = TAKE_PTR(*buf);
        return 0;
}

int text_single(const Batch *b, bool markup, bool actions, char **ret_summary, char **ret_body)
{
        const NotifyPost *p = &b->posts[0];
        _cleanup_free_ char *query = NULL, *tags = NULL, *summary = NULL, *body = NULL;
        size_t size;
        FILE *f;
        int r;

        query = clean_text(b->query, 80, markup);
        tags = clean_text(p->tags, TAGS_MAX, markup);
        if (!query || !tags)
                return -ENOMEM;
        if (asprintf(&summary, "Post %" PRIu64 ": %d%% like", p->id, percent(p->score)) < 0)
                return -ENOMEM;
        f = open_memstream(&body, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "New on \xe2\x80\x9c%s\xe2\x80\x9d", query);
        /* why: the picture's and the tags' shares of the score's logit, which add up */
        if (p->explained)
                fprintf(f, "\nimage %+.2f + tags %+.2f + bias %+.2f = logit %+.2f", p->image_share,
                        p->tags_share, p->bias, p->logit);
        if (!isempty(tags))
                fprintf(f, "\n%s", tags);
        if (!actions)
                fprintf(f, "\nVote with: fluffctl like %" PRIu64 " (or fluffctl dislike %" PRIu64 ")", p->id,
                        p->id);
        r = finish(f, &body, ret_body);
        if (r < 0)
                return r;
        *ret_summary = TAKE_PTR(summary);
        return 0;
}

int text_group(const Batch *b, bool markup, bool actions, char **ret_summary, char **ret_body)
{
        _cleanup_free_ char *query = NULL, *summary = NULL, *body = NULL;
        size_t size, listed = MIN(b->n_posts, (size_t)GROUP_LISTED);
        FILE *f;
        int r;

        /* The summary is plain text in every server; only the body may be markup. */
        query = clean_text(b->query, 80, false);
        if (!query)
                return -ENOMEM;
        if (asprintf(&summary, "%zu new posts on \xe2\x80\x9c%s\xe2\x80\x9d", b->n_posts, query) < 0)
                return -ENOMEM;
        f = open_memstream(&body, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < listed; i++) {
                _cleanup_free_ char *tags = clean_text(b->posts[i].tags, 60, markup);
                if (!tags) {
                        fclose(f);
                        free(body);
                        body = NULL;
                        return -ENOMEM;
                }
                char why[64] = "";
                if (b->posts[i].explained)
                        snprintf(why, sizeof(why), " (image %+.1f, tags %+.1f)", b->posts[i].image_share,
                                 b->posts[i].tags_share);
                fprintf(f, "%s%" PRIu64 ": %d%%%s%s%s", i > 0 ? "\n" : "", b->posts[i].id,
                        percent(b->posts[i].score), why, isempty(tags) ? "" : ", ", tags);
        }
        if (b->n_posts > listed)
                fprintf(f, "\nand %zu more", b->n_posts - listed);
        if (actions)
                fprintf(f, "\nShow each to vote on it.");
        else
                fprintf(f, "\nVote with: fluffctl like ID (or fluffctl dislike ID)");
        r = finish(f, &body, ret_body);
        if (r < 0)
                return r;
        *ret_summary = TAKE_PTR(summary);
        return 0;
}
