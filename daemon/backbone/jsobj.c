/* SPDX-License-Identifier: MIT */
#include <ctype.h>

#include "jsobj.h"

/* Nesting in a Keras topology is about ten deep; this bounds the recursion
 * on hostile input. */
#define JSOBJ_MAX_DEPTH 64

typedef struct Buf {
        char *p;
        size_t n, cap;
} Buf;

static int buf_put(Buf *b, const char *s, size_t n)
{
        if (b->n + n + 1 > b->cap) {
                size_t cap = MAX(b->cap * 2, b->n + n + 1 + 4096);
                char *p = realloc(b->p, cap);
                if (!p)
                        return -ENOMEM;
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n] = '\0';
        return 0;
}

static int buf_puts(Buf *b, const char *s)
{
        return buf_put(b, s, strlen(s));
}

typedef struct Lexer {
        const char *s;
        size_t len, pos;
        Buf out;
        Error *e;
} Lexer;

static int lex_fail(Lexer *l, const char *what)
{
        return error_setf(l->e, -EBADMSG, "Model topology is not a valid object literal: %s at offset %zu",
                          what, l->pos);
}

static void skip_ws(Lexer *l)
{
        while (l->pos < l->len && isspace((unsigned char)l->s[l->pos]))
                l->pos++;
}

static bool is_ident_start(char c)
{
        return isalpha((unsigned char)c) || c == '_' || c == '$';
}

static bool is_ident(char c)
{
        return is_ident_start(c) || isdigit((unsigned char)c);
}

static int lex_string(Lexer *l)
{
        char q = l->s[l->pos++];
        int r = buf_put(&l->out, "\"", 1);

        while (r >= 0) {
                if (l->pos >= l->len)
                        return lex_fail(l, "unterminated string");
                char c = l->s[l->pos++];
                if (c == q)
                        return buf_put(&l->out, "\"", 1);
                if ((unsigned char)c < 0x20)
                        return lex_fail(l, "control character in string");
                if (c == '"') {
                        r = buf_puts(&l->out, "\\\"");
                        continue;
                }
                if (c != '\\') {
                        r = buf_put(&l->out, &c, 1);
                        continue;
                }
                if (l->pos >= l->len)
                        return lex_fail(l, "unterminated string");
                c = l->s[l->pos++];
                if (c == 'x') { /* \xHH is JavaScript only */
                        char u[8];
                        if (l->pos + 2 > l->len || !isxdigit((unsigned char)l->s[l->pos]) ||
                            !isxdigit((unsigned char)l->s[l->pos + 1]))
                                return lex_fail(l, "bad \\x escape");
                        (void)snprintf(u, sizeof(u), "\\u00%c%c", l->s[l->pos], l->s[l->pos + 1]);
                        l->pos += 2;
                        r = buf_puts(&l->out, u);
                } else if (c == '\'')
                        r = buf_put(&l->out, "'", 1);
                else if (strchr("\"\\/bfnrtu", c)) {
                        char esc[2] = {'\\', c};
                        r = buf_put(&l->out, esc, 2);
                } else
                        return lex_fail(l, "unsupported escape in string");
        }
        return r;
}

static int lex_number(Lexer *l)
{
        char num[64];
        size_t n = 0;
        bool digits = false;

        if (l->s[l->pos] == '-' || l->s[l->pos] == '+') {
                if (l->s[l->pos] == '-')
                        num[n++] = '-';
                l->pos++;
        }
        if (l->pos < l->len && l->s[l->pos] == '.')
                num[n++] = '0';
        while (l->pos < l->len && n < sizeof(num) - 3) {
                char c = l->s[l->pos];
                if (isdigit((unsigned char)c))
                        digits = true;
                else if (c == '.') {
                        /* "5." is JavaScript; JSON wants a digit after the point */
                        num[n++] = c;
                        l->pos++;
                        if (l->pos >= l->len || !isdigit((unsigned char)l->s[l->pos]))
                                num[n++] = '0';
                        continue;
                } else if (c == 'e' || c == 'E') {
                        num[n++] = c;
                        l->pos++;
                        if (l->pos < l->len && (l->s[l->pos] == '-' || l->s[l->pos] == '+'))
                                num[n++] = l->s[l->pos++];
                        continue;
                } else
                        break;
                num[n++] = c;
                l->pos++;
        }
        if (!digits || n >= sizeof(num) - 3)
                return lex_fail(l, "bad number");
        return buf_put(&l->out, num, n);
}

static int lex_value(Lexer *l, unsigned depth);

static int lex_key(Lexer *l)
{
        /* "{a:1," ends right after the comma: there is no key to read */
        if (l->pos >= l->len)
                return lex_fail(l, "unterminated object");
        char c = l->s[l->pos];
        if (c == '"' || c == '\'')
                return lex_string(l);
        if (isdigit((unsigned char)c)) { /* {0:"Drawing"} */
                size_t st = l->pos;
                while (l->pos < l->len && isdigit((unsigned char)l->s[l->pos]))
                        l->pos++;
                int r = buf_put(&l->out, "\"", 1);
                if (r >= 0)
                        r = buf_put(&l->out, l->s + st, l->pos - st);
                return r < 0 ? r : buf_put(&l->out, "\"", 1);
        }
        if (!is_ident_start(c))
                return lex_fail(l, "bad key");
        size_t st = l->pos;
        while (l->pos < l->len && is_ident(l->s[l->pos]))
                l->pos++;
        int r = buf_put(&l->out, "\"", 1);
        if (r >= 0)
                r = buf_put(&l->out, l->s + st, l->pos - st);
        return r < 0 ? r : buf_put(&l->out, "\"", 1);
}

