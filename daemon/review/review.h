/* SPDX-License-Identifier: MIT */
#pragma once

/* Review: the unvoted posts of the kept prediction runs (manual and watch)
 * the model is least sure about. A vote on one moves its crop into the
 * dataset (vote/). */

#include <stddef.h>

#include "fluff/error.h"

typedef struct Context Context;
typedef struct PredictionRow PredictionRow;
typedef struct TasteService TasteService;

#define REVIEW_COUNT_DEFAULT 10u
/* Every kept run together holds at most a few hundred posts; the cap bounds a reply. */
#define REVIEW_COUNT_MAX 1000u

/* At most count posts, closest to the loaded model's threshold first; free
 * with prediction_row_array_free(). */
int review_list(Context *ctx, const TasteService *taste, unsigned count, PredictionRow **ret_rows,
                size_t *ret_n, Error *error);
