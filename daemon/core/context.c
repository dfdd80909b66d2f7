/* SPDX-License-Identifier: MIT */
#include <signal.h>

#include "config.h"
#include "core/context.h"
#include "credentials.h"
#include "e621.h"
#include "images.h"
#include "store.h"
#include "work/work.h"

static int context_load_state(Context *c)
{
        _cleanup_free_ char *db = NULL;
        Error error = {};
        _cleanup_(credentials_freep) Credentials *creds = NULL;
        E621Config ec;
        int r;

        r = config_load(NULL, &c->config, &error);
        if (r < 0)
                return log_error_errno(r, "%s", error_message(&error, r));
        c->site = strdup(c->config->site);
        if (!c->site)
                return log_oom();

        r = xdg_fluff_dir("DATA", NULL, &c->data_dir);
        if (r < 0)
                return log_error_errno(r, "Failed to find the data folder: %m");
        if (asprintf(&c->images_dir, "%s/images", c->data_dir) < 0) {
                c->images_dir = NULL;
                return log_oom();
        }
        r = mkdir_parents(c->images_dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create \"%s\": %m", c->images_dir);
        r = images_remove_temporaries(c->images_dir);
        if (r > 0)
                log_info("Removed %d partial crops left by an interrupted sync.", r);

        r = store_default_path(&db);
        if (r < 0)
                return log_error_errno(r, "Failed to find the database path: %m");
        r = store_open(db, &c->store, &error);
        if (r < 0)
                return log_error_errno(r, "%s", error_message(&error, r));
        c->counts.store = c->store;
        c->counts.work = c->work;
        (void)store_counts(c->store, &c->counts.now, NULL);

        e621_config_init(&ec);
        ec.site = c->config->site;
        ec.rate_limit = c->config->rate_limit;
        ec.download_concurrency = c->config->download_concurrency;
        ec.max_image_bytes = c->config->max_image_bytes;
        ec.image_hosts = c->config->image_hosts; /* NULL: the real site's */
        r = e621_client_new(c->event, &ec, &c->e621);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the HTTP client for \"%s\": %m", c->site);

        r = credentials_load(NULL, &creds, &error);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                log_warning_errno(r, "%s Starting logged out.", error_message(&error, r));
                return 0;
        }
        /* The key belongs to the site it was made for: pointing site= or
         * FLUFF_SITE elsewhere must not send it there. */
        if (!credentials_match_site(creds, c->config->site)) {
                log_warning("The saved login was made for %s, not %s: starting logged out. Log in again "
                            "(fluffctl login) to use this site.",
                            creds->site ?: CONFIG_SITE_DEFAULT, c->config->site);
                return 0;
        }
        r = e621_client_set_credentials(c->e621, creds->username, creds->api_key);
        if (r < 0) {
                log_warning_errno(r, "The saved login is not usable, starting logged out: %m");
                return 0;
        }
        r = session_set(&c->session, creds->username, creds->api_key);
        if (r < 0)
                return log_oom();
        log_info("Logged in as \"%s\" from the saved login.", c->session.username);
        return 0;
}

int context_new(Context **ret)
{
        _cleanup_(context_freep) Context *c = NULL;
        int r;

        c = calloc(1, sizeof(Context));
        if (!c)
                return log_oom();

        r = events_new(&c->events);
        if (r < 0)
                return log_oom();
        c->session.events = c->events;
        c->counts.events = c->events;

        r = sd_event_default(&c->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m");

        /* Blocked before any thread exists, so only the loop sees them. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block SIGTERM and SIGINT: %m");
        r = sd_event_add_signal(c->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(c->event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to watch for SIGTERM and SIGINT: %m");

        /* As systemd does for every service: a peer that hangs up is an error
         * to handle where it happens, never a reason for the daemon to die. */
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
                return log_error_errno(errno, "Failed to ignore SIGPIPE: %m");

        r = sd_event_set_watchdog(c->event, true);
        if (r < 0)
                return log_error_errno(r, "Failed to enable the watchdog: %m");

        r = work_pool_new(c->event, 0, &c->work);
        if (r < 0)
                return log_error_errno(r, "Failed to start the worker threads: %m");

        r = context_load_state(c);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

Context *context_free(Context *c)
{
        if (!c)
                return NULL;
        c->work = work_pool_free(c->work);
        counts_done(&c->counts);
        c->e621 = e621_client_free(c->e621);
        c->store = store_free(c->store);
        c->config = config_free(c->config);
        free(c->data_dir);
        free(c->images_dir);
        free(c->site);
        session_done(&c->session);
        sd_event_unref(c->event);
        c->events = events_free(c->events);
        free(c);
        return NULL;
}
