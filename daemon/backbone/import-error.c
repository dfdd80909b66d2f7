/* SPDX-License-Identifier: MIT */
#include <stdarg.h>

#include "fluff/text.h"
#include "import-error.h"

int import_error(ImportError *e, int r, const char *fmt, ...)
{
        va_list ap;

        if (e && e->msg[0] == '\0') {
                va_start(ap, fmt);
                (void)vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
                va_end(ap);
                /* names quoted from a package or weight file end up in a bus
                 * reply: cut on a character boundary, made valid UTF-8 without
                 * controls */
                _cleanup_free_ char *clean = text_sanitize(e->msg, strlen(e->msg), 0);
                if (clean) {
                        size_t n = utf8_prefix_len(clean, sizeof(e->msg) - 1);
                        memcpy(e->msg, clean, n);
                        e->msg[n] = '\0';
                }
        }
        return r < 0 ? r : -r;
}
