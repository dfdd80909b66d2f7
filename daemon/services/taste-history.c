/* SPDX-License-Identifier: MIT */
/* The taste model's history (see taste-history.h). */
#include <inttypes.h>
#include <math.h>
#include <sys/stat.h>

#include "model-history.h"
#include "model.h"
#include "services/taste-history.h"
#include "services/taste.h"

static int describe(const Model *m, char **ret)
{
        return model_describe_json(m, ret);
}

/* The installed model's ROC AUC as recorded, when it can be weighed against
 * a new model's: NaN when none is installed, or when one of the two numbers
 * is cross-validated and the other an early-stopping split's. The split's is
 * optimistic (0.874 against 0.837 cross-validated on the same posts in
 * test-taste-acceptance), so weighing them would keep every user who trained
 * before cross-validation on the old model. */
static double installed_auc(Store *store, bool new_cross_validated)
{
        StoreModel cur = {};
        uint64_t id;
        double auc = NAN;

        if (store_model_installed(store, &id, NULL) >= 0 && store_model_get(store, id, &cur, NULL) >= 0) {
                bool cross_validated = model_history_info_cross_validated(cur.info);
                if (cross_validated == new_cross_validated)
                        auc = cur.auc;
                else
                        log_info(
                                "The installed model's ROC AUC (%.3f) comes from %s, the new one's from %s: "
                                "they are not weighed against each other.",
                                cur.auc, cross_validated ? "cross-validation" : "a validation split",
                                cross_validated ? "a validation split" : "cross-validation");
        }
        store_model_done(&cur);
        return auc;
}

unsigned taste_history_prune(const char *models_dir, Store *store, unsigned keep)
{
        _cleanup_free_ uint64_t *ids = NULL;
        size_t n = 0;
        unsigned pruned = 0;
        Error db = {};
        int r;

        r = store_model_expired(store, keep, &ids, &n, &db);
        if (r < 0) {
                log_warning("Failed to list old models, ignoring: %s", error_message(&db, r));
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                Error rm = {};
                /* the record first: a file without one is cleaned at the next start */
                r = store_model_remove(store, ids[i], &rm);
                if (r < 0) {
                        log_warning("Failed to forget model %" PRIu64 ", ignoring: %s", ids[i],
                                    error_message(&rm, r));
                        continue;
                }
                r = model_history_remove(models_dir, ids[i]);
                if (r < 0)
                        log_warning_errno(r, "Failed to delete the file of model %" PRIu64 ", ignoring: %m",
                                          ids[i]);
                pruned++;
        }
        return pruned;
}

/* Model id becomes the one served: its file, its record, the loaded model
 * (*model, taken on success). */
static int install_model(TasteService *t, Store *store, uint64_t id, Model **model, Error *e)
{
        int r;

        r = model_history_install(t->models_dir, id);
        if (r < 0)
                return error_setf(e, r, "Failed to install model %" PRIu64 ": %s", id, strerror(-r));
        Error db = {};
        r = store_model_install(store, id, &db);
        if (r < 0)
                return error_setf(e, r, "Failed to record model %" PRIu64 " as installed: %s", id,
                                  error_message(&db, r));
        r = taste_service_replace(t, *model);
        if (r < 0)
                return error_set_errno(e, r);
        *model = NULL;
        t->installed_id = id;
        return 0;
}

void taste_history_record_done(TasteHistoryRecord *rec)
{
        if (!rec)
                return;
        free(rec->reason);
        *rec = (TasteHistoryRecord){};
}

