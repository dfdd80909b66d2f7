/* SPDX-License-Identifier: MIT */
#include "blacklist-internal.h"

#define STACK_TAGS 512

/* The post's tag names, sorted once per post so that each exact term is a
 * binary search and each "abc*" term a narrow range, whatever the rule count.
 * names is NULL when a large post's array could not be allocated: then every
 * lookup scans the post (slower, never wrong). */
typedef struct TagView {
        const Post *post;
        const char **names;
        size_t n;
} TagView;

static int cmp_name(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Only '*' is special; the classic greedy match with one backtrack point. */
static bool glob_match(const char *pat, const char *s)
{
        const char *star = NULL, *resume = NULL;

        while (*s) {
                if (*pat == '*') {
                        star = pat++;
                        resume = s;
                } else if (*pat == *s) {
                        pat++;
                        s++;
                } else if (star) {
                        pat = star + 1;
                        s = ++resume;
                } else
                        return false;
        }
        while (*pat == '*')
                pat++;
        return *pat == '\0';
}

/* First index whose name is >= key (or, with prefix_len, whose first
 * prefix_len bytes are >= key's). */
static size_t lower_bound(const TagView *v, const char *key, size_t prefix_len)
{
        size_t lo = 0, hi = v->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = prefix_len ? strncmp(v->names[mid], key, prefix_len) : strcmp(v->names[mid], key);
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static bool has_tag(const TagView *v, const char *name)
{
        size_t i;

        if (!v->names) {
                for (i = 0; i < v->post->n_tags; i++)
                        if (v->post->tags[i].name && streq(v->post->tags[i].name, name))
                                return true;
                return false;
        }
        i = lower_bound(v, name, 0);
        return i < v->n && streq(v->names[i], name);
}

static bool has_glob(const TagView *v, const Term *t)
{
        if (!v->names) {
                for (size_t i = 0; i < v->post->n_tags; i++)
                        if (v->post->tags[i].name && glob_match(t->text, v->post->tags[i].name))
                                return true;
                return false;
        }
        /* sorted names sharing the literal prefix are contiguous */
        for (size_t i = t->prefix_len ? lower_bound(v, t->text, t->prefix_len) : 0; i < v->n; i++) {
                if (t->prefix_len && !strneq(v->names[i], t->text, t->prefix_len))
                        break;
                if (glob_match(t->text, v->names[i]))
                        return true;
        }
        return false;
}

static int64_t clamp_u64(uint64_t x)
{
        return x > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)x;
}

static bool term_test(const Term *t, const TagView *v)
{
        const Post *p = v->post;
        int64_t x;

        switch (t->kind) {
        case TERM_TAG:
                return has_tag(v, t->text);
        case TERM_GLOB:
                return has_glob(v, t);
        case TERM_RATING:
                return p->rating == t->rating;
        case TERM_TYPE:
                return p->ext && strcasecmp(p->ext, t->text) == 0;
        case TERM_FAV:
                return p->is_favorited;
        case TERM_STATUS:
                switch (t->status) {
                case STATUS_DELETED:
                        return p->deleted;
                case STATUS_PENDING:
                        return p->pending;
                case STATUS_FLAGGED:
                        return p->flagged;
                case STATUS_ACTIVE:
                        return !p->deleted && !p->pending;
                case STATUS_MODQUEUE:
                        return p->pending || p->flagged;
                case STATUS_ANY:
                        return true;
                }
                return false;
        case TERM_SCORE:
                x = p->score_total;
                break;
        case TERM_FAVCOUNT:
                x = p->fav_count;
                break;
        case TERM_ID:
                x = clamp_u64(p->id);
                break;
        case TERM_WIDTH:
                x = p->width;
                break;
        case TERM_HEIGHT:
                x = p->height;
                break;
        case TERM_TAGCOUNT:
                x = clamp_u64(p->n_tags);
                break;
        case TERM_FILESIZE:
                x = clamp_u64(p->file_size);
                break;
        default:
                return false;
        }
        return x >= t->lo && x <= t->hi;
}

static bool rule_match(const Rule *rule, const TagView *v)
{
        for (size_t i = 0; i < rule->n_required; i++)
                if (term_test(&rule->terms[i], v) == rule->terms[i].negate)
                        return false;
        if (rule->n_optional == 0)
                return true;
        for (size_t i = rule->n_required; i < rule->n_required + rule->n_optional; i++)
                if (term_test(&rule->terms[i], v) != rule->terms[i].negate)
                        return true;
        return false;
}

bool blacklist_match(const Blacklist *bl, const Post *p, size_t *ret_rule)
{
        const char *stack[STACK_TAGS];
        _cleanup_free_ const char **heap = NULL;
        TagView v = { .post = p };

        if (!bl || bl->n_rules == 0 || !p)
                return false;

        if (p->n_tags <= STACK_TAGS)
                v.names = stack;
        else
                v.names = heap = malloc(sizeof(char *) * p->n_tags);
        if (v.names) {
                for (size_t i = 0; i < p->n_tags; i++)
                        if (p->tags[i].name)
                                v.names[v.n++] = p->tags[i].name;
                qsort(v.names, v.n, sizeof(char *), cmp_name);
        }

        for (size_t i = 0; i < bl->n_rules; i++)
                if (rule_match(&bl->rules[i], &v)) {
                        if (ret_rule)
                                *ret_rule = i;
                        return true;
                }
        return false;
}
