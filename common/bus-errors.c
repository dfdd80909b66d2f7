/* SPDX-License-Identifier: MIT */
#include <stdarg.h>

#include "fluff/bus.h"
#include "fluff/util.h"

/* Errnos are picked so that each names one situation; errors that mean "the
 * network failed" in other words (ECONNREFUSED, ETIMEDOUT, ...) are folded into
 * ENETUNREACH by the e621 client before they reach the bus. */
const sd_bus_error_map fluff_bus_error_map[] = {
        SD_BUS_ERROR_MAP(FLUFF_ERROR_AUTH_FAILED, EKEYREJECTED),
        SD_BUS_ERROR_MAP(FLUFF_ERROR_NOT_LOGGED_IN, ENOKEY),
        SD_BUS_ERROR_MAP(FLUFF_ERROR_NETWORK, ENETUNREACH),
        SD_BUS_ERROR_MAP(FLUFF_ERROR_RATE_LIMITED, EAGAIN),
        SD_BUS_ERROR_MAP(FLUFF_ERROR_SITE, EPROTO),
        SD_BUS_ERROR_MAP(FLUFF_ERROR_NO_MODEL, ENOMEDIUM),
        SD_BUS_ERROR_MAP(FLUFF_ERROR_NO_VULKAN, ENODEV),
        SD_BUS_ERROR_MAP(FLUFF_ERROR_BUSY, EBUSY),
        SD_BUS_ERROR_MAP(FLUFF_ERROR_INVALID_ARGUMENT, EINVAL),
        SD_BUS_ERROR_MAP(FLUFF_ERROR_NOT_FOUND, ENOENT),
        SD_BUS_ERROR_MAP(FLUFF_ERROR_CANCELLED, ECANCELED),
        SD_BUS_ERROR_MAP(FLUFF_ERROR_NO_SPACE, ENOSPC),
        SD_BUS_ERROR_MAP(FLUFF_ERROR_NOT_ENOUGH_DATA, ENODATA),
        SD_BUS_ERROR_MAP(FLUFF_ERROR_ACCESS_DENIED, EPERM),
        SD_BUS_ERROR_MAP_END,
};

const char *fluff_bus_error_name(int error)
{
        error = error < 0 ? -error : error;
        for (const sd_bus_error_map *m = fluff_bus_error_map; m->name; m++)
                if (m->code == error)
                        return m->name;
        return NULL;
}

int fluff_bus_error_set_errnof(sd_bus_error *e, int error, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        error = error < 0 ? -error : error;
        va_start(ap, fmt);
        (void)vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        const char *name = fluff_bus_error_name(error);
        if (name)
                return sd_bus_error_set(e, name, msg);
        return sd_bus_error_set_errnof(e, error, "%s", msg);
}

int fluff_bus_error_register(void)
{
        return sd_bus_error_add_map(fluff_bus_error_map);
}
