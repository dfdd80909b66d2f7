/* SPDX-License-Identifier: MIT */
#pragma once

/* What every Fluff client needs to talk to fluffd: a connection, typed
 * property reads and one way to report a failed call. */

#include <systemd/sd-bus.h>

#include "fluff/util.h"

/* Connects to the session bus and registers the Fluff error names. Logs. */
int bus_connect_user(sd_bus **ret);

/* Logs "Failed to <what>: <message>" once, naming the bus error's message and
 * explaining the usual cause (fluffd not running). Returns r. */
int bus_log_call_error(const char *what, const sd_bus_error *error, int r);

/* Walks the a{sv} at the message's position: for each entry, f gets its key
 * with the message at the entry's variant, which f reads or skips. A
 * negative return of f stops the walk. */
int bus_message_read_dict(sd_bus_message *m, int (*f)(sd_bus_message *m, const char *key, void *userdata),
                          void *userdata);

typedef struct BusPropertyMap {
        const char *name;
        const char *signature; /* "s", "o", "b", "t", "u", "ao" or "as" */
        size_t offset; /* char * for s/o, bool for b, uint64_t for t, unsigned for u, char ** for ao/as */
} BusPropertyMap;

/* Reads a{sv} at the message's position into userdata through the map;
 * properties missing from the map are skipped, so old clients keep working
 * when the daemon grows. */
int bus_message_map_properties(sd_bus_message *m, const BusPropertyMap map[], void *userdata);

/* GetAll on path/interface of fluffd, through the map. */
int bus_get_properties(sd_bus *bus, const char *path, const char *interface, const BusPropertyMap map[],
                       void *userdata, sd_bus_error *error);
