/* SPDX-License-Identifier: MIT */
#pragma once

/* fluffd's taste model: the file $XDG_DATA_HOME/fluff/models/taste.safetensors,
 * loaded on the loop when fluffd starts (a broken file is only warned about:
 * no model then), and replaced only when a training run has finished and
 * written the new file. The Train job lives in train-job.c, the bus part
 * (Train, ModelInfo, HasModel) in bus-taste.c. */

#include "fluff/util.h"
#include "model.h"

typedef struct Daemon Daemon;
typedef struct Job Job;

typedef struct TasteService {
        char *path;   /* owned; the model file */
        Model *model; /* owned; NULL without a model */
        char *info;   /* owned; model_describe_json() of model, "" without one */
} TasteService;

int taste_service_new(const char *data_dir, TasteService **ret);
TasteService *taste_service_free(TasteService *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(TasteService *, taste_service_free);

/* Takes m (already saved to t->path) as the loaded model. */
int taste_service_replace(TasteService *t, Model *m);

/* The Train job's options (the Train method's a{sv}). */
#define TRAIN_BUDGET_MIN_S 5u
#define TRAIN_BUDGET_MAX_S (24u * 3600u)
#define TRAIN_BUDGET_DEFAULT_S 300u
#define TRAIN_PATIENCE_MAX 1000000u
/* Which towers a training may use (the Train option "towers"): an ablation
 * shows what each contributes. */
typedef enum TrainTowers {
        TRAIN_TOWERS_BOTH,
        TRAIN_TOWERS_TAGS,
        TRAIN_TOWERS_IMAGE,
        _TRAIN_TOWERS_MAX,
        _TRAIN_TOWERS_INVALID = -EINVAL,
} TrainTowers;
const char *train_towers_to_string(TrainTowers t); /* "both", "tags", "image" */
TrainTowers train_towers_from_string(const char *s);

typedef struct TrainJobOptions {
        uint64_t time_budget_s; /* TRAIN_BUDGET_MIN_S…TRAIN_BUDGET_MAX_S */
        uint64_t seed;
        unsigned patience; /* epochs without a better validation AUC before stopping; 0: the library's
                              default */
        TrainTowers towers;
} TrainJobOptions;
int train_job_new(Daemon *d, const TrainJobOptions *o, Job **ret);

int bus_taste_register(Daemon *d);
void bus_taste_emit_changed(Daemon *d); /* ModelInfo, HasModel */
