/* SPDX-License-Identifier: MIT */
#pragma once

/* The Train job (train-job.c): trains a new taste model on the labelled
 * posts, on a worker, within a time budget; tags plus the backbone's
 * embeddings, or without a backbone tags plus the small CNN (train-cnn.c). */

#include <stdbool.h>
#include <stdint.h>

#include "fluff/error.h"
#include "fluff/util.h"

typedef struct BackboneService BackboneService;
typedef struct Context Context;
typedef struct Job Job;
typedef struct JobRunner JobRunner;
typedef struct TasteService TasteService;

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
        unsigned patience;   /* epochs without a better validation AUC before stopping; 0: the library's
                                default */
        unsigned max_epochs; /* 0…TRAIN_PATIENCE_MAX epochs of each network at most; 0: no limit but time
                                and patience (a fixed amount of work, for tests that must not depend on
                                the machine's speed) */
        TrainTowers towers;
        bool install;   /* install the model whatever its metrics (an ablation too) */
        bool automatic; /* started by the refresh: low priority, "automatic" in the history */
} TrainJobOptions;
/* A new, queued Train job. Its model joins the history
 * (services/taste-history.h); when it is installed it replaces the loaded one
 * and EVENT_MODEL_CHANGED goes out. What it did is recorded for status
 * (services/refresh.h). */
int train_job_create(Context *ctx, BackboneService *backbone, TasteService *taste, JobRunner *runner,
                     const TrainJobOptions *o, Job **ret, Error *error);

/* The automatic retraining (auto.c): when config.auto_retrain is on, enough
 * labels changed since the installed model was trained
 * (refresh_retrain_check), no job runs, and the machine is not on battery
 * (unless config.retrain_on_battery), a Train job with
 * config.retrain_budget_s starts at low priority, its model installed only
 * if it is not worse (taste-history.h). *ret is NULL and reason says why
 * when none started (returns 0 then too). */
int train_auto_start(Context *ctx, BackboneService *backbone, TasteService *taste, JobRunner *runner,
                     bool on_battery, Job **ret, char *reason, size_t reason_size, Error *error);
