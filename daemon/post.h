/* SPDX-License-Identifier: MIT */
#pragma once

/* One e621 post as Fluff sees it: what the e621 client parses, the store keeps
 * and the model reads. Strings are owned. */

#include <stdbool.h>
#include <stdint.h>

#include "fluff/util.h"

typedef struct PostTag {
        char *name;     /* as the site spells it, e.g. "blue_eyes" */
        char *category; /* the key it came under: "general", "artist", "species", ... (new ones appear) */
} PostTag;

typedef struct Post {
        uint64_t id;
        char *md5;          /* 32 lowercase hex digits, checked by the parser; NULL when the site hides it */
        char *ext;          /* "jpg", "png", "gif", "webm", "mp4", "swf", ... */
        char rating;        /* 's', 'q' or 'e' */
        int64_t created_at; /* Unix seconds */
        unsigned width, height;
        uint64_t file_size; /* bytes of the original file */
        char *file_url;     /* NULL when the post is not visible to the requester */
        char *sample_url;   /* NULL when there is no sample */
        unsigned sample_width, sample_height;
        char *preview_url;
        int score_up, score_down, score_total; /* score_down <= 0, as the site reports it */
        unsigned fav_count;
        bool deleted, pending, flagged;
        bool is_favorited; /* by the logged-in user, when the site says */
        int own_vote;      /* -1, 0, +1 for the logged-in user, when the site says */
        PostTag *tags;
        size_t n_tags;
        bool packed; /* post_pack(): tags and their strings in one block, read-only */
} Post;

Post *post_free(Post *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Post *, post_free);
#define _cleanup_post_free_ _cleanup_(post_freep)

/* Frees every post of an array and the array. */
void post_array_free(Post **posts, size_t n);

/* Adds a tag; the strings are copied. -EPERM on a packed post. */
int post_add_tag(Post *p, const char *name, const char *category);

/* For a holder of very many posts (a training reads every labelled post):
 * moves the tags and their strings into one allocation, each category
 * once, and drops the URLs (post_image_url() is NULL after). A post of 30
 * tags goes from ~3 KB of heap to ~1 KB. The tags are read-only after. */
int post_pack(Post *p);
bool post_has_tag(const Post *p, const char *name);

/* Video, Flash or an animated GIF/PNG (by extension or the "animated" tag). */
bool post_is_animated(const Post *p);

/* The URL to download for a square crop: the sample when there is one, else the
 * original for still images. NULL when neither is usable. */
const char *post_image_url(const Post *p);
