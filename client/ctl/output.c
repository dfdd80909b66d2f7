/* SPDX-License-Identifier: MIT */
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "fluff/util.h"
#include "output.h"

#define ELLIPSIS "\u2026"
#define GAP 2 /* spaces between columns */

void json_print(json_object *o)
{
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

unsigned output_columns(void)
{
        const char *e = getenv("COLUMNS");
        struct winsize w;
        unsigned c;

        if (e && safe_atou(e, &c) >= 0 && c > 0)
                return c;
        if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) >= 0 && w.ws_col > 0)
                return w.ws_col;
        return 0;
}

/* Display columns of UTF-8 text: one per character (tags and URLs are
 * narrow; a wide character costs at worst a ragged column). */
static size_t text_width(const char *s)
{
        size_t w = 0;
        for (; s && *s; s++)
                w += ((unsigned char)*s & 0xC0) != 0x80;
        return w;
}

char *list_fit(const char *list, unsigned width)
{
        const char *s = strempty(list);
        size_t keep = 0;

        if (text_width(s) <= width)
                return strdup(s);
        /* whole items "a, b" while "a, b, …" fits */
        for (const char *p = s; (p = strstr(p, ", ")); p += 2) {
                size_t len = (size_t)(p - s);
                char *t = strndup(s, len);
                size_t w = t ? text_width(t) : SIZE_MAX;
                free(t);
                if (w + 2 + 1 > width)
                        break;
                keep = len;
        }
        char *out;
        if (keep == 0)
                return strdup(width >= 1 ? ELLIPSIS : "");
        if (asprintf(&out, "%.*s, " ELLIPSIS, (int)keep, s) < 0)
                return NULL;
        return out;
}

struct Table {
        size_t n_columns, n_rows;
        char **headers;
        unsigned *flags;
        char ***rows;
};

int table_new(const char *const *headers, const unsigned *flags, size_t n, Table **ret)
{
        Table *t = calloc(1, sizeof(Table));
        if (!t)
                return -ENOMEM;
        t->n_columns = n;
        t->headers = calloc(n, sizeof(char *));
        t->flags = calloc(n, sizeof(unsigned));
        if (!t->headers || !t->flags)
                return table_free(t), -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                t->headers[i] = strdup(headers[i]);
                t->flags[i] = flags ? flags[i] : 0;
                if (!t->headers[i])
                        return table_free(t), -ENOMEM;
        }
        *ret = t;
        return 0;
}

Table *table_free(Table *t)
{
        if (!t)
                return NULL;
        for (size_t r = 0; r < t->n_rows; r++) {
                for (size_t i = 0; i < t->n_columns; i++)
                        free(t->rows[r][i]);
                free(t->rows[r]);
        }
        for (size_t i = 0; t->headers && i < t->n_columns; i++)
                free(t->headers[i]);
        free(t->rows);
        free(t->headers);
        free(t->flags);
        free(t);
        return NULL;
}

int table_add_row(Table *t, const char *const *cells)
{
        char ***rows = reallocarray(t->rows, t->n_rows + 1, sizeof(char **));
        if (!rows)
                return -ENOMEM;
        t->rows = rows;
        char **row = calloc(t->n_columns, sizeof(char *));
        if (!row)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_columns; i++)
                if (!(row[i] = strdup(strempty(cells[i])))) {
                        for (size_t j = 0; j < i; j++)
                                free(row[j]);
                        free(row);
                        return -ENOMEM;
                }
        t->rows[t->n_rows++] = row;
        return 0;
}

static void print_cell(const char *s, size_t width, bool right, bool last)
{
        size_t w = text_width(s), pad = width > w ? width - w : 0;
        if (right)
                printf("%*s%s", (int)pad, "", s);
        else
                printf("%s%*s", s, last ? 0 : (int)pad, "");
}

