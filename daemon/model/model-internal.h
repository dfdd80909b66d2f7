/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers the model library's trainers share (head, small CNN, fine-tuning). */

#include <time.h>

#include "fluff/error.h"
#include "fluff/util.h"

/* Seconds on the monotonic clock: the trainers' budgets and deadlines. */
static inline double model_now_s(void)
{
        return (double)now_usec(CLOCK_MONOTONIC) / USEC_PER_SEC;
}

/* How a training that ended with r (< 0) says so, unless a closer cause
 * already did: cancelled, or failed with r's meaning. r unchanged; 0 is left alone. */
static inline int model_train_error(Error *error, int r)
{
        if (r == -ECANCELED)
                return error_setf(error, r, "Training was cancelled.");
        if (r < 0)
                return error_setf(error, r, "Training failed: %s.", strerror(-r));
        return r;
}

typedef struct Model Model;
typedef struct ModelDataset ModelDataset;
typedef struct ModelTrainOptions ModelTrainOptions;
typedef struct ModelMetrics ModelMetrics;
typedef struct VkEngine VkEngine;

/* The head alone (train.c): what model_train did before cross-validation,
 * and what quality-train.c runs per fold. Metrics on its own validation split. */
int model_train_head(VkEngine *engine, const ModelDataset *ds, const ModelTrainOptions *o, Model **ret_model,
                     ModelMetrics *ret_metrics, Error *error);