int taste_history_record(Store *store, const Model *model, const TasteHistoryAdd *o, TasteHistoryRecord *ret,
                         Error *e)
{
        _cleanup_free_ char *info = NULL, *reason = NULL;
        TasteHistoryRecord rec = {};
        int r;

        r = describe(model, &info);
        if (r < 0)
                return error_set_errno(e, r);
        const TasteHistoryFresh *f = o->fresh;
        bool fresh = f && f->weighed;
        double cur = fresh ? f->auc_installed : installed_auc(store, model->quality.version != 0);
        r = model_history_decide(fresh ? f->auc_new : model->metrics.roc_auc, cur, o->margin, o->ablation,
                                 o->force_install, &reason);
        if (r < 0)
                return error_set_errno(e, r);
        rec.install = r > 0;
        if (fresh) {
                (void)snprintf(rec.basis, sizeof(rec.basis),
                               "Weighed on the %" PRIu32 " posts labelled since the installed model was "
                               "trained: ROC AUC %.3f out of fold against its %.3f.",
                               f->n, f->auc_new, f->auc_installed);
                if (!rec.install && !o->ablation) {
                        free(reason);
                        if (asprintf(&reason,
                                     "on the %" PRIu32
                                     " posts labelled since the installed model was trained, "
                                     "its out-of-fold ROC AUC %.3f is worse than the installed model's %.3f "
                                     "by more than %.3f",
                                     f->n, f->auc_new, f->auc_installed, o->margin) < 0)
                                return error_set_errno(e, -ENOMEM);
                }
        } else if (isfinite(cur)) {
                if (f && f->why_not)
                        (void)snprintf(rec.basis, sizeof(rec.basis),
                                       "Weighed by each model's own cross-validated ROC AUC (on different "
                                       "data): %s.",
                                       f->why_not);
                else
                        (void)snprintf(rec.basis, sizeof(rec.basis),
                                       "Weighed by each model's own cross-validated ROC AUC (on different "
                                       "data): only %" PRIu32 " posts (%" PRIu32
                                       " liked) were labelled since "
                                       "the installed model was trained, %d with %d of each are needed to "
                                       "weigh both on them.",
                                       f ? f->n : 0, f ? f->n_pos : 0, TASTE_HISTORY_FRESH_MIN,
                                       TASTE_HISTORY_FRESH_MIN_CLASS);
                log_info("%s", rec.basis);
        }

        size_t n_pos = 0;
        for (size_t i = 0; i < o->n_dataset; i++)
                n_pos += o->dataset[i].label > 0;
        /* Recorded aside first: it is installed only once its file is in place. */
        StoreModel row = {
                .state = STORE_MODEL_ASIDE,
                .reason = rec.install ? (char *)"being installed" : reason,
                .trigger = (char *)o->trigger,
                .towers = (char *)o->towers,
                .backbone = model->backbone,
                .n_labels = o->n_dataset,
                .n_pos = n_pos,
                .n_neg = o->n_dataset - n_pos,
                .auc = model->metrics.roc_auc,
                .info = info,
        };
        Error db = {};
        r = store_model_add(store, &row, o->dataset, o->n_dataset, &rec.id, &db);
        if (r < 0)
                return error_setf(e, r, "Failed to record the new model: %s", error_message(&db, r));
        if (!rec.install)
                rec.reason = TAKE_PTR(reason);
        *ret = rec;
        return 0;
}

int taste_history_commit(TasteService *t, Store *store, const char *new_path, Model *m,
                         const TasteHistoryRecord *rec, TasteHistoryResult *ret, Error *e)
{
        _cleanup_(model_freep) Model *model = m;
        TasteHistoryResult res = {.id = rec->id};
        int r;

        (void)snprintf(res.basis, sizeof(res.basis), "%s", rec->basis);
        r = model_history_adopt(t->models_dir, new_path, rec->id);
        if (r < 0) {
                (void)store_model_remove(store, rec->id, NULL);
                return error_setf(e, r, "Failed to keep the new model's file: %s", strerror(-r));
        }
        if (rec->install) {
                r = install_model(t, store, rec->id, &model, e);
                if (r < 0)
                        return r;
                res.installed = true;
        } else
                (void)snprintf(res.reason, sizeof(res.reason), "%s", strempty(rec->reason));
        *ret = res;
        return 0;
}

int taste_history_add(TasteService *t, Store *store, const char *new_path, Model *m,
                      const TasteHistoryAdd *o, TasteHistoryResult *ret, Error *e)
{
        _cleanup_(model_freep) Model *model = m;
        _cleanup_(taste_history_record_done) TasteHistoryRecord rec = {};
        int r;

        r = taste_history_record(store, model, o, &rec, e);
        if (r < 0)
                return r;
        r = taste_history_commit(t, store, new_path, TAKE_PTR(model), &rec, ret, e);
        if (r < 0)
                return r;
        ret->pruned = taste_history_prune(t->models_dir, store, o->keep);
        return 0;
}

int taste_history_use(TasteService *t, Store *store, uint64_t id, Error *e)
{
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_free_ char *path = NULL;
        Error error = {};
        StoreModel rec = {};
        Error db = {};
        int r;

        r = store_model_get(store, id, &rec, &db);
        store_model_done(&rec);
        if (r == -ENOENT)
                return error_setf(
                        e, r, "There is no model %" PRIu64 " in the history; see \"fluffctl model list\".",
                        id);
        if (r < 0)
                return error_setf(e, r, "Failed to read the model history: %s", error_message(&db, r));
        r = model_history_path(t->models_dir, id, &path);
        if (r < 0)
                return error_set_errno(e, r);
        /* it must load before it replaces a working model */
        r = model_load(path, &m, &error);
        if (r < 0)
                return error_setf(e, r, "Model %" PRIu64 " does not load: %s", id, error_message(&error, r));
        return install_model(t, store, id, &m, e);
}

