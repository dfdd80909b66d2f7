/* SPDX-License-Identifier: MIT */
#pragma once

/* Who fluffd acts for on the site. The key is wiped when replaced and never
 * leaves the daemon except inside the Authorization header. Checking a new
 * login and saving it is the login feature's work (login/); this only holds
 * the result and announces it (EVENT_SESSION_CHANGED). */

#include <stdbool.h>

typedef struct Events Events;

typedef struct Session {
        char *username; /* owned, NULL when logged out */
        char *api_key;  /* owned and wiped, NULL when logged out */
        bool checking;  /* a Login call is being checked with the site */
        Events *events; /* borrowed */
} Session;

bool session_logged_in(const Session *s);
/* Copies both and announces the change. */
int session_set(Session *s, const char *username, const char *api_key);
/* Forgets both; announces it when there was a session. Returns whether there was. */
bool session_clear(Session *s);
void session_done(Session *s); /* frees, without announcing */
