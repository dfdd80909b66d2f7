/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "core/context.h"
#include "credentials.h"
#include "e621.h"
#include "jobs/runner.h"
#include "login/login.h"
#include "services/outbox.h"
#include "fluff/text.h"

typedef struct LoginRequest LoginRequest;

/* Holds what logging in and out touches, not the whole Context. */
struct Login {
        E621Client *e621;      /* borrowed; gets the key being checked, then kept */
        const char *site;      /* borrowed; the credentials file records it */
        Session *session;      /* borrowed */
        Events *events;        /* borrowed; EVENT_SESSION_CHANGED */
        Outbox *outbox;        /* borrowed; kicked after a login, stopped at logout */
        JobRunner *runner;     /* borrowed; a sync ends with its session */
        LoginRequest *pending; /* owned; the check in progress, if any */
};

struct LoginRequest {
        Login *login; /* borrowed */
        LoginDone done;
        void (*destroy)(void *userdata);
        void *userdata;       /* the caller's, until destroy() */
        E621Request *request; /* borrowed handle, valid until its callback */
        char *username;       /* owned */
        char *api_key;        /* owned, wiped */
        bool remember;
        /* The session before the check, restored when the site refuses. */
        char *old_username; /* owned */
        char *old_api_key;  /* owned, wiped */
};

static LoginRequest *login_request_free(LoginRequest *l)
{
        if (!l)
                return NULL;
        e621_request_cancel(l->request);
        if (l->destroy)
                l->destroy(l->userdata);
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
        E621Client *e621 = l->login->e621;
        int r = e621_client_set_credentials(e621, l->old_username, l->old_api_key);
        if (r < 0)
                (void)e621_client_set_credentials(e621, NULL, NULL);
}

/* Takes a checked login: sets it on the e621 client, saves or forgets the
 * credentials file, announces the change and lets the outbox send. */
static int login_accept(Login *login, const char *username, const char *api_key, bool remember)
{
        _cleanup_(credentials_freep) Credentials *creds = NULL;
        int r;

        r = credentials_new(username, api_key, &creds);
        if (r < 0)
                return r;
        /* remembered for this site only (see credentials_match_site) */
        r = credentials_set_site(creds, login->site);
        if (r < 0)
                return r;
        /* Without remember the user asked for the key to die with fluffd:
         * an older saved login must not bring it back either. */
        r = remember ? credentials_save(NULL, creds) : credentials_remove(NULL);
        if (r < 0)
                return r;
        r = e621_client_set_credentials(login->e621, username, api_key);
        if (r < 0)
                return r;
        log_info("Logged in as \"%s\"%s.", username, remember ? ", remembered" : ", until fluffd stops");
        r = session_set(login->session, username, api_key);
        if (r < 0)
                return r;
        outbox_kick(login->outbox);
        return 0;
}

static void on_user(int error, const char *message, const E621User *user, void *userdata)
{
        LoginRequest *l = userdata;
        Login *login = l->login;
        const char *site = login->site;
        char m[ERROR_MESSAGE_MAX];
        int r = 0;

        l->request = NULL;
        login->pending = NULL;
        login->session->checking = false;

        switch (error) {
        case 0:
                r = login_accept(login, l->username, l->api_key, l->remember);
                if (r < 0) {
                        login_restore(l);
                        log_error_errno(r, "Failed to keep the login of \"%s\": %m", l->username);
                        (void)snprintf(m, sizeof(m), "The site accepted the key, but %s failed: %s",
                                       l->remember ? "saving it" : "setting up the session", strerror(-r));
                }
                break;
        case -EKEYREJECTED:
                login_restore(l);
                log_notice("The site rejected the login of \"%s\".", l->username);
                r = error;
                (void)snprintf(m, sizeof(m),
                               "%s rejected the username \"%s\" or its API key. Check the key in your "
                               "account settings (Manage API Access) and that you typed the username "
                               "as the site spells it.",
                               site, l->username);
                break;
        case -ENETUNREACH:
                login_restore(l);
                log_notice("Could not reach %s to check the login: %s", site, strna(message));
                r = error;
                (void)snprintf(m, sizeof(m),
                               "Could not reach %s to check the key: %s. Check your network and try again.",
                               site, message ?: "no answer");
                break;
        default:
                login_restore(l);
                log_notice("Checking the login of \"%s\" failed: %s", l->username, strna(message));
                r = error;
                (void)snprintf(m, sizeof(m), "Could not check the key with %s: %s", site,
                               message ?: strerror(-error));
        }
        l->done(l->userdata, r, r < 0 ? m : NULL);
        login_request_free(l);
}

