/* SPDX-License-Identifier: MIT */
#pragma once

/* The Train job without a backbone: tags plus the small CNN trained from
 * scratch on the stored crops (model/cnn.h). Called by train-job.c. */

#include "cnn.h"
#include "post.h"

/* Share of the budget the CNN may use; the head gets what is left (at least
 * the rest of this share when the CNN stops early). */
#define TRAIN_CNN_SHARE 0.6

/* What a post's crop holds while the CNN trains: the decoded crop
 * (CNN_ARCH_DEFAULT's stored side, RGB), its out-of-fold logit in the
 * dataset (CNN_HEAD_DIM), a network's logit of it and its half (cnn.h). */
#define TRAIN_CNN_ROW_BYTES ((size_t)72 * 72 * 3 + 2 * sizeof(float) + 1)

/* With at least min likes and min dislikes that have a crop (crops[i] not
 * NULL), *ret_cnn is true, the counts become those with a crop, and the
 * caller leaves the posts without one out; otherwise the crops are freed
 * and training uses tags only. Returns the number of posts without a crop
 * (0 for tags only). */
size_t train_cnn_select(const int8_t *labels, char **crops, size_t n, unsigned min, size_t *likes,
                        size_t *dislikes, bool *ret_cnn);

/* An empty dataset with the CNN's feature set (CNN_HEAD_DIM floats: the
 * cross-fitted logit, cnn.h). */
int train_cnn_dataset_new(uint32_t vocab, ModelDataset **ret);

/* Trains the two cross-fitted CNNs within their share of o->time_budget_s,
 * writes every post's out-of-fold logit into ds and lowers
 * o->time_budget_s to what is left for the head. */
int train_cnn_run(VkEngine *e, ModelDataset *ds, ModelTrainOptions *o, char *const *crops, ModelCnn **ret_a,
                  ModelCnn **ret_b, Error *error);
