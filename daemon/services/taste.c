/* SPDX-License-Identifier: MIT */
#include "model-history.h"
#include "services/taste.h"

static int describe(TasteService *t)
{
        _cleanup_free_ char *info = NULL;
        int r;

        if (t->model) {
                t->model->threshold = model_like_threshold(t->model, t->like_threshold);
                r = model_describe_json(t->model, &info);
                if (r < 0)
                        return r;
        } else {
                info = strdup("");
                if (!info)
                        return -ENOMEM;
        }
        free(t->info);
        t->info = TAKE_PTR(info);
        return 0;
}

int taste_service_new(const char *data_dir, double like_threshold, TasteService **ret)
{
        _cleanup_(taste_service_freep) TasteService *t = NULL;
        Error error = {};
        int r;

        t = calloc(1, sizeof(TasteService));
        if (!t)
                return -ENOMEM;
        t->like_threshold = like_threshold;
        if (asprintf(&t->models_dir, "%s/models", data_dir) < 0) {
                t->models_dir = NULL;
                return -ENOMEM;
        }
        r = model_history_installed_path(t->models_dir, &t->path);
        if (r < 0)
                return r;
        r = model_load(t->path, &t->model, &error);
        if (r == -ENOENT)
                log_info("No taste model yet; run \"fluffctl train\" once the dataset is synced.");
        else if (r < 0)
                /* The user keeps a working daemon; the next training writes a good file. */
                log_warning_errno(r,
                                  "Ignoring the taste model \"%s\": %s Train again with \"fluffctl train\".",
                                  t->path, error_message(&error, r));
        else
                log_info("Loaded the taste model of %s (validation ROC AUC %.3f).", strna(t->model->created),
                         t->model->metrics.roc_auc);
        r = describe(t);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

TasteService *taste_service_free(TasteService *t)
{
        if (!t)
                return NULL;
        model_free(t->model);
        free(t->info);
        free(t->path);
        free(t->models_dir);
        free(t);
        return NULL;
}

int taste_service_replace(TasteService *t, Model *m)
{
        Model *old = t->model;

        t->model = m;
        int r = describe(t);
        if (r < 0) {
                t->model = old;
                return r;
        }
        model_free(old);
        return 0;
}