int login_start(Login *login, const char *username, const char *api_key, bool remember, LoginDone done,
                void (*destroy)(void *userdata), void *userdata, Error *error)
{
        LoginRequest *l;
        int r;

        /* The messages quote the name but never the key, not even a bad one. */
        if (!credentials_username_valid(username))
                return error_setf(error, -EINVAL,
                                  "\"%.*s\" is not a valid username (1 to %d printable characters, no "
                                  "spaces or ':').",
                                  (int)utf8_prefix_len(username, 64), username, CREDENTIALS_USERNAME_MAX);
        if (!credentials_api_key_valid(api_key))
                return error_setf(
                        error, -EINVAL,
                        "The API key is not valid: it must be 1 to %d printable characters without "
                        "spaces. Copy it again from your account settings.",
                        CREDENTIALS_API_KEY_MAX);
        if (login->pending)
                return error_setf(error, -EBUSY, "Another login is being checked; wait for it to finish.");
        if (job_runner_find_active(login->runner, "sync"))
                return error_setf(error, -EBUSY,
                                  "A sync is running; cancel it or wait for it before logging in again.");

        l = calloc(1, sizeof(LoginRequest));
        if (!l)
                return error_set_errno(error, -ENOMEM);
        l->login = login;
        l->remember = remember;
        l->username = strdup(username);
        l->api_key = strdup(api_key);
        if (session_logged_in(login->session)) {
                l->old_username = strdup(login->session->username);
                l->old_api_key = strdup(login->session->api_key);
                if (!l->old_username || !l->old_api_key) {
                        login_request_free(l);
                        return error_set_errno(error, -ENOMEM);
                }
        }
        if (!l->username || !l->api_key) {
                login_request_free(l);
                return error_set_errno(error, -ENOMEM);
        }

        r = e621_client_set_credentials(login->e621, username, api_key);
        if (r >= 0)
                r = e621_get_user(login->e621, username, on_user, l, &l->request);
        /* A person waits on this: one retry for a hiccup, then say so. */
        if (r >= 0)
                (void)e621_request_set_max_attempts(l->request, 2);
        if (r < 0) {
                login_restore(l);
                login_request_free(l);
                return error_setf(error, r, "Could not start checking the key: %s", strerror(-r));
        }
        /* From here on the request owns the caller's userdata. */
        l->done = done;
        l->destroy = destroy;
        l->userdata = userdata;
        login->pending = l;
        login->session->checking = true;
        return 0;
}

int login_logout(Login *login, bool forget, Error *error)
{
        bool was;
        Job *sync;
        int r = 0;

        /* A running sync would go on with a session that no longer exists. */
        sync = job_runner_find_active(login->runner, "sync");
        if (sync)
                job_cancel(sync);
        was = session_logged_in(login->session);
        session_done(login->session);
        outbox_stop(login->outbox);
        (void)e621_client_set_credentials(login->e621, NULL, NULL);
        if (forget)
                r = credentials_remove(NULL);
        if (was) {
                log_info("Logged out%s.", forget ? " and forgot the saved login" : "");
                events_emit(login->events, EVENT_SESSION_CHANGED, NULL);
        }
        if (r < 0)
                return error_setf(error, r, "Failed to forget the saved credentials: %s", strerror(-r));
        return 0;
}

int login_new(Context *ctx, Outbox *outbox, JobRunner *runner, Login **ret)
{
        Login *l = calloc(1, sizeof(Login));
        if (!l)
                return -ENOMEM;
        *l = (Login){.e621 = ctx->e621,
                     .site = ctx->site,
                     .session = &ctx->session,
                     .events = ctx->events,
                     .outbox = outbox,
                     .runner = runner};
        *ret = l;
        return 0;
}

Login *login_free(Login *l)
{
        if (!l)
                return NULL;
        l->pending = login_request_free(l->pending);
        free(l);
        return NULL;
}
