/* SPDX-License-Identifier: MIT */
#include <limits.h>

#include "blacklist-internal.h"

static const struct {
        const char *name;
        TermKind kind;
} metatags[] = {
        { "rating", TERM_RATING },
        { "type", TERM_TYPE },
        { "status", TERM_STATUS },
        { "fav", TERM_FAV },
        { "score", TERM_SCORE },
        { "favcount", TERM_FAVCOUNT },
        { "id", TERM_ID },
        { "width", TERM_WIDTH },
        { "height", TERM_HEIGHT },
        { "tagcount", TERM_TAGCOUNT },
        { "filesize", TERM_FILESIZE },
};

/* Known to the site, but a Post carries no uploader or pools to test them on. */
static const char *const unsupported_metatags[] = { "user", "uploader", "userid", "username", "pool" };

static const struct {
        const char *name;
        StatusKind status;
} statuses[] = {
        { "deleted", STATUS_DELETED }, { "pending", STATUS_PENDING },   { "flagged", STATUS_FLAGGED },
        { "active", STATUS_ACTIVE },   { "modqueue", STATUS_MODQUEUE }, { "any", STATUS_ANY },
};

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static char ascii_lower(char c)
{
        return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* A plain decimal integer, optionally signed; filesize also takes b/kb/mb. */
static int parse_number(const char *s, TermKind kind, int64_t *ret)
{
        uint64_t v = 0, mult = 1, limit;
        bool neg = false;
        size_t n = strlen(s);

        if (kind == TERM_FILESIZE) {
                if (n > 2 && streq(s + n - 2, "kb")) {
                        mult = 1024;
                        n -= 2;
                } else if (n > 2 && streq(s + n - 2, "mb")) {
                        mult = 1024 * 1024;
                        n -= 2;
                } else if (n > 1 && s[n - 1] == 'b') {
                        n -= 1;
                }
        }
        if (n > 0 && (s[0] == '-' || s[0] == '+')) {
                neg = s[0] == '-';
                s++;
                n--;
        }
        if (n == 0)
                return -EINVAL;
        /* INT64_MIN's magnitude is one more than INT64_MAX */
        limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (size_t i = 0; i < n; i++) {
                unsigned d = (unsigned)(s[i] - '0');
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                if (v > (limit - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (v > limit / mult)
                return -ERANGE;
        v *= mult;
        *ret = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
        return 0;
}

/* "<5", ">=5", "=5", "5", "1..5", "..5", "5.." → an inclusive [lo, hi]. */
static int parse_comparison(char *s, TermKind kind, Term *t)
{
        static const struct {
                const char *op;
                char cmp; /* '<' less, 'l' less or equal, '>' greater, 'g' greater or equal, '=' */
        } ops[] = {
                { "<=", 'l' }, { "=<", 'l' }, { ">=", 'g' }, { "=>", 'g' },
                { "==", '=' }, { "<", '<' },  { ">", '>' },  { "=", '=' },
        };
        char cmp = 0;
        int64_t v;
        char *dots;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (strneq(s, ops[i].op, strlen(ops[i].op))) {
                        cmp = ops[i].cmp;
                        s += strlen(ops[i].op);
                        break;
                }

        dots = strstr(s, "..");
        if (dots) {
                char *right = dots + 2;
                int64_t lo = INT64_MIN, hi = INT64_MAX;

                if (cmp != 0 || strstr(right, "..") || (dots == s && *right == '\0'))
                        return -EINVAL;
                *dots = '\0';
                if (*s) {
                        r = parse_number(s, kind, &lo);
                        if (r < 0)
                                return r;
                }
                if (*right) {
                        r = parse_number(right, kind, &hi);
                        if (r < 0)
                                return r;
                }
                /* the site accepts the bounds in either order */
                t->lo = MIN(lo, hi);
                t->hi = MAX(lo, hi);
                return 0;
        }

        r = parse_number(s, kind, &v);
        if (r < 0)
                return r;
        t->lo = INT64_MIN;
        t->hi = INT64_MAX;
        switch (cmp) {
        case '<':
                if (v == INT64_MIN) {
                        t->lo = INT64_MAX; /* nothing is smaller: an empty range */
                        t->hi = INT64_MIN;
                } else
                        t->hi = v - 1;
                break;
        case 'l':
                t->hi = v;
                break;
        case '>':
                if (v == INT64_MAX) {
                        t->lo = INT64_MAX;
                        t->hi = INT64_MIN;
                } else
                        t->lo = v + 1;
                break;
        case 'g':
                t->lo = v;
                break;
        default:
                t->lo = t->hi = v;
        }
        return 0;
}

static bool is_word(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
                        return false;
        return true;
}

static int parse_metatag(TermKind kind, char *value, Term *t, const char **ret_reason)
{
        switch (kind) {
        case TERM_RATING:
                /* the site reads the first letter: e, explicit, and even "ex" */
                if (!is_word(value) || !strchr("sqe", value[0])) {
                        *ret_reason = "unknown rating";
                        return -EINVAL;
                }
                t->rating = value[0];
                return 0;
        case TERM_TYPE:
                if (!is_word(value)) {
                        *ret_reason = "bad file type";
                        return -EINVAL;
                }
                t->text = streq(value, "jpeg") ? "jpg" : value;
                return 0;
        case TERM_STATUS:
                for (size_t i = 0; i < ELEMENTSOF(statuses); i++)
                        if (streq(value, statuses[i].name)) {
                                t->status = statuses[i].status;
                                return 0;
                        }
                *ret_reason = "unknown status";
                return -EINVAL;
        case TERM_FAV:
                return 0; /* the site ignores the value: the post is the user's favourite */
        default:
                if (parse_comparison(value, kind, t) < 0) {
                        *ret_reason = "bad number or range";
                        return -EINVAL;
                }
                return 0;
        }
}

/* tok is lower-cased, NUL-terminated and lives as long as the rule. */
static int parse_term(char *tok, Term *t, bool *ret_optional, const char **ret_reason)
{
        bool negate = false, optional = false;
        char *colon;
        int r;

        for (; *tok == '-' || *tok == '~'; tok++) {
                bool *flag = *tok == '-' ? &negate : &optional;
                if (*flag) {
                        *ret_reason = "repeated '-' or '~'";
                        return -EINVAL;
                }
                *flag = true;
        }
        if (*tok == '\0') {
                *ret_reason = "empty term";
                return -EINVAL;
        }
        if (strlen(tok) > BLACKLIST_TERM_LEN_MAX) {
                *ret_reason = "term too long";
                return -EINVAL;
        }

        *t = (Term){ .negate = negate, .kind = TERM_TAG, .text = tok };
        colon = strchr(tok, ':');
        if (colon) {
                size_t n = (size_t)(colon - tok);

                for (size_t i = 0; i < ELEMENTSOF(unsupported_metatags); i++)
                        if (strlen(unsupported_metatags[i]) == n &&
                            strneq(tok, unsupported_metatags[i], n)) {
                                *ret_reason = "metatag needs data Fluff does not have";
                                return -EOPNOTSUPP;
                        }
                for (size_t i = 0; i < ELEMENTSOF(metatags); i++)
                        if (strlen(metatags[i].name) == n && strneq(tok, metatags[i].name, n)) {
                                t->kind = metatags[i].kind;
                                t->text = NULL;
                                r = parse_metatag(t->kind, colon + 1, t, ret_reason);
                                if (r < 0)
                                        return r;
                                *ret_optional = optional;
                                return 0;
                        }
        }
        if (strchr(tok, '*')) {
                t->kind = TERM_GLOB;
                t->prefix_len = strcspn(tok, "*");
        }
        *ret_optional = optional;
        return 0;
}

static void rule_done(Rule *rule)
{
        free(rule->text);
        free(rule->buf);
        free(rule->terms);
}

/* Warnings may travel over D-Bus, which takes only valid UTF-8: the quote is
 * cut on a character boundary and, if the rule itself is not UTF-8, its
 * non-ASCII bytes are shown as '?'. */
static int warn(Blacklist *bl, size_t line_no, const char *reason, const char *line)
{
        char quote[84], *w;
        size_t len = strlen(line), cut = MIN(len, (size_t)80);

        bl->n_skipped++;
        if (bl->n_warnings >= BLACKLIST_WARNINGS_MAX)
                return 0;
        while (cut > 0 && cut < len && ((unsigned char)line[cut] & 0xc0) == 0x80)
                cut--;
        memcpy(quote, line, cut);
        quote[cut] = '\0';
        if (!utf8_is_valid(quote, cut))
                for (size_t i = 0; i < cut; i++)
                        if ((unsigned char)quote[i] >= 0x80)
                                quote[i] = '?';
        if (asprintf(&w, "line %zu: %s: \"%s%s\"", line_no, reason, quote, cut < len ? "…" : "") < 0)
                return -ENOMEM;
        if (strv_push(&bl->warnings, w) < 0)
                return -ENOMEM;
        bl->n_warnings++;
        return 0;
}

/* Copies src (already trimmed) to dst, each run of whitespace as one space. */
static void squeeze_spaces(char *dst, const char *src)
{
        while (*src) {
                if (is_space(*src)) {
                        while (is_space(*src))
                                src++;
                        *dst++ = ' ';
                } else
                        *dst++ = *src++;
        }
        *dst = '\0';
}

/* line is an owned, NUL-terminated copy that this function may modify. */
static int parse_line(Blacklist *bl, char *line, size_t line_no)
{
        _cleanup_free_ char *buf = NULL, *text = NULL;
        _cleanup_free_ Term *terms = NULL;
        const char *reason = NULL;
        size_t n_tokens = 0, n_req = 0, n_opt = 0, len;
        char *s, *e;

        /* trim, skip comments, cut a trailing " #…", lower-case */
        for (s = line; is_space(*s); s++)
                ;
        if (*s == '\0' || *s == '#')
                return 0;
        for (e = s; *e; e++) {
                if (is_space(*e) && e[1] == '#')
                        break;
                *e = ascii_lower(*e);
        }
        while (e > s && is_space(e[-1]))
                e--;
        *e = '\0';

        /* the canonical text, terms joined by single spaces, and its token copy */
        len = (size_t)(e - s);
        text = malloc(len + 1);
        if (!text)
                return -ENOMEM;
        squeeze_spaces(text, s);
        buf = strdup(text);
        if (!buf)
                return -ENOMEM;
        for (char *c = buf; *c; c++)
                if (*c == ' ')
                        n_tokens++;
        n_tokens++;

        if (bl->n_rules >= BLACKLIST_RULES_MAX)
                return warn(bl, line_no, "too many rules", text);
        if (n_tokens > BLACKLIST_TERMS_MAX)
                return warn(bl, line_no, "too many terms", text);
        /* the site's tags are UTF-8: such a rule was mangled on the way */
        if (!utf8_is_valid(text, strlen(text)))
                return warn(bl, line_no, "not UTF-8", text);

        terms = calloc(n_tokens, sizeof(Term));
        if (!terms)
                return -ENOMEM;
        /* required terms fill from the front, optional ones from the back */
        for (char *tok = buf, *next; tok; tok = next) {
                Term t;
                bool optional;

                next = strchr(tok, ' ');
                if (next)
                        *next++ = '\0';
                if (parse_term(tok, &t, &optional, &reason) < 0)
                        return warn(bl, line_no, reason, text);
                if (optional)
                        terms[n_tokens - 1 - n_opt++] = t;
                else
                        terms[n_req++] = t;
        }

        if (bl->n_rules == bl->n_allocated) {
                size_t n = MAX(bl->n_allocated * 2, (size_t)16);
                Rule *rules = realloc(bl->rules, sizeof(Rule) * n);
                if (!rules)
                        return -ENOMEM;
                bl->rules = rules;
                bl->n_allocated = n;
        }
        bl->rules[bl->n_rules++] = (Rule){
                .text = TAKE_PTR(text),
                .buf = TAKE_PTR(buf),
                .terms = TAKE_PTR(terms),
                .n_required = n_req,
                .n_optional = n_opt,
        };
        return 0;
}

int blacklist_parse(const char *text, Blacklist **ret)
{
        _cleanup_blacklist_free_ Blacklist *bl = NULL;
        size_t line_no = 0;
        int r;

        bl = calloc(1, sizeof(Blacklist));
        if (!bl)
                return -ENOMEM;

        for (const char *p = text ? text : ""; *p;) {
                const char *eol = strchrnul(p, '\n');
                _cleanup_free_ char *line = strndup(p, (size_t)(eol - p));

                if (!line)
                        return -ENOMEM;
                r = parse_line(bl, line, ++line_no);
                if (r < 0)
                        return r;
                p = *eol ? eol + 1 : eol;
        }
        *ret = TAKE_PTR(bl);
        return 0;
}

Blacklist *blacklist_free(Blacklist *bl)
{
        if (!bl)
                return NULL;
        for (size_t i = 0; i < bl->n_rules; i++)
                rule_done(&bl->rules[i]);
        free(bl->rules);
        strv_free(bl->warnings);
        free(bl);
        return NULL;
}

size_t blacklist_n_rules(const Blacklist *bl)
{
        return bl ? bl->n_rules : 0;
}

const char *blacklist_rule_text(const Blacklist *bl, size_t i)
{
        return bl && i < bl->n_rules ? bl->rules[i].text : NULL;
}

size_t blacklist_n_skipped(const Blacklist *bl)
{
        return bl ? bl->n_skipped : 0;
}

char *const *blacklist_warnings(const Blacklist *bl)
{
        return bl ? bl->warnings : NULL;
}
