/* SPDX-License-Identifier: MIT */
#pragma once

/* Turning the site's JSON (and its HTML error pages) into Fluff's types. Used by
 * the client; public so tests and tools can feed it bodies directly. Every
 * function takes a body of known size (not necessarily NUL-terminated), bounds
 * what it copies, and fails with -EPROTO and a message for bodies that are not
 * what the site sends. Unknown fields are ignored; missing ones stay 0/NULL. */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "e621.h"

#define E621_TAG_MAX 256u /* bytes of one tag name or category */
#define E621_TAGS_PER_POST_MAX 4096u
#define E621_POSTS_PER_PAGE_MAX 1000u
#define E621_DIMENSION_MAX 100000u /* pixels per side; larger is treated as unknown (0) */
#define E621_FILE_SIZE_MAX (UINT64_C(1) << 40)
#define E621_BLACKLIST_MAX (64u * 1024u)
#define E621_MESSAGE_MAX 200u /* characters of a site message passed on */

E621PostList *e621_post_list_free(E621PostList *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(E621PostList *, e621_post_list_free);

/* {"posts":[…]} (a search) — also accepts a bare array. */
int e621_parse_posts(const char *body, size_t size, E621PostList **ret, char **ret_message);
/* {"post":{…}} (one post) — also accepts the bare object. */
int e621_parse_post_response(const char *body, size_t size, E621PostList **ret, char **ret_message);

/* A user object. The strings of *ret point into *ret_storage, which the caller
 * frees with e621_user_storage_free(). */
typedef struct E621UserStorage E621UserStorage;
int e621_parse_user(const char *body, size_t size, E621User *ret, E621UserStorage **ret_storage,
                    char **ret_message);
E621UserStorage *e621_user_storage_free(E621UserStorage *s);

/* {"score":…,"up":…,"down":…,"our_score":…} */
int e621_parse_vote(const char *body, size_t size, E621VoteResult *ret, char **ret_message);

/* A short, single-line, human message from an error body: the "message" or
 * "reason" of a JSON body, or the title/text of an HTML page with the tags
 * stripped, capped at E621_MESSAGE_MAX characters. NULL (and 0) when the body
 * says nothing useful. */
int e621_error_body_message(const char *content_type, const char *body, size_t size, char **ret);

/* true when content_type names JSON ("application/json", parameters allowed). */
bool e621_content_type_is_json(const char *content_type);

/* ISO 8601 "2024-03-01T12:34:56.789-05:00" (or Z, or ±hhmm) → Unix seconds. */
int e621_parse_time(const char *s, int64_t *ret);

/* A Retry-After value (delta seconds or an HTTP date, relative to now) in
 * seconds, at most a day; 0 when absent, past or unreadable. */
unsigned e621_parse_retry_after(const char *value, time_t now);

/* http(s) URL, bounded length, no whitespace or control characters. */
bool e621_url_is_valid(const char *url);