static int lex_container(Lexer *l, unsigned depth, char open, char close)
{
        bool first = true;
        int r;

        l->pos++;
        r = buf_put(&l->out, &open, 1);
        for (;;) {
                if (r < 0)
                        return r;
                skip_ws(l);
                if (l->pos >= l->len)
                        return lex_fail(l, "unterminated object or array");
                if (l->s[l->pos] == close) {
                        l->pos++;
                        return buf_put(&l->out, &close, 1);
                }
                if (!first) {
                        if (l->s[l->pos] != ',')
                                return lex_fail(l, "expected ','");
                        l->pos++;
                        skip_ws(l);
                        if (l->pos < l->len && l->s[l->pos] == close) /* trailing comma */
                                continue;
                        r = buf_put(&l->out, ",", 1);
                        if (r < 0)
                                return r;
                }
                first = false;
                if (open == '{') {
                        r = lex_key(l);
                        if (r < 0)
                                return r;
                        skip_ws(l);
                        if (l->pos >= l->len || l->s[l->pos] != ':')
                                return lex_fail(l, "expected ':'");
                        l->pos++;
                        r = buf_put(&l->out, ":", 1);
                        if (r < 0)
                                return r;
                }
                r = lex_value(l, depth + 1);
        }
}

static bool word_at(Lexer *l, const char *w)
{
        size_t n = strlen(w);
        return l->pos + n <= l->len && memcmp(l->s + l->pos, w, n) == 0 &&
               (l->pos + n == l->len || !is_ident(l->s[l->pos + n]));
}

static int lex_value(Lexer *l, unsigned depth)
{
        static const struct {
                const char *js, *json;
        } words[] = {
                {"!0", "true"},   {"!1", "false"},    {"true", "true"},      {"false", "false"},
                {"null", "null"}, {"void 0", "null"}, {"undefined", "null"},
        };

        if (depth > JSOBJ_MAX_DEPTH)
                return lex_fail(l, "nested too deeply");
        skip_ws(l);
        if (l->pos >= l->len)
                return lex_fail(l, "value expected");
        char c = l->s[l->pos];
        if (c == '{')
                return lex_container(l, depth, '{', '}');
        if (c == '[')
                return lex_container(l, depth, '[', ']');
        if (c == '"' || c == '\'')
                return lex_string(l);
        if (isdigit((unsigned char)c) || c == '.' || c == '-' || c == '+')
                return lex_number(l);
        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                if (word_at(l, words[i].js)) {
                        l->pos += strlen(words[i].js);
                        return buf_puts(&l->out, words[i].json);
                }
        return lex_fail(l, "unsupported value (only literals are understood)");
}

int jsobj_to_json(const char *js, size_t len, char **ret_json, size_t *ret_end, Error *e)
{
        Lexer l = {.s = js, .len = len, .e = e};
        int r;

        r = lex_value(&l, 0);
        if (r < 0) {
                free(l.out.p);
                return r == -ENOMEM ? error_setf(e, r, "Out of memory") : r;
        }
        *ret_json = l.out.p;
        if (ret_end)
                *ret_end = l.pos;
        return 0;
}

int jsobj_extract_json(const char *js, size_t len, const char *key, char **ret_json, Error *e)
{
        char pat[2][128];

        (void)snprintf(pat[0], sizeof(pat[0]), "{%s:", key);
        (void)snprintf(pat[1], sizeof(pat[1]), "{\"%s\":", key);
        for (size_t i = 0; i < 2; i++) {
                const char *p = memmem(js, len, pat[i], strlen(pat[i]));
                if (p)
                        return jsobj_to_json(p, len - (size_t)(p - js), ret_json, NULL, e);
        }
        return error_setf(e, -EBADMSG, "No object with \"%s\" found in the model bundle", key);
}

static int b64_value(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int base64_decode(const char *s, size_t len, uint8_t **ret_data, size_t *ret_size)
{
        size_t pad = 0;

        while (len > 0 && s[len - 1] == '=' && pad < 2) {
                len--;
                pad++;
        }
        if (len % 4 == 1 || (pad && (len + pad) % 4 != 0))
                return -EBADMSG;
        _cleanup_free_ uint8_t *out = malloc(len / 4 * 3 + 3);
        if (!out)
                return -ENOMEM;
        size_t n = 0;
        uint32_t acc = 0;
        unsigned bits = 0;
        for (size_t i = 0; i < len; i++) {
                int v = b64_value((unsigned char)s[i]);
                if (v < 0)
                        return -EBADMSG;
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[n++] = (uint8_t)(acc >> bits);
                }
        }
        /* the bits left over must be zero, or the string was cut mid-byte */
        if (acc & ((1u << bits) - 1))
                return -EBADMSG;
        *ret_data = TAKE_PTR(out);
        *ret_size = n;
        return 0;
}

int jsobj_extract_base64(const char *js, size_t len, uint8_t **ret_data, size_t *ret_size, Error *e)
{
        static const char pat[] = ".exports=\"";
        const char *p = memmem(js, len, pat, strlen(pat));
        if (!p)
                return error_setf(e, -EBADMSG, "No exported weight string found in the weight bundle");
        p += strlen(pat);
        const char *end = memchr(p, '"', len - (size_t)(p - js));
        if (!end)
                return error_setf(e, -EBADMSG, "The weight string in the weight bundle is truncated");
        int r = base64_decode(p, (size_t)(end - p), ret_data, ret_size);
        if (r == -EBADMSG)
                return error_setf(e, r, "The weight string in the weight bundle is not valid base64");
        if (r < 0)
                return error_setf(e, r, "Out of memory decoding the weights");
        return 0;
}