void table_print(const Table *t, unsigned width)
{
        size_t n = t->n_columns;
        _cleanup_free_ size_t *w = calloc(n, sizeof(size_t));
        _cleanup_free_ bool *shown = calloc(n, sizeof(bool));
        size_t total = 0, list = SIZE_MAX;

        if (!w || !shown)
                return;
        for (size_t i = 0; i < n; i++) {
                shown[i] = true;
                w[i] = text_width(t->headers[i]);
                for (size_t r = 0; r < t->n_rows; r++)
                        w[i] = MAX(w[i], text_width(t->rows[r][i]));
                if (t->flags[i] & COLUMN_LIST)
                        list = i;
        }
        for (size_t i = 0; i < n; i++)
                total += w[i] + (i + 1 < n ? GAP : 0);
        if (width > 0 && total > width) {
                /* first the list shrinks, down to its header; then URLs go, then optional columns */
                if (list != SIZE_MAX) {
                        size_t min = text_width(t->headers[list]) + 6, over = total - width;
                        size_t cut = MIN(over, w[list] > min ? w[list] - min : 0);
                        w[list] -= cut;
                        total -= cut;
                }
                for (size_t i = n; i-- > 0 && total > width;)
                        if (t->flags[i] & COLUMN_URL) {
                                shown[i] = false;
                                total -= w[i] + GAP;
                        }
                /* then the optional columns, from the right */
                for (size_t i = n; i-- > 0 && total > width;)
                        if (t->flags[i] & COLUMN_OPTIONAL) {
                                shown[i] = false;
                                total -= w[i] + GAP;
                        }
                /* what the dropped columns left, the list gets back */
                if (list != SIZE_MAX && total < width) {
                        size_t full = text_width(t->headers[list]);
                        for (size_t r = 0; r < t->n_rows; r++)
                                full = MAX(full, text_width(t->rows[r][list]));
                        size_t more = MIN(width - total, full - w[list]);
                        w[list] += more;
                        total += more;
                }
        }
        size_t last = 0;
        for (size_t i = 0; i < n; i++)
                if (shown[i])
                        last = i;
        for (size_t r = 0; r <= t->n_rows; r++) {
                char **cells = r == 0 ? t->headers : t->rows[r - 1];
                for (size_t i = 0; i < n; i++) {
                        if (!shown[i])
                                continue;
                        _cleanup_free_ char *cut = NULL;
                        const char *s = cells[i];
                        if (r > 0 && i == list && text_width(s) > w[i])
                                s = cut = list_fit(s, (unsigned)w[i]);
                        print_cell(strempty(s), w[i], t->flags[i] & COLUMN_RIGHT, i == last);
                        if (i != last)
                                printf("%*s", GAP, "");
                }
                putchar('\n');
        }
}

void tag_pushes_free(TagPush *p, size_t n)
{
        for (size_t i = 0; p && i < n; i++)
                free(p[i].tag);
        free(p);
}

int tag_pushes_parse(const char *s, TagPush **ret, size_t *ret_n)
{
        TagPush *p = NULL;
        size_t n = 0;

        for (const char *item = strempty(s); *item;) {
                const char *end = strstr(item, ", ");
                size_t len = end ? (size_t)(end - item) : strlen(item);
                const char *space = memrchr(item, ' ', len);
                if (space) {
                        TagPush *q = reallocarray(p, n + 1, sizeof(TagPush));
                        if (!q)
                                return tag_pushes_free(p, n), -ENOMEM;
                        p = q;
                        p[n].tag = strndup(item, (size_t)(space - item));
                        p[n].push = strtod(space + 1, NULL);
                        if (!p[n].tag)
                                return tag_pushes_free(p, n), -ENOMEM;
                        n++;
                }
                item += len + (end ? 2 : 0);
        }
        *ret = p;
        *ret_n = n;
        return 0;
}

json_object *tag_pushes_json(const TagPush *p, size_t n)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < n; i++) {
                json_object *o = json_object_new_object();
                if (!o)
                        break;
                json_object_object_add(o, "tag", json_object_new_string(p[i].tag));
                json_object_object_add(o, "push", json_object_new_double(p[i].push));
                json_object_array_add(a, o);
        }
        return a;
}
