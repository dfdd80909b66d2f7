/* SPDX-License-Identifier: MIT */
/* What runs by itself: the policy and the record (see refresh.h). */
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <time.h>

#include "config.h"
#include "services/refresh.h"
#include "store.h"

#define FEEDBACK_DAYS 30

static const char *const sync_mode_table[_SYNC_MODE_MAX] = {
        [SYNC_MODE_FULL] = "full",
        [SYNC_MODE_INCREMENTAL] = "incremental",
        [SYNC_MODE_AUTO] = "auto",
};

const char *sync_mode_to_string(SyncMode m)
{
        return m >= 0 && m < _SYNC_MODE_MAX ? sync_mode_table[m] : NULL;
}

SyncMode sync_mode_from_string(const char *s)
{
        for (int i = 0; s && i < _SYNC_MODE_MAX; i++)
                if (streq(s, sync_mode_table[i]))
                        return (SyncMode)i;
        return _SYNC_MODE_INVALID;
}

static uint64_t state_u64(Store *store, const char *key)
{
        uint64_t v = 0;
        (void)store_state_get_u64(store, key, &v, NULL);
        return v;
}

SyncMode refresh_sync_mode(Store *store, const Config *config, SyncMode asked)
{
        if (asked != SYNC_MODE_AUTO)
                return asked;
        uint64_t last = state_u64(store, "refresh.full_sync_usec");
        uint64_t now = now_usec(CLOCK_REALTIME);
        if (last == 0 || now < last || now - last >= config->full_sync_interval_s * USEC_PER_SEC)
                return SYNC_MODE_FULL;
        return SYNC_MODE_INCREMENTAL;
}

static const char *result_string(int r)
{
        return r >= 0 ? "done" : r == -ECANCELED ? "cancelled" : "failed";
}

/* The record is what status shows: a failure to write it costs only that. */
static void set(Store *store, const char *key, const char *value)
{
        Error db = {};
        int r = store_state_set(store, key, value, &db);
        if (r < 0)
                log_debug("Failed to record %s, ignoring: %s", key, error_message(&db, r));
}

static void set_u64(Store *store, const char *key, uint64_t value)
{
        Error db = {};
        int r = store_state_set_u64(store, key, value, &db);
        if (r < 0)
                log_debug("Failed to record %s, ignoring: %s", key, error_message(&db, r));
}

void refresh_record_sync(Store *store, SyncMode mode, bool automatic, int r, const char *message)
{
        uint64_t now = now_usec(CLOCK_REALTIME);

        set_u64(store, "refresh.sync_usec", now);
        set(store, "refresh.sync_mode", sync_mode_to_string(mode));
        set(store, "refresh.sync_trigger", automatic ? "timer" : "manual");
        set(store, "refresh.sync_result", result_string(r));
        set(store, "refresh.sync_message", strempty(message));
        if (r >= 0 && mode == SYNC_MODE_FULL)
                set_u64(store, "refresh.full_sync_usec", now);
}

void refresh_record_train(Store *store, bool automatic, int r, const char *message)
{
        if (r > 0) {
                set(store, "refresh.auto_train_running", automatic ? "1" : NULL);
                return;
        }
        set_u64(store, "refresh.train_usec", now_usec(CLOCK_REALTIME));
        set(store, "refresh.train_trigger", automatic ? "automatic" : "manual");
        set(store, "refresh.train_result", result_string(r));
        set(store, "refresh.train_message", strempty(message));
        if (automatic)
                set(store, "refresh.auto_train_running", NULL);
}

int refresh_retrain_check(Store *store, Counts *counts, const Config *config, uint64_t installed_id,
                          RetrainCheck *ret, Error *error)
{
        RetrainCheck c = {.need_changes = config->retrain_changes};
        int r;

        if (installed_id != 0) {
                r = counts_labels_changed(counts, installed_id, &c.changed, &c.base, error);
                if (r < 0)
                        return r;
        } else
                c.changed = counts->now.liked + counts->now.disliked;
        if (c.base > 0)
                c.need_fraction = (uint64_t)ceil(config->retrain_fraction * (double)c.base);
        c.due = c.changed > 0 &&
                (c.changed >= c.need_changes || (c.need_fraction > 0 && c.changed >= c.need_fraction));
        _cleanup_free_ char *running = NULL;
        c.interrupted = store_state_get(store, "refresh.auto_train_running", &running, NULL) >= 0;
        *ret = c;
        return 0;
}

static json_object *json_usec(uint64_t usec)
{
        return usec ? json_object_new_int64((int64_t)usec) : NULL;
}

