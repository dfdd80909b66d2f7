/* SPDX-License-Identifier: MIT */
#pragma once

/* Manager.Login answers only once the site has accepted or refused the key:
 * the call's message is kept and replied to from the e621 callback. */

#include <stdbool.h>
#include <systemd/sd-bus.h>

typedef struct Daemon Daemon;
typedef struct LoginRequest LoginRequest;

/* Starts checking; on success the reply is sent later. Returns < 0 with
 * error set when the call is refused at once. */
int login_request_start(Daemon *d, sd_bus_message *m, const char *username, const char *api_key, bool remember,
                        sd_bus_error *error);
/* Drops a pending check without replying (fluffd is stopping). NULL-safe. */
LoginRequest *login_request_free(LoginRequest *l);
