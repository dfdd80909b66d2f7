/* SPDX-License-Identifier: MIT */
#include "train/train.h"

static const char *const train_towers_table[_TRAIN_TOWERS_MAX] = {
        [TRAIN_TOWERS_BOTH] = "both",
        [TRAIN_TOWERS_TAGS] = "tags",
        [TRAIN_TOWERS_IMAGE] = "image",
};

const char *train_towers_to_string(TrainTowers t)
{
        return t >= 0 && t < _TRAIN_TOWERS_MAX ? train_towers_table[t] : NULL;
}

TrainTowers train_towers_from_string(const char *s)
{
        for (int i = 0; s && i < _TRAIN_TOWERS_MAX; i++)
                if (streq(s, train_towers_table[i]))
                        return (TrainTowers)i;
        return _TRAIN_TOWERS_INVALID;
}
