/* SPDX-License-Identifier: MIT */
#pragma once

/* fluffd's taste model: the file $XDG_DATA_HOME/fluff/models/taste.safetensors,
 * loaded on the loop when fluffd starts (a broken file is only warned about:
 * no model then), and replaced only when a training run has finished and
 * written the new file (by the Train job, train/). */

#include "fluff/util.h"
#include "model.h"

typedef struct TasteService {
        char *models_dir;      /* owned; $XDG_DATA_HOME/fluff/models, with history/ (taste-history.h) */
        uint64_t installed_id; /* the installed model in the history, 0 when unknown */
        char *path;            /* owned; the model file */
        Model *model;          /* owned; NULL without a model */
        char *info;            /* owned; model_describe_json() of model, "" without one */
        double like_threshold; /* config like_threshold: a calibrated model's threshold */
} TasteService;

/* like_threshold: the configured P(like) at or above which a post is a like;
 * the loaded model's threshold is model_like_threshold() of it, so what
 * watches, review and ModelInfo read is on the calibrated scale. */
int taste_service_new(const char *data_dir, double like_threshold, TasteService **ret);
TasteService *taste_service_free(TasteService *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(TasteService *, taste_service_free);

/* Takes m (already saved to t->path) as the loaded model. */
int taste_service_replace(TasteService *t, Model *m);
