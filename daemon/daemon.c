/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "bus/job.h"
#include "bus/login.h"
#include "bus/manager.h"
#include "daemon.h"
#include "fluff/bus.h"
#include "jobs/job.h"
#include "outbox/outbox.h"
#include "config.h"
#include "credentials.h"
#include "e621.h"
#include "embed/bus-backbone.h"
#include "embed/service.h"
#include "embed/jobs.h"
#include "images.h"
#include "predict/predict.h"
#include "watch/watch.h"
#include "review/review.h"
#include "train/taste.h"
#include "work/work.h"

static int daemon_load_state(Daemon *d)
{
        _cleanup_free_ char *error = NULL, *db = NULL, *data = NULL;
        _cleanup_(credentials_freep) Credentials *creds = NULL;
        E621Config ec;
        int r;

        r = config_load(NULL, &d->config, &error);
        if (r < 0)
                return log_error_errno(r, "%s", error ?: "Failed to read the configuration.");
        d->site = strdup(d->config->site);
        if (!d->site)
                return log_oom();

        r = xdg_fluff_dir("DATA", &data);
        if (r < 0)
                return log_error_errno(r, "Failed to find the data folder: %m");
        if (asprintf(&d->images_dir, "%s/images", data) < 0) {
                d->images_dir = NULL;
                return log_oom();
        }
        r = mkdir_parents(d->images_dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create \"%s\": %m", d->images_dir);
        r = images_remove_temporaries(d->images_dir);
        if (r > 0)
                log_info("Removed %d partial crops left by an interrupted sync.", r);

        r = backbone_service_new(d->event, data, &d->backbone);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the backbone: %m");
        r = taste_service_new(data, &d->taste);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the taste model: %m");

        r = store_default_path(&db);
        if (r < 0)
                return log_error_errno(r, "Failed to find the database path: %m");
        error = NULL;
        r = store_open(db, &d->store, &error);
        if (r < 0)
                return log_error_errno(r, "%s", error ?: "Failed to open the database.");
        (void)store_counts(d->store, &d->counts);
        backbone_refresh_embedded(d);

        e621_config_init(&ec);
        ec.site = d->config->site;
        ec.rate_limit = d->config->rate_limit;
        ec.download_concurrency = d->config->download_concurrency;
        ec.max_image_bytes = d->config->max_image_bytes;
        r = e621_client_new(d->event, &ec, &d->e621);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the HTTP client for \"%s\": %m", d->site);

        r = credentials_load(NULL, &creds, &error);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                log_warning_errno(r, "%s Starting logged out.", error ?: "Failed to read the saved login.");
                return 0;
        }
        r = e621_client_set_credentials(d->e621, creds->username, creds->api_key);
        if (r < 0) {
                log_warning_errno(r, "The saved login is not usable, starting logged out: %m");
                return 0;
        }
        d->username = strdup(creds->username);
        d->api_key = strdup(creds->api_key);
        if (!d->username || !d->api_key)
                return log_oom();
        log_info("Logged in as \"%s\" from the saved login.", d->username);
        return 0;
}

