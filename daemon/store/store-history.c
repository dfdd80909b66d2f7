/* SPDX-License-Identifier: MIT */
/* The model history: one row per trained model, the installed one marked, and
 * the dataset each was trained on, so the trigger of a retraining can count
 * exactly how many labels moved since. */
#include <math.h>

#include "store-internal.h"

static const char *const model_state_table[_STORE_MODEL_STATE_MAX] = {
        [STORE_MODEL_INSTALLED] = "installed",
        [STORE_MODEL_PREVIOUS] = "previous",
        [STORE_MODEL_ASIDE] = "aside",
};

const char *store_model_state_to_string(StoreModelState st)
{
        return st >= 0 && st < _STORE_MODEL_STATE_MAX ? model_state_table[st] : NULL;
}

StoreModelState store_model_state_from_string(const char *s)
{
        for (int i = 0; s && i < _STORE_MODEL_STATE_MAX; i++)
                if (streq(s, model_state_table[i]))
                        return (StoreModelState)i;
        return _STORE_MODEL_STATE_INVALID;
}

void store_model_done(StoreModel *m)
{
        if (!m)
                return;
        free(m->reason);
        free(m->trigger);
        free(m->towers);
        free(m->backbone);
        free(m->info);
        *m = (StoreModel){.auc = NAN};
}

void store_model_array_free(StoreModel *a, size_t n)
{
        for (size_t i = 0; a && i < n; i++)
                store_model_done(&a[i]);
        free(a);
}

/* The installed model, if any, becomes previous. */
static int uninstall_current(Store *s, Error *error)
{
        int r = store_run(s, error, "UPDATE models SET state = 'previous' WHERE state = 'installed'", NULL);
        return r < 0 ? r : 0;
}

static int add_labels(Store *s, Error *error, uint64_t id, const StoreLabelled *dataset, size_t n)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_prepare(s, error,
                              "INSERT INTO model_labels (model_id, post_id, label) VALUES (?, ?, ?)", &st);

        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (dataset[i].label != 1 && dataset[i].label != -1)
                        return error_setf(error, -EINVAL, "a dataset label is +1 or -1");
                (void)sqlite3_reset(st);
                r = store_bind(s, error, st, "uui", id, dataset[i].post_id, (int64_t)dataset[i].label);
                if (r >= 0)
                        r = store_step(s, error, st);
        }
        return r < 0 ? r : 0;
}

static int model_add(Store *s, Error *error, const StoreModel *m, const StoreLabelled *dataset, size_t n,
                     uint64_t *ret_id)
{
        uint64_t now = store_now(), id;
        int r;

        if (m->state == STORE_MODEL_INSTALLED) {
                r = uninstall_current(s, error);
                if (r < 0)
                        return r;
        }
        r = store_run(
                s, error,
                "INSERT INTO models (created_at, state, installed_at, reason, trigger, towers, backbone,"
                " n_labels, n_pos, n_neg, auc, info) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                "ututtttuuudt", m->created_usec ? m->created_usec : now,
                store_model_state_to_string(m->state), m->state == STORE_MODEL_INSTALLED ? now : 0,
                m->reason, m->trigger, m->towers, m->backbone ? m->backbone : NULL, m->n_labels, m->n_pos,
                m->n_neg, m->auc, m->info);
        if (r < 0)
                return r;
        id = (uint64_t)sqlite3_last_insert_rowid(s->db);
        r = add_labels(s, error, id, dataset, n);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        return 0;
}

int store_model_add(Store *s, const StoreModel *m, const StoreLabelled *dataset, size_t n_dataset,
                    uint64_t *ret_id, Error *error)
{
        int r;

        if (!m || m->state < 0 || m->state >= _STORE_MODEL_STATE_MAX || isempty(m->trigger) ||
            isempty(m->towers) || !m->info || (n_dataset > 0 && !dataset))
                return error_setf(error, -EINVAL, "a model needs a state, a trigger, towers and its info");
        if ((m->state == STORE_MODEL_ASIDE) != !isempty(m->reason))
                return error_setf(error, -EINVAL, "a model kept aside needs a reason, and only that one");
        r = store_savepoint(s, error);
        if (r < 0)
                return r;
        return store_savepoint_end(s, error, model_add(s, error, m, dataset, n_dataset, ret_id));
}

#define MODEL_COLUMNS                                                                                       \
        "id, created_at, COALESCE(installed_at, 0), state, reason, trigger, towers, backbone, n_labels, "   \
        "n_pos, n_neg, auc, info"

static int model_read(sqlite3_stmt *st, StoreModel *ret)
{
        *ret = (StoreModel){
                .id = (uint64_t)sqlite3_column_int64(st, 0),
                .created_usec = (uint64_t)sqlite3_column_int64(st, 1),
                .installed_usec = (uint64_t)sqlite3_column_int64(st, 2),
                .state = store_model_state_from_string((const char *)sqlite3_column_text(st, 3)),
                .reason = store_column_strdup(st, 4),
                .trigger = store_column_strdup(st, 5),
                .towers = store_column_strdup(st, 6),
                .backbone = store_column_strdup(st, 7),
                .n_labels = (uint64_t)sqlite3_column_int64(st, 8),
                .n_pos = (uint64_t)sqlite3_column_int64(st, 9),
                .n_neg = (uint64_t)sqlite3_column_int64(st, 10),
                .auc = sqlite3_column_type(st, 11) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 11),
                .info = store_column_strdup(st, 12),
        };
        if ((!ret->reason && sqlite3_column_type(st, 4) != SQLITE_NULL) || !ret->trigger || !ret->towers ||
            (!ret->backbone && sqlite3_column_type(st, 7) != SQLITE_NULL) || !ret->info) {
                store_model_done(ret);
                return -ENOMEM;
        }
        return 0;
}

