/* SPDX-License-Identifier: MIT */
#include <json-c/json.h>
#include <limits.h>

#include "e621-json.h"
#include "fluff/text.h"
#include "json-util.h"

/* Deep enough for the site's shapes; stops a hostile body from recursing far. */
#define JSON_DEPTH_MAX 16

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

int json_parse_body(const char *body, size_t size, json_object **ret, char **ret_message)
{
        json_tokener *tok;
        json_object *o;

        if (size == 0 || size > E621_JSON_MAX_BYTES || size > INT_MAX) {
                if (ret_message)
                        *ret_message = strdup(size == 0 ? "the site sent an empty answer"
                                                        : "the site's answer is too large");
                return size == 0 ? -EPROTO : -EFBIG;
        }
        tok = json_tokener_new_ex(JSON_DEPTH_MAX);
        if (!tok)
                return -ENOMEM;
        /* the site sends strict JSON; lenient parsing would accept bodies it never sends */
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, body, (int)size);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t consumed = json_tokener_get_parse_end(tok);
        if (!o && jerr == json_tokener_continue && consumed == size) {
                /* a bare number may go on: a NUL ends it, as the end of input does */
                o = json_tokener_parse_ex(tok, "", 1);
                jerr = json_tokener_get_error(tok);
        }
        json_tokener_free(tok);
        if (!o || jerr != json_tokener_success) {
                json_object_put(o);
                if (ret_message &&
                    asprintf(ret_message, "the site sent malformed JSON (%s)",
                             jerr == json_tokener_continue ? "it ends early"
                                                           : json_tokener_error_desc(jerr)) < 0)
                        *ret_message = NULL;
                return -EPROTO;
        }
        /* trailing garbage after a complete value is still a malformed body */
        for (size_t i = consumed; i < size; i++)
                if (!strchr(" \t\r\n", body[i])) {
                        json_object_put(o);
                        if (ret_message)
                                *ret_message = strdup("the site sent malformed JSON (text after the end)");
                        return -EPROTO;
                }
        *ret = o;
        return 0;
}

int json_get_int64(json_object *parent, const char *key, int64_t min, int64_t max, int64_t *ret)
{
        json_object *v;

        if (!parent || !json_object_object_get_ex(parent, key, &v) || !v)
                return -ENODATA;
        return json_int64_value(v, min, max, ret);
}

