/* SPDX-License-Identifier: MIT */
#pragma once

/* fluffctl's one output layer: JSON on standard output (json-c, numbers as
 * numbers with four significant digits), and tables fitted to the terminal.
 *
 * Why not libsmartcols: its JSON cells are strings, numbers or arrays of
 * strings, while a prediction carries a list of {tag, push} objects and
 * "status" is nested objects, so json-c would be needed beside it anyway; and
 * its truncation cuts a cell at a character count, where a tag list must be
 * cut between tags ("brown_eyes +0.12, …", never "brown_eyes +"). The table
 * below is the part of it Fluff needs, in ~150 lines. */

#include <stdbool.h>
#include <stddef.h>

struct json_object;

/* Prints o (pretty, no escaped slashes) and a newline on standard output. */
void json_print(struct json_object *o);

/* The columns of the terminal standard output is on: $COLUMNS, else the
 * terminal's width; 0 (no limit) when standard output is not a terminal. */
unsigned output_columns(void);

typedef enum ColumnFlags {
        COLUMN_RIGHT = 1u << 0,    /* numbers */
        COLUMN_LIST = 1u << 1,     /* a ", "-separated list: shrinks first, cut between items with "…" */
        COLUMN_URL = 1u << 2,      /* dropped whole when there is no room left, never cut */
        COLUMN_OPTIONAL = 1u << 3, /* dropped whole after the URLs, from the right */
} ColumnFlags;

typedef struct Table Table;

/* A table with n columns named by headers (upper case, as lsblk's). */
int table_new(const char *const *headers, const unsigned *flags, size_t n, Table **ret);
Table *table_free(Table *t);
/* Adds a row of n cells (copied); NULL cells print empty. */
int table_add_row(Table *t, const char *const *cells);
/* Prints the header and rows fitted to width (0: no limit). */
void table_print(const Table *t, unsigned width);
/* The same cut on one list: the longest prefix of whole items that fits in
 * width display columns, "…" marking a cut. Returns a new string. */
char *list_fit(const char *list, unsigned width);

/* "blue_eyes +0.31, canine -0.12" (as the daemon sends top tags) → parts. */
typedef struct TagPush {
        char *tag;
        double push; /* in logit units; > 0 towards like */
} TagPush;
int tag_pushes_parse(const char *s, TagPush **ret, size_t *ret_n);
void tag_pushes_free(TagPush *p, size_t n);
/* The list as JSON: [{"tag": "blue_eyes", "push": 0.31}, ...]. */
struct json_object *tag_pushes_json(const TagPush *p, size_t n);