static json_object *json_state_string(Store *store, const char *key)
{
        _cleanup_free_ char *v = NULL;
        return store_state_get(store, key, &v, NULL) >= 0 ? json_object_new_string(v) : NULL;
}

int refresh_info_json(Store *store, Counts *counts, const Config *config, uint64_t installed_id, char **ret,
                      Error *error)
{
        json_object *o = json_object_new_object(), *sync = json_object_new_object(),
                    *train = json_object_new_object(), *retrain = json_object_new_object(),
                    *feedback = json_object_new_object();
        RetrainCheck c = {};
        StoreFeedback f = {};
        int r = -ENOMEM;

        if (!o || !sync || !train || !retrain || !feedback)
                goto fail;
        json_object_object_add(o, "auto_sync", json_object_new_boolean(config->auto_sync));
        json_object_object_add(o, "auto_retrain", json_object_new_boolean(config->auto_retrain));

        uint64_t full = state_u64(store, "refresh.full_sync_usec");
        json_object_object_add(sync, "last_usec", json_usec(state_u64(store, "refresh.sync_usec")));
        json_object_object_add(sync, "mode", json_state_string(store, "refresh.sync_mode"));
        json_object_object_add(sync, "trigger", json_state_string(store, "refresh.sync_trigger"));
        json_object_object_add(sync, "result", json_state_string(store, "refresh.sync_result"));
        json_object_object_add(sync, "message", json_state_string(store, "refresh.sync_message"));
        json_object_object_add(sync, "last_full_usec", json_usec(full));
        /* the next timer run after this makes the sync a full one */
        json_object_object_add(sync, "next_full_usec",
                               json_usec(full ? full + config->full_sync_interval_s * USEC_PER_SEC : 0));
        json_object_object_add(sync, "full_interval_s",
                               json_object_new_int64((int64_t)config->full_sync_interval_s));
        json_object_object_add(o, "sync", sync);
        sync = NULL;

        json_object_object_add(train, "last_usec", json_usec(state_u64(store, "refresh.train_usec")));
        json_object_object_add(train, "trigger", json_state_string(store, "refresh.train_trigger"));
        json_object_object_add(train, "result", json_state_string(store, "refresh.train_result"));
        json_object_object_add(train, "message", json_state_string(store, "refresh.train_message"));
        json_object_object_add(o, "train", train);
        train = NULL;

        r = refresh_retrain_check(store, counts, config, installed_id, &c, error);
        if (r < 0)
                goto fail;
        json_object_object_add(retrain, "installed_model",
                               installed_id ? json_object_new_int64((int64_t)installed_id) : NULL);
        json_object_object_add(retrain, "changed", json_object_new_int64((int64_t)c.changed));
        json_object_object_add(retrain, "base", json_object_new_int64((int64_t)c.base));
        json_object_object_add(retrain, "need_changes", json_object_new_int64((int64_t)c.need_changes));
        json_object_object_add(retrain, "need_fraction", json_object_new_int64((int64_t)c.need_fraction));
        json_object_object_add(retrain, "due", json_object_new_boolean(c.due));
        json_object_object_add(retrain, "interrupted", json_object_new_boolean(c.interrupted));
        json_object_object_add(retrain, "budget_s",
                               json_object_new_int64((int64_t)config->retrain_budget_s));
        json_object_object_add(retrain, "on_battery_too",
                               json_object_new_boolean(config->retrain_on_battery));
        json_object_object_add(o, "retrain", retrain);
        retrain = NULL;

        uint64_t now = now_usec(CLOCK_REALTIME), window = (uint64_t)FEEDBACK_DAYS * 86400 * USEC_PER_SEC;
        r = store_feedback(store, now > window ? now - window : 0, &f, NULL);
        if (r < 0)
                goto fail;
        json_object_object_add(feedback, "days", json_object_new_int(FEEDBACK_DAYS));
        json_object_object_add(feedback, "announced", json_object_new_int64((int64_t)f.announced));
        json_object_object_add(feedback, "liked", json_object_new_int64((int64_t)f.liked));
        json_object_object_add(feedback, "disliked", json_object_new_int64((int64_t)f.disliked));
        json_object_object_add(feedback, "unanswered", json_object_new_int64((int64_t)f.unanswered));
        json_object_object_add(feedback, "precision",
                               isfinite(f.precision) ? json_object_new_double(f.precision) : NULL);
        json_object_object_add(o, "feedback", feedback);
        feedback = NULL;

        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        char *copy = s ? strdup(s) : NULL;
        json_object_put(o);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
fail:
        json_object_put(o);
        json_object_put(sync);
        json_object_put(train);
        json_object_put(retrain);
        json_object_put(feedback);
        return r;
}