int daemon_new(Daemon **ret)
{
        _cleanup_(daemon_freep) Daemon *d = NULL;
        int r;

        d = calloc(1, sizeof(Daemon));
        if (!d)
                return log_oom();

        r = sd_event_default(&d->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m");

        /* Blocked before any thread exists, so only the loop sees them. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block SIGTERM and SIGINT: %m");
        r = sd_event_add_signal(d->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(d->event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to watch for SIGTERM and SIGINT: %m");

        /* As systemd does for every service: a peer that hangs up is an error
         * to handle where it happens, never a reason for the daemon to die. */
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
                return log_error_errno(errno, "Failed to ignore SIGPIPE: %m");

        r = sd_event_set_watchdog(d->event, true);
        if (r < 0)
                return log_error_errno(r, "Failed to enable the watchdog: %m");

        r = work_pool_new(d->event, 0, &d->work);
        if (r < 0)
                return log_error_errno(r, "Failed to start the worker threads: %m");

        r = daemon_load_state(d);
        if (r < 0)
                return r;
        r = outbox_new(d, &d->outbox);
        if (r < 0)
                return log_oom();

        *ret = TAKE_PTR(d);
        return 0;
}

Daemon *daemon_free(Daemon *d)
{
        if (!d)
                return NULL;
        /* Jobs first: they may hold work items, requests and bus messages. */
        while (d->jobs)
                job_free(d->jobs);
        d->login = login_request_free(d->login);
        d->outbox = outbox_free(d->outbox);
        d->work = work_pool_free(d->work);
        d->backbone = backbone_service_free(d->backbone);
        d->taste = taste_service_free(d->taste);
        d->e621 = e621_client_free(d->e621);
        d->store = store_free(d->store);
        d->config = config_free(d->config);
        free(d->images_dir);
        sd_bus_slot_unref(d->backbone_slot);
        sd_bus_slot_unref(d->taste_slot);
        sd_bus_slot_unref(d->review_slot);
        sd_bus_slot_unref(d->predict_slot);
        sd_bus_slot_unref(d->watch_slot);
        sd_bus_slot_unref(d->job_enum_slot);
        sd_bus_slot_unref(d->job_slot);
        sd_bus_slot_unref(d->manager_slot);
        if (d->bus)
                sd_bus_flush_close_unref(d->bus);
        sd_event_unref(d->event);
        free(d->site);
        free(d->username);
        erase_and_free(d->api_key);
        free(d);
        return NULL;
}

int daemon_start(Daemon *d)
{
        int r;

        r = fluff_bus_error_register();
        if (r < 0)
                return log_error_errno(r, "Failed to register the Fluff bus errors: %m");

        r = sd_bus_open_user(&d->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the session bus: %m");
        r = sd_bus_attach_event(d->bus, d->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        /* Without the bus nobody can reach us: leave the loop. */
        (void)sd_bus_set_exit_on_disconnect(d->bus, true);

        r = bus_manager_register(d);
        if (r < 0)
                return log_error_errno(r, "Failed to register the manager object: %m");
        r = bus_backbone_register(d);
        if (r < 0)
                return log_error_errno(r, "Failed to register the backbone's methods: %m");
        r = bus_taste_register(d);
        if (r < 0)
                return log_error_errno(r, "Failed to register the taste model's methods: %m");
        r = bus_predict_register(d);
        if (r < 0)
                return log_error_errno(r, "Failed to register the prediction methods: %m");
        r = bus_watch_register(d);
        if (r < 0)
                return log_error_errno(r, "Failed to register the watch methods: %m");
        r = bus_review_register(d);
        if (r < 0)
                return log_error_errno(r, "Failed to register the review method: %m");
        r = bus_job_register(d);
        if (r < 0)
                return log_error_errno(r, "Failed to register the job objects: %m");
        r = sd_bus_add_object_manager(d->bus, NULL, FLUFF_BUS_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to register the object manager: %m");

        r = sd_bus_request_name(d->bus, FLUFF_BUS_NAME, 0);
        if (r == -EEXIST)
                return log_error_errno(r, "Another fluffd already owns %s on this bus; not starting a second one.",
                                       FLUFF_BUS_NAME);
        if (r < 0)
                return log_error_errno(r, "Failed to take the bus name %s: %m", FLUFF_BUS_NAME);

        (void)sd_notify(false, "READY=1\nSTATUS=Serving.");
        log_info("Serving %s for site \"%s\".", FLUFF_BUS_NAME, d->site);
        outbox_kick(d->outbox); /* votes queued before a stop or a crash */
        return 0;
}

int daemon_run(Daemon *d)
{
        int r;

        r = sd_event_loop(d->event);
        (void)sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        log_info("Stopping.");
        return 0;
}

bool daemon_logged_in(const Daemon *d)
{
        return d->username && d->api_key;
}

int daemon_set_session(Daemon *d, const char *username, const char *api_key, bool remember)
{
        _cleanup_(credentials_freep) Credentials *creds = NULL;
        _cleanup_free_ char *u = NULL;
        _cleanup_erase_ char *k = NULL;
        int r;

        r = credentials_new(username, api_key, &creds);
        if (r < 0)
                return r;
        u = strdup(username);
        k = strdup(api_key);
        if (!u || !k)
                return -ENOMEM;
        /* Without remember the user asked for the key to die with fluffd:
         * an older saved login must not bring it back either. */
        r = remember ? credentials_save(NULL, creds) : credentials_remove(NULL);
        if (r < 0)
                return r;
        r = e621_client_set_credentials(d->e621, username, api_key);
        if (r < 0)
                return r;
        free(d->username);
        d->username = TAKE_PTR(u);
        erase_and_free(d->api_key);
        d->api_key = TAKE_PTR(k);
        log_info("Logged in as \"%s\"%s.", d->username, remember ? ", remembered" : ", until fluffd stops");
        manager_emit_session_changed(d);
        outbox_kick(d->outbox);
        return 0;
}

int daemon_logout(Daemon *d, bool forget)
{
        bool was = daemon_logged_in(d);
        Job *sync;
        int r = 0;

        /* A running sync would go on with a session that no longer exists. */
        sync = daemon_find_active_job(d, "sync");
        if (sync)
                job_cancel(sync);
        free(d->username);
        d->username = NULL;
        erase_and_free(d->api_key);
        d->api_key = NULL;
        outbox_stop(d->outbox);
        (void)e621_client_set_credentials(d->e621, NULL, NULL);
        if (forget)
                r = credentials_remove(NULL);
        if (was) {
                log_info("Logged out%s.", forget ? " and forgot the saved login" : "");
                manager_emit_session_changed(d);
        }
        return r;
}

void daemon_refresh_counts(Daemon *d)
{
        StoreCounts c;
        int r;

        r = store_counts(d->store, &c);
        if (r < 0) {
                log_debug_errno(r, "Failed to count the dataset, ignoring: %s", store_error(d->store));
                return;
        }
        if (memcmp(&c, &d->counts, sizeof(c)) == 0)
                return;
        d->counts = c;
        manager_emit_counts_changed(d);
}

Job *daemon_find_active_job(Daemon *d, const char *kind)
{
        for (Job *j = d->jobs; j; j = j->next)
                if (!job_is_finished(j) && streq(j->ops->kind, kind))
                        return j;
        return NULL;
}
