/* SPDX-License-Identifier: MIT */
#include "fluff/util.h"
#include "train/budget.h"

/* What the tags of n_posts leave of the budget. */
static size_t left_after_tags(size_t n_posts)
{
        size_t tags = n_posts * TRAIN_TAG_POST_BYTES;

        return tags >= TRAIN_DATA_BUDGET ? 0 : TRAIN_DATA_BUDGET - tags;
}

size_t train_budget_image_posts(unsigned configured, size_t row_bytes, size_t n_posts)
{
        size_t fit = left_after_tags(n_posts) / (row_bytes + TRAIN_POST_BYTES);

        return MIN((size_t)configured, MAX(fit, (size_t)TRAIN_BUDGET_IMAGE_POSTS_MIN));
}

size_t train_budget_views(size_t n, size_t row_bytes, size_t n_posts)
{
        size_t left = left_after_tags(n_posts), rows = n * (row_bytes + TRAIN_POST_BYTES);

        return rows >= left ? 0 : left - rows;
}
