/* SPDX-License-Identifier: MIT */
#pragma once

/* TensorFlow.js models bundled by browserify (as nsfwjs ships them) are
 * JavaScript, not JSON: the topology is an object literal with bare keys, !0/!1
 * for true/false and numbers like .03; the weights are one base64 string. These
 * helpers pull both out without running any JavaScript. */

#include "fluff/error.h"

/* Finds the object literal that starts with `{<key>:` (or `{"<key>":`) in a
 * bundle and returns it converted to strict JSON (owned). */
int jsobj_extract_json(const char *js, size_t len, const char *key, char **ret_json, Error *e);

/* Converts one JavaScript value literal (objects, arrays, strings, numbers,
 * !0/!1, true/false/null/void 0) to JSON; *ret_end is the offset after it. */
int jsobj_to_json(const char *js, size_t len, char **ret_json, size_t *ret_end, Error *e);

/* Finds the module's exported string literal (`.exports="…"`) in a bundle and
 * decodes it as strict base64. */
int jsobj_extract_base64(const char *js, size_t len, uint8_t **ret_data, size_t *ret_size, Error *e);

/* Strict RFC 4648 base64 (padding optional at the very end only). */
int base64_decode(const char *s, size_t len, uint8_t **ret_data, size_t *ret_size);
