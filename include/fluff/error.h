/* SPDX-License-Identifier: MIT */
#pragma once

/* The one way Fluff carries an error message up: the function returns a
 * negative errno, and the sentence meant for the user goes into an Error the
 * caller owns (or nowhere, when the caller passes NULL). The buffer is fixed,
 * so setting it never fails and nothing needs freeing; like sd_bus_error, the
 * first message set is kept, since it is the one closest to the cause. */

#include "fluff/util.h"

#define ERROR_MESSAGE_MAX 1024

typedef struct Error {
        char message[ERROR_MESSAGE_MAX];
} Error;

/* Sets e's message (unless e is NULL or already set), made valid UTF-8
 * without control characters; returns -abs(r). */
int error_setf(Error *e, int r, const char *fmt, ...) _printf_(3, 4);
int error_set_errno(Error *e, int r); /* the message is strerror(r) */
bool error_is_set(const Error *e);
/* The message, or strerror(r) when none was set. */
const char *error_message(const Error *e, int r);
