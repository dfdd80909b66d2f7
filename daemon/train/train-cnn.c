/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "train/train-cnn.h"

size_t train_cnn_select(const int8_t *labels, char **crops, size_t n, unsigned min, size_t *likes,
                        size_t *dislikes, bool *ret_cnn)
{
        size_t with[2] = {};

        for (size_t i = 0; i < n; i++)
                if (crops[i])
                        with[labels[i] > 0]++;
        if (with[1] < min || with[0] < min) {
                /* too few crops (images not synced, or turned off): tags only */
                for (size_t i = 0; i < n; i++) {
                        free(crops[i]);
                        crops[i] = NULL;
                }
                *ret_cnn = false;
                return 0;
        }
        *likes = with[1];
        *dislikes = with[0];
        *ret_cnn = true;
        return n - with[0] - with[1];
}

int train_cnn_dataset_new(uint32_t vocab, ModelDataset **ret)
{
        ModelFeatureSet set = {.name = CNN_FEATURE_SET, .offset = 0, .dim = CNN_HEAD_DIM};

        return model_dataset_new(set.dim, vocab, &set, 1, ret);
}

int train_cnn_run(VkEngine *e, ModelDataset *ds, ModelTrainOptions *o, char *const *crops, ModelCnn **ret_a,
                  ModelCnn **ret_b, Error *error)
{
        CnnArch a = CNN_ARCH_DEFAULT;
        double start = (double)now_usec(CLOCK_MONOTONIC) / USEC_PER_SEC;
        int r;

        r = cnn_train_dataset(e, &a, ds, (const char *const *)crops, o, TRAIN_CNN_SHARE * o->time_budget_s,
                              ret_a, ret_b, error);
        if (r < 0)
                return r;
        double used = (double)now_usec(CLOCK_MONOTONIC) / USEC_PER_SEC - start;
        /* the CNN's features take a moment after its share: the head keeps at least a tenth */
        o->time_budget_s = MAX(o->time_budget_s - used, 0.1 * o->time_budget_s);
        return 0;
}
