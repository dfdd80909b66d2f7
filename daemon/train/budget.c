/* SPDX-License-Identifier: MIT */
#include "fluff/util.h"
#include "train/budget.h"

size_t train_budget_image_posts(unsigned configured, size_t row_bytes)
{
        return MIN((size_t)configured, TRAIN_DATA_BUDGET / (row_bytes + TRAIN_POST_BYTES));
}

size_t train_budget_views(size_t n, size_t row_bytes)
{
        size_t rows = n * (row_bytes + TRAIN_POST_BYTES);

        return rows >= TRAIN_DATA_BUDGET ? 0 : TRAIN_DATA_BUDGET - rows;
}
