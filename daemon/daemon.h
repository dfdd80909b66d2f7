/* SPDX-License-Identifier: MIT */
#pragma once

/* The one context of fluffd: it owns the event loop, the bus connection and
 * every piece of state, and daemon_free() tears them down in reverse order. */

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "fluff/util.h"

typedef struct Job Job;
typedef struct WorkPool WorkPool;

typedef struct Daemon {
        sd_event *event; /* owned */
        sd_bus *bus;     /* owned */
        sd_bus_slot *manager_slot, *job_slot, *job_enum_slot; /* owned */

        WorkPool *work; /* owned */

        char *site; /* owned; base URL of the e621 site */

        /* The session. The key is wiped when replaced and never leaves the
         * daemon except inside the Authorization header. */
        char *username; /* owned, NULL when logged out */
        char *api_key;  /* owned, NULL when logged out */

        Job *jobs; /* owned list, newest first */
        uint64_t next_job_id;
} Daemon;

int daemon_new(Daemon **ret);
Daemon *daemon_free(Daemon *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(Daemon *, daemon_free);

/* Connects to the session bus, registers the objects, takes the bus name and
 * tells systemd it is ready. */
int daemon_start(Daemon *d);
/* Runs the loop until SIGTERM/SIGINT or the bus goes away. */
int daemon_run(Daemon *d);

/* Ends the session; forget also deletes the saved credentials. */
int daemon_logout(Daemon *d, bool forget);

bool daemon_logged_in(const Daemon *d);

/* The job of the given kind that has not finished yet, or NULL. */
Job *daemon_find_active_job(Daemon *d, const char *kind);
