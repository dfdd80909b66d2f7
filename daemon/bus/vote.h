/* SPDX-License-Identifier: MIT */
#pragma once

/* Manager.Vote and the outbox's properties (OutboxPending, OutboxSent,
 * OutboxFailed, OutboxLastError), listed in manager.c's vtable. */

#include <systemd/sd-bus.h>

typedef struct Daemon Daemon;

int method_vote(sd_bus_message *m, void *userdata, sd_bus_error *error);
int property_get_outbox(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error);

/* Announces the outbox properties. */
void vote_emit_outbox_changed(Daemon *d);

/* clang-format off */
#define VOTE_MANAGER_VTABLE                                                                                  \
        SD_BUS_PROPERTY("OutboxPending", "t", property_get_outbox, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),  \
        SD_BUS_PROPERTY("OutboxSent", "t", property_get_outbox, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),     \
        SD_BUS_PROPERTY("OutboxFailed", "t", property_get_outbox, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),   \
        SD_BUS_PROPERTY("OutboxLastError", "s", property_get_outbox, 0,                                      \
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),                                                \
        SD_BUS_METHOD_WITH_ARGS("Vote", SD_BUS_ARGS("t", post_id, "i", score), SD_BUS_NO_RESULT, method_vote, \
                                SD_BUS_VTABLE_UNPRIVILEGED)
/* clang-format on */