int store_model_list(Store *s, StoreModel **ret, size_t *ret_n, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        StoreModel *a = NULL;
        size_t n = 0;
        int r;

        r = store_prepare(s, error, "SELECT " MODEL_COLUMNS " FROM models ORDER BY id DESC", &st);
        if (r < 0)
                return r;
        while ((r = store_step(s, error, st)) > 0) {
                StoreModel *b = reallocarray(a, n + 1, sizeof *a);
                if (!b) {
                        r = -ENOMEM;
                        break;
                }
                a = b;
                r = model_read(st, &a[n]);
                if (r < 0)
                        break;
                n++;
        }
        if (r < 0) {
                store_model_array_free(a, n);
                return r;
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

int store_model_get(Store *s, uint64_t id, StoreModel *ret, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_query(s, error, &st, "SELECT " MODEL_COLUMNS " FROM models WHERE id = ?", "u", id);
        if (r >= 0)
                r = store_step(s, error, st);
        if (r < 0)
                return r;
        if (r == 0)
                return error_setf(error, -ENOENT, "no model %" PRIu64 " in the history", id);
        return model_read(st, ret);
}

int store_model_installed(Store *s, uint64_t *ret_id, Error *error)
{
        int64_t v;
        int r = store_query_i64(s, error, &v, "SELECT id FROM models WHERE state = 'installed'", NULL);
        if (r == -ENOENT)
                return error_setf(error, r, "no model is installed");
        if (r < 0)
                return r;
        *ret_id = (uint64_t)v;
        return 0;
}

static int model_install(Store *s, Error *error, uint64_t id)
{
        int r = uninstall_current(s, error);
        if (r < 0)
                return r;
        r = store_run(s, error,
                      "UPDATE models SET state = 'installed', installed_at = ?, reason = NULL WHERE id = ?",
                      "uu", store_now(), id);
        if (r == 0)
                return error_setf(error, -ENOENT, "no model %" PRIu64 " in the history", id);
        return r < 0 ? r : 0;
}

int store_model_install(Store *s, uint64_t id, Error *error)
{
        int r = store_savepoint(s, error);
        if (r < 0)
                return r;
        return store_savepoint_end(s, error, model_install(s, error, id));
}

int store_model_remove(Store *s, uint64_t id, Error *error)
{
        int64_t installed;
        int r = store_query_i64(s, error, &installed, "SELECT state = 'installed' FROM models WHERE id = ?",
                                "u", id);
        if (r == -ENOENT)
                return error_setf(error, r, "no model %" PRIu64 " in the history", id);
        if (r < 0)
                return r;
        if (installed)
                return error_setf(error, -EBUSY, "model %" PRIu64 " is the installed one", id);
        r = store_run(s, error, "DELETE FROM models WHERE id = ?", "u", id);
        return r < 0 ? r : 0;
}

int store_model_expired(Store *s, size_t keep, uint64_t **ret, size_t *ret_n, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = store_query(s, error, &st,
                        "SELECT id FROM models WHERE state <> 'installed' AND id NOT IN"
                        " (SELECT id FROM models ORDER BY id DESC LIMIT ?) ORDER BY id",
                        "i", (int64_t)MIN(keep, (size_t)INT64_MAX));
        if (r < 0)
                return r;
        return store_step_ids(s, error, st, ret, ret_n);
}

int store_model_trained_on(Store *s, uint64_t id, uint64_t **ret, size_t *ret_n, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t exists;
        int r;

        r = store_query_i64(s, error, &exists, "SELECT 1 FROM models WHERE id = ?", "u", id);
        if (r == -ENOENT)
                return error_setf(error, r, "no model %" PRIu64 " in the history", id);
        if (r >= 0)
                r = store_query(s, error, &st,
                                "SELECT post_id FROM model_labels WHERE model_id = ? ORDER BY post_id", "u",
                                id);
        if (r < 0)
                return r;
        return store_step_ids(s, error, st, ret, ret_n);
}

int store_model_labels_changed(Store *s, uint64_t id, uint64_t *ret_changed, uint64_t *ret_base,
                               Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t exists, n = 0, matched = 0, same = 0, base = 0;
        int r;

        r = store_query_i64(s, error, &exists, "SELECT 1 FROM models WHERE id = ?", "u", id);
        if (r == -ENOENT)
                return error_setf(error, r, "no model %" PRIu64 " in the history", id);
        /* One pass over the dataset (status asks for this, and at 100,000
         * labelled posts every pass costs the loop a tenth of a second):
         * changed = posts whose label is new or different (n − same) plus the
         * model's posts no longer in the dataset (base − matched). */
        if (r >= 0)
                r = store_query(s, error, &st,
                                "SELECT count(*), coalesce(sum(m.label IS NOT NULL), 0),"
                                "       coalesce(sum(m.label = d.label), 0)"
                                " FROM dataset d LEFT JOIN model_labels m ON m.model_id = ? AND m.post_id = "
                                "d.post_id",
                                "u", id);
        if (r >= 0)
                r = store_step(s, error, st);
        if (r == 0)
                r = error_setf(error, -EIO, "counting the changed labels gave no row");
        if (r > 0) {
                n = sqlite3_column_int64(st, 0);
                matched = sqlite3_column_int64(st, 1);
                same = sqlite3_column_int64(st, 2);
                r = store_query_i64(s, error, &base, "SELECT COUNT(*) FROM model_labels WHERE model_id = ?",
                                    "u", id);
        }
        if (r < 0)
                return r;
        *ret_changed = (uint64_t)((n - same) + (base - matched));
        *ret_base = (uint64_t)base;
        return 0;
}