int taste_history_remove(TasteService *t, Store *store, uint64_t id, Error *e)
{
        Error db = {};
        int r = store_model_remove(store, id, &db);
        if (r == -EBUSY)
                return error_setf(e, r,
                                  "Model %" PRIu64 " is the installed one; install another first "
                                  "(\"fluffctl model use ID\").",
                                  id);
        if (r == -ENOENT)
                return error_setf(e, r, "There is no model %" PRIu64 " in the history.", id);
        if (r < 0)
                return error_setf(e, r, "Failed to forget model %" PRIu64 ": %s", id, error_message(&db, r));
        r = model_history_remove(t->models_dir, id);
        if (r < 0)
                return error_setf(e, r, "Failed to delete the file of model %" PRIu64 ": %s", id,
                                  strerror(-r));
        return 0;
}

static bool same_file(const char *a, const char *b)
{
        struct stat x, y;
        return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* A model installed before there was a history becomes its first entry. */
static int adopt_installed(TasteService *t, Store *store)
{
        _cleanup_free_ char *info = NULL, *path = NULL, *fresh = NULL;
        _cleanup_free_ StoreLabelled *ds = NULL;
        size_t n = 0, n_pos = 0;
        uint64_t id;
        int r;

        r = describe(t->model, &info);
        if (r < 0)
                return r;
        /* its own dataset is not known: the current one is the best guess,
         * so an upgrade does not retrain at once */
        r = store_dataset_list(store, &ds, &n, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                n_pos += ds[i].label > 0;
        StoreModel rec = {.state = STORE_MODEL_ASIDE,
                          .reason = (char *)"being installed",
                          .trigger = (char *)"before the history",
                          .towers = (char *)model_towers(t->model),
                          .backbone = t->model->backbone,
                          .n_labels = n,
                          .n_pos = n_pos,
                          .n_neg = n - n_pos,
                          .auc = t->model->metrics.roc_auc,
                          .info = info};
        r = store_model_add(store, &rec, ds, n, &id, NULL);
        if (r < 0)
                return r;
        r = model_history_path(t->models_dir, id, &path);
        if (r >= 0)
                r = model_history_new_path(t->models_dir, &fresh);
        if (r >= 0 && unlink(fresh) >= 0 && link(t->path, fresh) < 0)
                r = -errno;
        if (r >= 0)
                r = model_history_adopt(t->models_dir, fresh, id);
        if (r >= 0)
                r = store_model_install(store, id, NULL);
        if (r < 0) {
                (void)store_model_remove(store, id, NULL);
                return r;
        }
        t->installed_id = id;
        log_info("The installed taste model is model %" PRIu64 " of the history now.", id);
        return 0;
}

int taste_history_reconcile(TasteService *t, Store *store)
{
        _cleanup_free_ uint64_t *on_disk = NULL, *keep = NULL;
        StoreModel *list = NULL;
        size_t n_disk = 0, n = 0, n_keep = 0;
        uint64_t installed = 0;
        int r;

        r = store_model_list(store, &list, &n, NULL);
        if (r < 0)
                return r;
        r = model_history_scan(t->models_dir, &on_disk, &n_disk);
        if (r < 0)
                goto out;
        keep = calloc(MAX(n, (size_t)1), sizeof(uint64_t));
        if (!keep) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                bool have = false;
                for (size_t k = 0; k < n_disk; k++)
                        have = have || on_disk[k] == list[i].id;
                if (!have && list[i].state != STORE_MODEL_INSTALLED) {
                        log_info("Model %" PRIu64 " has no file any more; forgetting it.", list[i].id);
                        (void)store_model_remove(store, list[i].id, NULL);
                        continue;
                }
                keep[n_keep++] = list[i].id;
                if (have && model_history_path(t->models_dir, list[i].id, &path) >= 0 &&
                    same_file(path, t->path))
                        installed = list[i].id;
        }
        r = model_history_clean(t->models_dir, keep, n_keep);
        if (r > 0)
                log_info("Removed %d unfinished model files of a stopped training.", r);

        uint64_t recorded = 0;
        (void)store_model_installed(store, &recorded, NULL);
        if (installed != 0 && installed != recorded) {
                /* the rename happened, the store update did not */
                log_info("Model %" PRIu64 " is the installed file; recording it so.", installed);
                r = store_model_install(store, installed, NULL);
                if (r < 0)
                        goto out;
                recorded = installed;
        }
        t->installed_id = recorded;
        r = 0;
        if (recorded == 0 && t->model)
                r = adopt_installed(t, store);
out:
        store_model_array_free(list, n);
        return r;
}
