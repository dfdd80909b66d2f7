/* SPDX-License-Identifier: MIT */
/* The model history (ListModels, UseModel, RemoveModel), the automatic
 * retraining a refresh asks for (AutoRetrain, with UPower's OnBattery) and
 * what ran by itself (RefreshInfo). */
#include <inttypes.h>
#include <math.h>

#include "config.h"
#include "core/context.h"
#include "dbus/bus.h"
#include "dbus/options.h"
#include "jobs/runner.h"
#include "services/refresh.h"
#include "services/taste-history.h"
#include "services/taste.h"
#include "store.h"
#include "train/train.h"

int method_list_models(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Store *st = s->f.ctx->store;
        StoreModel *list = NULL;
        size_t n = 0;
        Error db = {};
        int r;

        r = store_model_list(st, &list, &n, &db);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to read the model history: %s",
                                               error_message(&db, r));
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(tttsssstttdss)");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const StoreModel *x = &list[i];
                r = sd_bus_message_append(reply, "(tttsssstttdss)", x->id, x->created_usec,
                                          x->installed_usec, store_model_state_to_string(x->state),
                                          x->trigger, x->towers, strempty(x->backbone), x->n_labels,
                                          x->n_pos, x->n_neg, isfinite(x->auc) ? x->auc : NAN,
                                          strempty(x->reason), x->info);
        }
        store_model_array_free(list, n);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int use_model(BusServer *s, uint64_t id, Error *e)
{
        int r = taste_history_use(s->f.taste, s->f.ctx->store, id, e);
        if (r >= 0)
                events_emit(s->f.ctx->events, EVENT_MODEL_CHANGED, NULL);
        return r;
}

int method_use_model(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return bus_method_on_id(m, userdata, use_model, error);
}

static int remove_model(BusServer *s, uint64_t id, Error *e)
{
        return taste_history_remove(s->f.taste, s->f.ctx->store, id, e);
}

int method_remove_model(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return bus_method_on_id(m, userdata, remove_model, error);
}

/* UPower's OnBattery on the system bus; false when there is no UPower (a
 * desktop without it, a server, a test): only a battery that says so stops
 * the retraining. DBUS_SYSTEM_BUS_ADDRESS picks another bus. */
static bool on_battery(void)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int v = 0;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                log_debug_errno(r, "No system bus to ask UPower, taking mains power: %m");
                return false;
        }
        r = sd_bus_get_property_trivial(bus, "org.freedesktop.UPower", "/org/freedesktop/UPower",
                                        "org.freedesktop.UPower", "OnBattery", &error, 'b', &v);
        if (r < 0) {
                log_debug("UPower did not answer (%s), taking mains power.", error.message ?: strerror(-r));
                return false;
        }
        return v;
}

int method_auto_retrain(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        char reason[256] = "";
        Error e = {};
        Job *j = NULL;
        int r;

        r = bus_read_options(m, "automatic retraining", bus_no_options, NULL, error);
        if (r < 0)
                return r;
        r = train_auto_start(s->f.ctx, s->f.backbone, s->f.taste, s->f.runner, on_battery(), &j, reason,
                             sizeof(reason), &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        if (!j)
                return sd_bus_reply_method_return(m, "os", "/", reason);
        char buf[BUS_JOB_PATH_MAX];
        r = sd_bus_reply_method_return(m, "os", bus_job_path(j, buf), reason);
        if (r < 0)
                return r;
        (void)job_start(j);
        return 1;
}

int method_refresh_info(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        _cleanup_free_ char *info = NULL;
        Error db = {};
        int r;

        r = refresh_info_json(s->f.ctx->store, &s->f.ctx->counts, s->f.ctx->config, s->f.taste->installed_id,
                              &info, &db);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to read what ran by itself: %s",
                                               error_message(&db, r));
        return sd_bus_reply_method_return(m, "s", info);
}
