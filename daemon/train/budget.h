/* SPDX-License-Identifier: MIT */
#pragma once

/* What a training may hold in memory. fluffd's goal is 500 MB resident at
 * 100,000 labelled posts (issue 16), and a training is its peak. Measured
 * on lavapipe (tests/bench/bench-scale.py): 488 MB with 3,424 image rows
 * and 620 MB with 10,000, ~20 KB a row over ~420 MB of engine (pipelines,
 * ~150 MB) and daemon; so the goal holds in training only up to about
 * 4,000 rows (train_image_posts), and the default of 10,000 misses it. This
 * budget bounds what grows with the posts, so no configured value or
 * history size can take more, TRAIN_DATA_BUDGET, and every part of the
 * data that grows with the posts is sized from it:
 *
 *   - the image rows (a backbone embedding, 18 KB, or a small CNN crop,
 *     16 KB) with their Post: at most train_budget_image_posts() posts,
 *     the newest, however large config train_image_posts is;
 *   - the fine-tuning views (49 KB a post and view): what the rows leave,
 *     train_budget_views(); when that is less than one plain view of every
 *     row, the training does not fine-tune (the head alone). */

#include <stddef.h>
#include <stdint.h>

#include "backbone.h"

#define TRAIN_DATA_BUDGET ((size_t)224 << 20)
/* A backbone image row as the training holds it: half floats (rows.h). */
#define TRAIN_IMAGE_ROW_BYTES (BACKBONE_EMBED_DIM * sizeof(uint16_t))
/* A held post besides its image row: the packed Post (post_pack(): 1.2 KB
 * with 30 tags, test-vocab; e621's posts have more), the image path, the
 * label, the dataset's tag ids, with room to spare. */
#define TRAIN_POST_BYTES ((size_t)4096)

/* The most posts with an image row of row_bytes a training holds: the
 * configured train_image_posts, or fewer where the budget ends first. */
size_t train_budget_image_posts(unsigned configured, size_t row_bytes);

/* Bytes the fine-tuning views may take beside n posts' rows of row_bytes
 * (0 when the rows take the whole budget). */
size_t train_budget_views(size_t n, size_t row_bytes);
