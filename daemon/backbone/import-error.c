/* SPDX-License-Identifier: MIT */
#include <stdarg.h>

#include "import-error.h"

int import_error(ImportError *e, int r, const char *fmt, ...)
{
        va_list ap;

        if (e && e->msg[0] == '\0') {
                va_start(ap, fmt);
                (void)vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
                va_end(ap);
        }
        return r < 0 ? r : -r;
}
