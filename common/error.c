/* SPDX-License-Identifier: MIT */
#include <stdarg.h>

#include "fluff/error.h"
#include "fluff/text.h"

int error_setf(Error *e, int r, const char *fmt, ...)
{
        va_list ap;

        r = r < 0 ? r : -r;
        if (!e || error_is_set(e))
                return r;
        va_start(ap, fmt);
        (void)vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        /* the message ends up in a bus reply and on a terminal, and it often
         * quotes a name from a file or the site: cut on a character boundary,
         * made valid UTF-8 (sd-bus refuses anything else) without controls */
        _cleanup_free_ char *clean = text_sanitize(e->message, strlen(e->message), 0);
        if (clean) {
                size_t n = utf8_prefix_len(clean, sizeof(e->message) - 1);
                memcpy(e->message, clean, n);
                e->message[n] = '\0';
        }
        return r;
}

int error_set_errno(Error *e, int r)
{
        r = r < 0 ? r : -r;
        return error_setf(e, r, "%s", strerror(-r));
}

bool error_is_set(const Error *e)
{
        return e && e->message[0] != '\0';
}

const char *error_message(const Error *e, int r)
{
        if (error_is_set(e))
                return e->message;
        return strerror(r < 0 ? -r : r);
}
