/* SPDX-License-Identifier: MIT */
#pragma once

/* Internal to daemon/model: the fine-tuning stage of model_train() (see
 * ModelFinetuneData in model.h). */

#include "model.h"

typedef struct FinetuneContext {
        VkEngine *engine;
        const ModelDataset *ds;
        const ModelTrainOptions *o;  /* o->finetune is set */
        const uint32_t *train, *val; /* the trainer's split */
        size_t n_train, n_val;
        const uint8_t *val_labels; /* n_val */
        const float *std;          /* D: the train split's, for a set the head left out */
        float pos_weight;
        uint32_t max_nnz; /* tags in a batch of up to 256 posts */
        double deadline;  /* CLOCK_MONOTONIC seconds */
        uint64_t seed;
} FinetuneContext;

/* Trains the layer jointly with a copy of *best. When that raises the
 * validation AUC, *best becomes the tuned model (with its tail) and
 * ret_features (ds->n × D half floats, rows.h) gets every post's plain
 * view through the tuned layer, for the final metrics; otherwise both stay as they were. The AUC
 * before (the head alone, on the same views) and the best after are
 * returned either way. -ECANCELED when cancelled. */
int model_finetune(const FinetuneContext *c, Model **best, uint16_t *ret_features, double *ret_auc_before,
                   double *ret_auc_after);
