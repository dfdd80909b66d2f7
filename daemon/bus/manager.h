/* SPDX-License-Identifier: MIT */
#pragma once

/* The io.github.fluffml.Fluff1.Manager interface on /io/github/fluffml/Fluff1.
 * Core code announces changes through the emit helpers and never builds bus
 * messages itself. */

#include <systemd/sd-bus.h>

typedef struct Daemon Daemon;

int bus_manager_register(Daemon *d);

void manager_emit_session_changed(Daemon *d); /* LoggedIn, Username */
void manager_emit_counts_changed(Daemon *d);  /* the dataset counts */
void manager_emit_jobs_changed(Daemon *d);    /* Jobs, Busy */

/* Refuses callers that are not our own user (the session bus is per user,
 * but a misconfigured or shared bus must not hand out the dataset).
 * Returns 0 when allowed, < 0 with error set otherwise. */
int bus_check_caller(sd_bus_message *m, sd_bus_error *error);
