/* SPDX-License-Identifier: MIT */
#pragma once

/* The one context of fluffd: it owns the event loop, the bus connection and
 * every piece of state, and daemon_free() tears them down in reverse order. */

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "fluff/util.h"

#include "store.h"

typedef struct BackboneService BackboneService;
typedef struct Config Config;
typedef struct E621Client E621Client;
typedef struct Job Job;
typedef struct LoginRequest LoginRequest;
typedef struct TasteService TasteService;
typedef struct Outbox Outbox;
typedef struct WorkPool WorkPool;

typedef struct Daemon {
        sd_event *event; /* owned */
        sd_bus *bus;     /* owned */
        sd_bus_slot *manager_slot, *job_slot, *job_enum_slot; /* owned */
        sd_bus_slot *backbone_slot;                           /* owned */
        sd_bus_slot *taste_slot;                              /* owned */
        sd_bus_slot *predict_slot;                            /* owned */
        sd_bus_slot *watch_slot;                              /* owned */
        sd_bus_slot *review_slot;                             /* owned */

        WorkPool *work;     /* owned */
        Config *config;     /* owned */
        Store *store;       /* owned */
        E621Client *e621;   /* owned */
        char *images_dir;   /* owned; $XDG_DATA_HOME/fluff/images */
        BackboneService *backbone; /* owned */
        TasteService *taste;       /* owned; the taste model */
        StoreCounts counts; /* as last announced */

        char *site; /* owned; base URL of the e621 site (from the config) */
        LoginRequest *login; /* owned; the Login call being checked, if any */
        Outbox *outbox;      /* owned; sends the queued votes */

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

/* Takes a checked login: sets it on the e621 client, saves or forgets the
 * credentials file, announces the change. */
int daemon_set_session(Daemon *d, const char *username, const char *api_key, bool remember);
/* Ends the session; forget also deletes the saved credentials. */
int daemon_logout(Daemon *d, bool forget);
/* Re-reads the dataset counts and announces them when they changed. */
void daemon_refresh_counts(Daemon *d);

bool daemon_logged_in(const Daemon *d);

/* The job of the given kind that has not finished yet, or NULL. */
Job *daemon_find_active_job(Daemon *d, const char *kind);
