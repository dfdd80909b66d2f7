/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <strings.h>

#include "e621-json.h"
#include "fluff/text.h"
#include "json-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

struct E621UserStorage {
        char *name;
        char *blacklisted_tags;
};

E621UserStorage *e621_user_storage_free(E621UserStorage *s)
{
        if (!s)
                return NULL;
        free(s->name);
        free(s->blacklisted_tags);
        free(s);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(E621UserStorage *, e621_user_storage_free);

int e621_parse_user(const char *body, size_t size, E621User *ret, E621UserStorage **ret_storage,
                    char **ret_message)
{
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_(e621_user_storage_freep) E621UserStorage *s = NULL;
        int64_t id;
        int r;

        r = json_parse_body(body, size, &root, ret_message);
        if (r < 0)
                return r;
        if (!json_object_is_type(root, json_type_object) ||
            json_get_int64(root, "id", 1, INT64_MAX, &id) < 0) {
                if (ret_message)
                        *ret_message = strdup("the site's answer is not a user");
                return -EPROTO;
        }
        s = calloc(1, sizeof(E621UserStorage));
        if (!s)
                return -ENOMEM;
        /* text for the bus and the terminal: valid UTF-8, no controls */
        const char *name = json_get_string(root, "name", 256);
        if (name) {
                s->name = text_sanitize(name, strlen(name), TEXT_DROP_CONTROLS);
                if (!s->name)
                        return -ENOMEM;
        }
        /* a longer blacklist than the site allows is not one we trust */
        const char *bl = json_get_string(root, "blacklisted_tags", E621_BLACKLIST_MAX);
        if (bl) {
                s->blacklisted_tags = text_sanitize(bl, strlen(bl), TEXT_KEEP_NEWLINES);
                if (!s->blacklisted_tags)
                        return -ENOMEM;
        }
        *ret = (E621User){.id = (uint64_t)id, .name = s->name, .blacklisted_tags = s->blacklisted_tags};
        *ret_storage = TAKE_PTR(s);
        return 0;
}

bool e621_content_type_is_json(const char *content_type)
{
        if (!content_type)
                return false;
        while (*content_type == ' ')
                content_type++;
        size_t n = strcspn(content_type, "; ");
        return (n == 16 && strncasecmp(content_type, "application/json", 16) == 0) ||
               (n == 20 && strncasecmp(content_type, "application/vnd.api+json", 20) == 0);
}

static bool content_type_is(const char *content_type, const char *what)
{
        size_t n = strlen(what);
        return content_type && strncasecmp(content_type, what, n) == 0;
}

/* Appends text to out (capacity cap+1), decoding the few entities error pages
 * use, folding whitespace and control characters (C0, DEL and C1: a terminal
 * acts on them) into single spaces. Bytes that are not UTF-8 are read as
 * Latin-1 (text_next_char), so out is always valid UTF-8: sd-bus refuses
 * anything else, and a captive portal's Latin-1 page must not break a reply. */
static void append_text(char *out, size_t *len, size_t cap, const char *s, size_t n)
{
        static const struct {
                const char *entity;
                char c;
        } entities[] = {{"&amp;", '&'},  {"&lt;", '<'},   {"&gt;", '>'},
                        {"&quot;", '"'}, {"&#39;", '\''}, {"&nbsp;", ' '}};

        for (size_t i = 0; i < n && *len < cap;) {
                uint32_t cp;
                size_t k = text_next_char(s + i, n - i, &cp);
                if (cp == '&')
                        for (size_t e = 0; e < ELEMENTSOF(entities); e++) {
                                size_t el = strlen(entities[e].entity);
                                if (n - i >= el && strneq(s + i, entities[e].entity, el)) {
                                        cp = (unsigned char)entities[e].c;
                                        k = el;
                                        break;
                                }
                        }
                i += k;
                if (text_char_is_control(cp))
                        cp = ' ';
                if (cp == ' ' && (*len == 0 || out[*len - 1] == ' '))
                        continue;
                char u[4];
                size_t m = utf8_encode(cp, u);
                if (*len + m > cap) {
                        /* never half a character: the rest is padding that
                         * finish_text() drops, and the text counts as full */
                        memset(out + *len, ' ', cap - *len);
                        *len = cap;
                        break;
                }
                memcpy(out + *len, u, m);
                *len += m;
        }
        out[*len] = '\0';
}

/* Drops trailing spaces (append_text only ever writes whole characters). */
static void finish_text(char *out, size_t len)
{
        while (len > 0 && out[len - 1] == ' ')
                len--;
        out[len] = '\0';
}

static const char *find_ci(const char *s, size_t n, const char *needle)
{
        size_t m = strlen(needle);
        for (size_t i = 0; i + m <= n; i++)
                if (strncasecmp(s + i, needle, m) == 0)
                        return s + i;
        return NULL;
}

static void html_to_text(const char *body, size_t size, char *out, size_t cap)
{
        size_t len = 0;
        const char *end = body + size;

        out[0] = '\0';
        /* the title of an error page is its message: "503 Service Unavailable" */
        const char *t = find_ci(body, size, "<title");
        if (t) {
                const char *gt = memchr(t, '>', (size_t)(end - t));
                const char *close = gt ? find_ci(gt, (size_t)(end - gt), "</title") : NULL;
                if (close) {
                        append_text(out, &len, cap, gt + 1, (size_t)(close - gt - 1));
                        finish_text(out, len);
                        if (out[0])
                                return;
                }
        }
        bool in_tag = false, skip = false;
        for (const char *p = body; p < end && len < cap; p++) {
                if (!in_tag && *p == '<') {
                        in_tag = true;
                        /* script and style bodies are not a message */
                        if (find_ci(p, (size_t)MIN(end - p, 7), "<script") == p ||
                            find_ci(p, (size_t)MIN(end - p, 6), "<style") == p)
                                skip = true;
                        else if (find_ci(p, (size_t)MIN(end - p, 8), "</script") == p ||
                                 find_ci(p, (size_t)MIN(end - p, 7), "</style") == p)
                                skip = false;
                        append_text(out, &len, cap, " ", 1);
                        continue;
                }
                if (in_tag) {
                        if (*p == '>')
                                in_tag = false;
                        continue;
                }
                /* a whole text run at once, so entities are seen whole */
                const char *lt = memchr(p, '<', (size_t)(end - p));
                const char *run_end = lt ? lt : end;
                if (!skip)
                        append_text(out, &len, cap, p, (size_t)(run_end - p));
                p = run_end - 1;
        }
        finish_text(out, len);
}

int e621_error_body_message(const char *content_type, const char *body, size_t size, char **ret)
{
        char text[E621_MESSAGE_MAX + 1] = "";
        size_t len = 0;

        if (!body || size == 0) {
                *ret = NULL;
                return 0;
        }
        size_t skip = 0;
        while (skip < size && strchr(" \t\r\n", body[skip]))
                skip++;
        /* JSON under any label (a wrong Content-Type) is read as JSON, never shown raw */
        if (e621_content_type_is_json(content_type) ||
            (skip < size && (body[skip] == '{' || body[skip] == '['))) {
                _cleanup_(json_object_putp) json_object *root = NULL;
                if (json_parse_body(body, size, &root, NULL) >= 0) {
                        const char *m = json_get_string(root, "message", 4096);
                        if (isempty(m))
                                m = json_get_string(root, "reason", 4096);
                        if (isempty(m))
                                m = json_get_string(root, "error", 4096);
                        if (!isempty(m)) {
                                append_text(text, &len, E621_MESSAGE_MAX, m, strlen(m));
                                finish_text(text, len);
                        }
                }
        } else if (content_type_is(content_type, "text/html") || find_ci(body, MIN(size, 512), "<html") ||
                   find_ci(body, MIN(size, 512), "<!doctype"))
                html_to_text(body, size, text, E621_MESSAGE_MAX);
        else if (content_type_is(content_type, "text/")) {
                append_text(text, &len, E621_MESSAGE_MAX, body, MIN(size, (size_t)E621_MESSAGE_MAX * 4));
                finish_text(text, len);
        }
        if (text[0] == '\0') {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(text);
        return *ret ? 0 : -ENOMEM;
}
