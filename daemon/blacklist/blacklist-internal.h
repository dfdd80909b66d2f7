/* SPDX-License-Identifier: MIT */
#pragma once

/* What blacklist-parse.c builds and blacklist-match.c reads. */

#include <stdint.h>

#include "blacklist.h"

#define BLACKLIST_RULES_MAX 65536
#define BLACKLIST_TERMS_MAX 1000
#define BLACKLIST_TERM_LEN_MAX 512
#define BLACKLIST_WARNINGS_MAX 32

typedef enum TermKind {
        TERM_TAG,  /* exact tag name */
        TERM_GLOB, /* tag name with '*' */
        TERM_RATING,
        TERM_TYPE,
        TERM_STATUS,
        TERM_FAV,
        /* numeric ones, matched against [lo, hi] */
        TERM_SCORE,
        TERM_FAVCOUNT,
        TERM_ID,
        TERM_WIDTH,
        TERM_HEIGHT,
        TERM_TAGCOUNT,
        TERM_FILESIZE,
} TermKind;

typedef enum StatusKind {
        STATUS_DELETED,
        STATUS_PENDING,
        STATUS_FLAGGED,
        STATUS_ACTIVE,
        STATUS_MODQUEUE,
        STATUS_ANY,
} StatusKind;

typedef struct Term {
        TermKind kind;
        bool negate;
        const char *text;  /* borrowed from Rule.buf: tag, glob or file extension */
        size_t prefix_len; /* glob: bytes before the first '*', used to narrow the search */
        int64_t lo, hi;    /* numeric kinds, inclusive; lo > hi matches nothing */
        char rating;
        StatusKind status;
} Term;

typedef struct Rule {
        char *text;  /* owned: the normalised line, terms joined by single spaces */
        char *buf;   /* owned: the tokenised copy the terms point into */
        Term *terms; /* owned: n_required all-of terms, then n_optional any-of terms */
        size_t n_required, n_optional;
} Rule;

struct Blacklist {
        Rule *rules;
        size_t n_rules, n_allocated;
        size_t n_skipped;
        char **warnings; /* strv, at most BLACKLIST_WARNINGS_MAX */
        size_t n_warnings;
};
