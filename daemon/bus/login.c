/* SPDX-License-Identifier: MIT */
#include "bus/login.h"
#include "credentials.h"
#include "daemon.h"
#include "e621.h"
#include "fluff/bus.h"

struct LoginRequest {
        Daemon *daemon;       /* borrowed */
        sd_bus_message *call; /* owned ref; answered when the site replies */
        E621Request *request; /* borrowed handle, valid until its callback */
        char *username;       /* owned */
        char *api_key;        /* owned, wiped */
        bool remember;
        /* The session before the check, restored when the site refuses. */
        char *old_username;   /* owned */
        char *old_api_key;    /* owned, wiped */
};

LoginRequest *login_request_free(LoginRequest *l)
{
        if (!l)
                return NULL;
        e621_request_cancel(l->request);
        sd_bus_message_unref(l->call);
        free(l->username);
        erase_and_free(l->api_key);
        free(l->old_username);
        erase_and_free(l->old_api_key);
        free(l);
        return NULL;
}

static void login_restore(LoginRequest *l)
{
        /* The old session, or anonymous: never leave the refused key in use. */
        int r = e621_client_set_credentials(l->daemon->e621, l->old_username, l->old_api_key);
        if (r < 0)
                (void)e621_client_set_credentials(l->daemon->e621, NULL, NULL);
}

static void on_user(int error, const char *message, const E621User *user, void *userdata)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        LoginRequest *l = userdata;
        Daemon *d = l->daemon;
        int r = 0;

        l->request = NULL;
        d->login = NULL;

        switch (error) {
        case 0:
                r = daemon_set_session(d, l->username, l->api_key, l->remember);
                if (r < 0) {
                        login_restore(l);
                        log_error_errno(r, "Failed to keep the login of \"%s\": %m", l->username);
                        (void)fluff_bus_error_set_errnof(&e, r, "The site accepted the key, but %s failed: %s",
                                                          l->remember ? "saving it" : "setting up the session",
                                                          strerror(-r));
                } else
                        r = sd_bus_reply_method_return(l->call, NULL);
                break;
        case -EKEYREJECTED:
                login_restore(l);
                log_notice("The site rejected the login of \"%s\".", l->username);
                (void)sd_bus_error_setf(&e, FLUFF_ERROR_AUTH_FAILED,
                                        "%s rejected the username \"%s\" or its API key. Check the key in your "
                                        "account settings (Manage API Access) and that you typed the username "
                                        "as the site spells it.",
                                        d->site, l->username);
                break;
        case -ENETUNREACH:
                login_restore(l);
                log_notice("Could not reach %s to check the login: %s", d->site, strna(message));
                (void)sd_bus_error_setf(&e, FLUFF_ERROR_NETWORK,
                                        "Could not reach %s to check the key: %s. Check your network and try again.",
                                        d->site, message ?: "no answer");
                break;
        default:
                login_restore(l);
                log_notice("Checking the login of \"%s\" failed: %s", l->username, strna(message));
                (void)fluff_bus_error_set_errnof(&e, error, "Could not check the key with %s: %s", d->site,
                                                 message ?: strerror(-error));
        }
        if (sd_bus_error_is_set(&e))
                r = sd_bus_reply_method_error(l->call, &e);
        if (r < 0)
                log_debug_errno(r, "Failed to answer Login, ignoring: %m");
        login_request_free(l);
}

int login_request_start(Daemon *d, sd_bus_message *m, const char *username, const char *api_key, bool remember,
                        sd_bus_error *error)
{
        LoginRequest *l;
        int r;

        /* The messages quote the name but never the key, not even a bad one. */
        if (!credentials_username_valid(username))
                return sd_bus_error_setf(error, FLUFF_ERROR_INVALID_ARGUMENT,
                                         "\"%.64s\" is not a valid username (1 to %d printable characters, no "
                                         "spaces or ':').",
                                         username, CREDENTIALS_USERNAME_MAX);
        if (!credentials_api_key_valid(api_key))
                return sd_bus_error_setf(error, FLUFF_ERROR_INVALID_ARGUMENT,
                                         "The API key is not valid: it must be 1 to %d printable characters without "
                                         "spaces. Copy it again from your account settings.",
                                         CREDENTIALS_API_KEY_MAX);
        if (d->login)
                return sd_bus_error_set(error, FLUFF_ERROR_BUSY,
                                        "Another login is being checked; wait for it to finish.");
        if (daemon_find_active_job(d, "sync"))
                return sd_bus_error_set(error, FLUFF_ERROR_BUSY,
                                        "A sync is running; cancel it or wait for it before logging in again.");

        l = calloc(1, sizeof(LoginRequest));
        if (!l)
                return -ENOMEM;
        l->daemon = d;
        l->call = sd_bus_message_ref(m);
        l->remember = remember;
        l->username = strdup(username);
        l->api_key = strdup(api_key);
        if (d->username && d->api_key) {
                l->old_username = strdup(d->username);
                l->old_api_key = strdup(d->api_key);
                if (!l->old_username || !l->old_api_key) {
                        login_request_free(l);
                        return -ENOMEM;
                }
        }
        if (!l->username || !l->api_key) {
                login_request_free(l);
                return -ENOMEM;
        }

        r = e621_client_set_credentials(d->e621, username, api_key);
        if (r >= 0)
                r = e621_get_user(d->e621, username, on_user, l, &l->request);
        /* A person waits on this: one retry for a hiccup, then say so. */
        if (r >= 0)
                (void)e621_request_set_max_attempts(l->request, 2);
        if (r < 0) {
                login_restore(l);
                login_request_free(l);
                return fluff_bus_error_set_errnof(error, r, "Could not start checking the key: %s", strerror(-r));
        }
        d->login = l;
        return 1;
}
