/* SPDX-License-Identifier: MIT */
#pragma once

/* Logging in and out. A login is checked with the site before it is kept:
 * login_start() asks, and done() follows once the site has accepted or
 * refused the key (the Login call's reply waits for it). While a check runs,
 * the session says so (Session.checking), and a Sync may not start. */

#include <stdbool.h>

#include "fluff/error.h"

typedef struct Context Context;
typedef struct JobRunner JobRunner;
typedef struct Login Login;
typedef struct Outbox Outbox;

int login_new(Context *ctx, Outbox *outbox, JobRunner *runner, Login **ret);
/* Drops a pending check: its done() never comes, destroy() does. NULL-safe. */
Login *login_free(Login *l);

/* r == 0: logged in (saved when remember); else r < 0 and message says why
 * (-EKEYREJECTED refused, -ENETUNREACH site unreachable, ...). */
typedef void (*LoginDone)(void *userdata, int r, const char *message);
/* Starts checking; < 0 with error set when refused at once (-EINVAL a
 * malformed name or key, -EBUSY a check or sync in progress). On success
 * done() and then destroy() follow, or destroy() alone when fluffd stops. */
int login_start(Login *l, const char *username, const char *api_key, bool remember, LoginDone done,
                void (*destroy)(void *userdata), void *userdata, Error *error);

/* Ends the session and cancels a running sync; forget also deletes the
 * saved credentials. */
int login_logout(Login *l, bool forget, Error *error);
