/* SPDX-License-Identifier: MIT */
#pragma once

/* The core of fluffd: the event loop, the worker threads, the configuration,
 * the store, the site's client, the session, the dataset counts and the
 * in-process event bus. Everything above (services, jobs, the features, the
 * bus adapter) borrows these; context_free() tears them down in reverse. No
 * D-Bus here: core code announces changes as events (core/events.h). */

#include <systemd/sd-event.h>

#include "core/counts.h"
#include "core/events.h"
#include "core/session.h"
#include "fluff/util.h"

typedef struct Config Config;
typedef struct E621Client E621Client;
typedef struct Store Store;
typedef struct WorkPool WorkPool;

typedef struct Context {
        sd_event *event;  /* owned */
        WorkPool *work;   /* owned; freed first (its items borrow the services) */
        Config *config;   /* owned */
        Store *store;     /* owned */
        E621Client *e621; /* owned */
        char *data_dir;   /* owned; $XDG_DATA_HOME/fluff */
        char *images_dir; /* owned; $XDG_DATA_HOME/fluff/images */
        char *site;       /* owned; base URL of the e621 site (from the config) */
        Events *events;   /* owned */
        Session session;
        Counts counts;
} Context;

/* The loop (SIGTERM/SIGINT, watchdog), the worker threads, the config, the
 * images folder, the store, the site's client and the saved login. */
int context_new(Context **ret);
Context *context_free(Context *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Context *, context_free);