int json_int64_value(json_object *v, int64_t min, int64_t max, int64_t *ret)
{
        int64_t x;

        switch (json_object_get_type(v)) {
        case json_type_int:
                /* json-c keeps large positive values as uint64 */
                if (json_object_get_int64(v) == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
                        return -ERANGE;
                x = json_object_get_int64(v);
                break;
        case json_type_double: {
                double d = json_object_get_double(v);
                if (!(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d)
                        return -ERANGE;
                x = (int64_t)d;
                break;
        }
        case json_type_string: {
                /* some fields arrive quoted on older servers */
                const char *s = json_object_get_string(v);
                char *end;
                errno = 0;
                long long l = strtoll(s, &end, 10);
                if (errno != 0 || end == s || *end)
                        return -EINVAL;
                x = l;
                break;
        }
        default:
                return -EINVAL;
        }
        if (x < min || x > max)
                return -ERANGE;
        *ret = x;
        return 0;
}

bool json_get_bool(json_object *parent, const char *key, bool def)
{
        json_object *v;

        if (!parent || !json_object_object_get_ex(parent, key, &v) || !v)
                return def;
        switch (json_object_get_type(v)) {
        case json_type_boolean:
                return json_object_get_boolean(v);
        case json_type_int:
                return json_object_get_int64(v) != 0;
        case json_type_string:
                return streq(json_object_get_string(v), "true") || streq(json_object_get_string(v), "t");
        default:
                return def;
        }
}

const char *json_get_string(json_object *parent, const char *key, size_t max_len)
{
        json_object *v;

        if (!parent || !json_object_object_get_ex(parent, key, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        if ((size_t)json_object_get_string_len(v) > max_len)
                return NULL;
        const char *s = json_object_get_string(v);
        /* an embedded NUL would make the C string lie about its length */
        if (strlen(s) != (size_t)json_object_get_string_len(v))
                return NULL;
        return s;
}

json_object *json_get_object(json_object *parent, const char *key)
{
        json_object *v;

        if (!parent || !json_object_object_get_ex(parent, key, &v) ||
            !json_object_is_type(v, json_type_object))
                return NULL;
        return v;
}

static bool is_hex_char(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int parse_digits(const char **p, size_t n, int *ret)
{
        int v = 0;
        for (size_t i = 0; i < n; i++) {
                char c = (*p)[i];
                if (c < '0' || c > '9')
                        return -EINVAL;
                v = v * 10 + (c - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

int e621_parse_time(const char *s, int64_t *ret)
{
        int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 1;
        const char *p = s;

        if (!s)
                return -EINVAL;
        if (parse_digits(&p, 4, &year) < 0 || *p++ != '-' || parse_digits(&p, 2, &mon) < 0 || *p++ != '-' ||
            parse_digits(&p, 2, &day) < 0 || (*p != 'T' && *p != ' '))
                return -EINVAL;
        p++;
        if (parse_digits(&p, 2, &hour) < 0 || *p++ != ':' || parse_digits(&p, 2, &min) < 0 || *p++ != ':' ||
            parse_digits(&p, 2, &sec) < 0)
                return -EINVAL;
        if (*p == '.' || *p == ',') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                sign = *p == '-' ? -1 : 1;
                p++;
                if (parse_digits(&p, 2, &oh) < 0)
                        return -EINVAL;
                if (*p == ':')
                        p++;
                if (*p && parse_digits(&p, 2, &om) < 0)
                        return -EINVAL;
        } else
                return -EINVAL; /* a time without an offset is ambiguous */
        if (*p || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 ||
            oh > 23 || om > 59 || year < 1970)
                return -EINVAL;

        struct tm tm = {
                .tm_year = year - 1900,
                .tm_mon = mon - 1,
                .tm_mday = day,
                .tm_hour = hour,
                .tm_min = min,
                .tm_sec = sec,
        };
        time_t t = timegm(&tm);
        if (t == (time_t)-1)
                return -EINVAL;
        *ret = (int64_t)t - sign * (int64_t)(oh * 3600 + om * 60);
        return 0;
}

bool e621_url_is_valid(const char *url)
{
        const char *host;

        if (!url || strlen(url) > E621_URL_MAX)
                return false;
        if (strneq(url, "https://", 8))
                host = url + 8;
        else if (strneq(url, "http://", 7))
                host = url + 7;
        else
                return false;
        if (*host == '\0' || *host == '/' || *host == ':' || *host == '?' || *host == '#')
                return false;
        /* the site percent-encodes: anything beyond printable ASCII is not its URL
         * (and would be refused by sd-bus or echoed to a terminal) */
        for (const char *p = url; *p; p++)
                if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '\\')
                        return false;
        /* user info in an image URL would send credentials somewhere */
        size_t hostlen = strcspn(host, "/?#");
        if (memchr(host, '@', hostlen))
                return false;
        return true;
}

static bool md5_is_valid(const char *s)
{
        if (!s || strlen(s) != 32)
                return false;
        for (size_t i = 0; i < 32; i++)
                if (!is_hex_char(s[i]))
                        return false;
        return true;
}

static bool word_is_valid(const char *s, size_t max, bool allow_punct)
{
        size_t n = 0;

        if (!s || !*s)
                return false;
        for (const char *p = s; *p; p++, n++) {
                unsigned char c = (unsigned char)*p;
                if (n >= max || c <= 0x20 || c == 0x7f)
                        return false;
                if (!allow_punct && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                      (c >= '0' && c <= '9') || c == '_' || c == '-'))
                        return false;
        }
        return true;
}

static unsigned dimension(json_object *o, const char *key)
{
        int64_t v;
        if (json_get_int64(o, key, 0, E621_DIMENSION_MAX, &v) < 0)
                return 0;
        return (unsigned)v;
}

static int small_int(json_object *o, const char *key)
{
        int64_t v;
        /* scores beyond a million are nonsense; 0 rather than a wrapped value */
        if (json_get_int64(o, key, -1000000, 1000000, &v) < 0)
                return 0;
        return (int)v;
}

static int dup_valid_url(json_object *o, const char *key, char **ret)
{
        const char *s = json_get_string(o, key, E621_URL_MAX);
        if (!s || !e621_url_is_valid(s)) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int parse_tags(Post *p, json_object *tags)
{
        json_object_object_foreach(tags, category, list)
        {
                if (!word_is_valid(category, 64, false) || !json_object_is_type(list, json_type_array))
                        continue;
                size_t n = json_object_array_length(list);
                for (size_t i = 0; i < n; i++) {
                        json_object *t = json_object_array_get_idx(list, i);
                        if (!json_object_is_type(t, json_type_string))
                                continue;
                        const char *name = json_object_get_string(t);
                        /* a tag that is not clean UTF-8 (a C1 CSI, half a character)
                         * is not one the site has: dropped, never repaired into
                         * a different tag */
                        if ((size_t)json_object_get_string_len(t) != strlen(name) ||
                            !word_is_valid(name, E621_TAG_MAX, true) ||
                            !text_is_clean(name, strlen(name), 0))
                                continue;
                        if (p->n_tags >= E621_TAGS_PER_POST_MAX)
                                return 0;
                        int r = post_add_tag(p, name, category);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* -EINVAL: not a post (skipped by the caller), -ENOMEM: give up. */
int e621_post_from_json(json_object *o, Post **ret)
{
        _cleanup_post_free_ Post *p = NULL;
        json_object *file, *sample, *preview, *score, *flags, *tags;
        int64_t v;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return -EINVAL;
        /* ids are JSON numbers a double can hold exactly in every client */
        if (json_get_int64(o, "id", 1, (INT64_C(1) << 53), &v) < 0)
                return -EINVAL;
        p = calloc(1, sizeof(Post));
        if (!p)
                return -ENOMEM;
        p->id = (uint64_t)v;

        const char *created = json_get_string(o, "created_at", 64);
        if (created && e621_parse_time(created, &v) >= 0)
                p->created_at = v;

        file = json_get_object(o, "file");
        p->width = dimension(file, "width");
        p->height = dimension(file, "height");
        if (json_get_int64(file, "size", 0, (int64_t)E621_FILE_SIZE_MAX, &v) >= 0)
                p->file_size = (uint64_t)v;
        const char *ext = json_get_string(file, "ext", 8);
        if (ext && word_is_valid(ext, 8, false)) {
                p->ext = strdup(ext);
                if (!p->ext)
                        return -ENOMEM;
        }
        r = dup_valid_url(file, "url", &p->file_url);
        if (r < 0)
                return r;

        sample = json_get_object(o, "sample");
        if (sample && json_get_bool(sample, "has", true)) {
                r = dup_valid_url(sample, "url", &p->sample_url);
                if (r < 0)
                        return r;
                p->sample_width = dimension(sample, "width");
                p->sample_height = dimension(sample, "height");
        }
        preview = json_get_object(o, "preview");
        r = dup_valid_url(preview, "url", &p->preview_url);
        if (r < 0)
                return r;

        const char *md5 = json_get_string(file, "md5", 64);
        if (md5_is_valid(md5)) {
                p->md5 = strdup(md5);
                if (!p->md5)
                        return -ENOMEM;
        } else {
                /* the md5 names the file on disk: without a trustworthy one the
                 * post is handled like one the site hides */
                p->file_url = mfree(p->file_url);
                p->sample_url = mfree(p->sample_url);
                p->preview_url = mfree(p->preview_url);
        }

        const char *rating = json_get_string(o, "rating", 16);
        if (rating && (streq(rating, "s") || streq(rating, "q") || streq(rating, "e")))
                p->rating = rating[0];

        score = json_get_object(o, "score");
        p->score_up = small_int(score, "up");
        p->score_down = small_int(score, "down");
        p->score_total = small_int(score, "total");
        if (json_get_int64(o, "fav_count", 0, 100000000, &v) >= 0)
                p->fav_count = (unsigned)v;

        flags = json_get_object(o, "flags");
        p->deleted = json_get_bool(flags, "deleted", false);
        p->pending = json_get_bool(flags, "pending", false);
        p->flagged = json_get_bool(flags, "flagged", false);
        p->is_favorited = json_get_bool(o, "is_favorited", false);
        if (json_get_int64(o, "vote", -1, 1, &v) >= 0)
                p->own_vote = (int)v;

        tags = json_get_object(o, "tags");
        if (tags) {
                r = parse_tags(p, tags);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(p);
        return 0;
}

E621PostList *e621_post_list_free(E621PostList *l)
{
        if (!l)
                return NULL;
        post_array_free(l->posts, l->n_posts);
        free(l);
        return NULL;
}

static int post_list_add_json(E621PostList *l, json_object *o)
{
        Post *p = NULL;
        int64_t id;
        int r;

        if (json_get_int64(o, "id", 1, (INT64_C(1) << 53), &id) >= 0) {
                if (l->min_id == 0 || (uint64_t)id < l->min_id)
                        l->min_id = (uint64_t)id;
                if ((uint64_t)id > l->max_id)
                        l->max_id = (uint64_t)id;
        }
        l->n_entries++;
        r = e621_post_from_json(o, &p);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                l->n_invalid++;
                return 0;
        }
        l->posts[l->n_posts++] = p;
        return 0;
}

static int set_message(char **ret_message, const char *msg)
{
        if (ret_message)
                *ret_message = strdup(msg);
        return -EPROTO;
}

int e621_parse_posts(const char *body, size_t size, E621PostList **ret, char **ret_message)
{
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_(e621_post_list_freep) E621PostList *l = NULL;
        json_object *array;
        int r;

        r = json_parse_body(body, size, &root, ret_message);
        if (r < 0)
                return r;
        if (json_object_is_type(root, json_type_array))
                array = root;
        else if (!json_object_is_type(root, json_type_object) ||
                 !json_object_object_get_ex(root, "posts", &array) ||
                 !json_object_is_type(array, json_type_array))
                return set_message(ret_message, "the site's answer has no list of posts");

        size_t n = json_object_array_length(array);
        if (n > E621_POSTS_PER_PAGE_MAX)
                return set_message(ret_message, "the site sent more posts in one page than it allows");
        l = calloc(1, sizeof(E621PostList));
        if (!l)
                return -ENOMEM;
        l->posts = calloc(MAX(n, 1u), sizeof(Post *));
        if (!l->posts)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = post_list_add_json(l, json_object_array_get_idx(array, i));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int e621_parse_post_response(const char *body, size_t size, E621PostList **ret, char **ret_message)
{
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_(e621_post_list_freep) E621PostList *l = NULL;
        json_object *o;
        int r;

        r = json_parse_body(body, size, &root, ret_message);
        if (r < 0)
                return r;
        o = json_get_object(root, "post");
        if (!o)
                o = root;
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "id", NULL))
                return set_message(ret_message, "the site's answer is not a post");
        l = calloc(1, sizeof(E621PostList));
        if (!l)
                return -ENOMEM;
        l->posts = calloc(1, sizeof(Post *));
        if (!l->posts)
                return -ENOMEM;
        r = post_list_add_json(l, o);
        if (r < 0)
                return r;
        if (l->n_posts != 1)
                return set_message(ret_message, "the site's answer is not a valid post");
        *ret = TAKE_PTR(l);
        return 0;
}

int e621_parse_vote(const char *body, size_t size, E621VoteResult *ret, char **ret_message)
{
        _cleanup_(json_object_putp) json_object *root = NULL;
        int64_t our;
        int r;

        r = json_parse_body(body, size, &root, ret_message);
        if (r < 0)
                return r;
        if (!json_object_is_type(root, json_type_object) ||
            json_get_int64(root, "our_score", -1, 1, &our) < 0)
                return set_message(ret_message, "the site's answer to a vote has no valid our_score");
        *ret = (E621VoteResult){
                .score = small_int(root, "score"),
                .up = small_int(root, "up"),
                .down = small_int(root, "down"),
                .our_score = (int)our,
        };
        return 0;
}
