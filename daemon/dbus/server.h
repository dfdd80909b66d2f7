/* SPDX-License-Identifier: MIT */
#pragma once

/* fluffd's D-Bus API (include/fluff/bus.h documents it): the only code of
 * fluffd that speaks sd-bus for it. It translates, never decides: a handler
 * reads the arguments, calls one function of a feature and replies; the
 * features' events (core/events.h) become signals and PropertiesChanged. */

#include "fluff/util.h"

typedef struct BackboneService BackboneService;
typedef struct BusServer BusServer;
typedef struct Context Context;
typedef struct Embed Embed;
typedef struct JobRunner JobRunner;
typedef struct Login Login;
typedef struct Outbox Outbox;
typedef struct TasteService TasteService;

/* Everything the API reaches, borrowed: all of it outlives the server's
 * objects (main.c frees the server after the jobs, before the core). */
typedef struct BusFeatures {
        Context *ctx;
        BackboneService *backbone;
        TasteService *taste;
        Outbox *outbox;
        JobRunner *runner;
        Login *login;
        Embed *embed;
} BusFeatures;

/* Subscribes to the events it announces. */
int bus_server_new(const BusFeatures *f, BusServer **ret);
BusServer *bus_server_free(BusServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(BusServer *, bus_server_free);

/* Connects to the session bus, registers the objects, takes the bus name and
 * tells systemd it is ready. */
int bus_server_start(BusServer *s);
