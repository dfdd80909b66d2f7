/* SPDX-License-Identifier: MIT */
#include "core/events.h"
#include "core/session.h"
#include "fluff/util.h"

bool session_logged_in(const Session *s)
{
        return s->username && s->api_key;
}

int session_set(Session *s, const char *username, const char *api_key)
{
        _cleanup_free_ char *u = NULL;
        _cleanup_erase_ char *k = NULL;

        u = strdup(username);
        k = strdup(api_key);
        if (!u || !k)
                return -ENOMEM;
        free(s->username);
        s->username = TAKE_PTR(u);
        erase_and_free(s->api_key);
        s->api_key = TAKE_PTR(k);
        events_emit(s->events, EVENT_SESSION_CHANGED, NULL);
        return 0;
}

bool session_clear(Session *s)
{
        bool was = session_logged_in(s);

        session_done(s);
        if (was)
                events_emit(s->events, EVENT_SESSION_CHANGED, NULL);
        return was;
}

void session_done(Session *s)
{
        free(s->username);
        s->username = NULL;
        erase_and_free(s->api_key);
        s->api_key = NULL;
}
