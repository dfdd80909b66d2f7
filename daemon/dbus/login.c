/* SPDX-License-Identifier: MIT */
/* Manager.Login, Manager.Logout. Login answers only once the site has
 * accepted or refused the key: the call's message is kept until then. */
#include "dbus/bus.h"
#include "login/login.h"

static void on_login_done(void *userdata, int r, const char *message)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *call = userdata;

        if (r < 0) {
                (void)fluff_bus_error_set_errnof(&e, r, "%s", message ?: strerror(-r));
                r = sd_bus_reply_method_error(call, &e);
        } else
                r = sd_bus_reply_method_return(call, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to answer Login, ignoring: %m");
}

static void call_unref(void *userdata)
{
        sd_bus_message_unref(userdata);
}

int method_login(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        const char *username, *api_key;
        Error e = {};
        int remember, r;

        r = sd_bus_message_read(m, "ssb", &username, &api_key, &remember);
        if (r < 0)
                return r;
        /* The reply follows once the site has answered. */
        r = login_start(s->f.login, username, api_key, remember, on_login_done, call_unref,
                        sd_bus_message_ref(m), &e);
        if (r < 0) {
                sd_bus_message_unref(m);
                return bus_error_from(error, r, &e);
        }
        return 1;
}

int method_logout(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        Error e = {};
        int forget, r;

        r = sd_bus_message_read(m, "b", &forget);
        if (r < 0)
                return r;
        r = login_logout(s->f.login, forget, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        return sd_bus_reply_method_return(m, NULL);
}
