/* SPDX-License-Identifier: MIT */
#pragma once

/* json-c helpers shared by the parsers of daemon/e621 (internal). */

#include <json-c/json.h>
#include <stdbool.h>

#include "post.h"

static inline void *mfree(void *p)
{
        free(p);
        return NULL;
}

/* Parses a whole body (bounded depth, no trailing garbage); -EPROTO with a message. */
int json_parse_body(const char *body, size_t size, json_object **ret, char **ret_message);
/* -ENODATA missing, -EINVAL wrong type, -ERANGE outside [min, max]. */
int json_get_int64(json_object *parent, const char *key, int64_t min, int64_t max, int64_t *ret);
int json_int64_value(json_object *v, int64_t min, int64_t max, int64_t *ret);
bool json_get_bool(json_object *parent, const char *key, bool def);
/* A string without embedded NULs of at most max_len bytes, else NULL. */
const char *json_get_string(json_object *parent, const char *key, size_t max_len);
json_object *json_get_object(json_object *parent, const char *key);

/* -EINVAL for anything that is not a post with a valid id. */
int e621_post_from_json(json_object *o, Post **ret);
