/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers the model library's trainers share (head, small CNN, fine-tuning). */

#include <time.h>

#include "fluff/util.h"

/* Seconds on the monotonic clock: the trainers' budgets and deadlines. */
static inline double model_now_s(void)
{
        return (double)now_usec(CLOCK_MONOTONIC) / USEC_PER_SEC;
}

/* *ret_error (when ret_error is not NULL) becomes the sentence, replacing an
 * earlier one: the first caller that knows why training stopped says it. */
void model_set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);

typedef struct Model Model;
typedef struct ModelDataset ModelDataset;
typedef struct ModelTrainOptions ModelTrainOptions;
typedef struct ModelMetrics ModelMetrics;
typedef struct VkEngine VkEngine;

/* The head alone (train.c): what model_train did before cross-validation,
 * and what quality-train.c runs per fold. Metrics on its own validation split. */
int model_train_head(VkEngine *engine, const ModelDataset *ds, const ModelTrainOptions *o, Model **ret_model,
                     ModelMetrics *ret_metrics, char **ret_error);
