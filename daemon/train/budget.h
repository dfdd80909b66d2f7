/* SPDX-License-Identifier: MIT */
#pragma once

/* What a training may hold in memory. fluffd's goal is 500 MB resident at
 * 100,000 labelled posts (issue 16), and a training is its peak: what it
 * holds of the posts on top of what fluffd holds anyway (the Vulkan engine
 * with its compiled pipelines, the mapped libraries, the daemon), which
 * bench-scale measured at ~420 MB at 12,000 posts (lavapipe; 620 MB with
 * 10,000 float image rows, 488 MB with 3,424) and this budget's change at
 * 365-375 MB after embedding 2,572 posts (the training's peak there: 391
 * MB with 1,000 half-float image rows and 1,572 tag rows, 381 MB with
 * main.c's malloc settings). So the training's data may take about 96 MB:
 * TRAIN_DATA_BUDGET, whatever train_image_posts or the history's size, and
 * every part that grows with the posts is sized from it:
 *
 *   - every labelled post's tags and label (TRAIN_TAG_POST_BYTES: the
 *     tag tower learns from all of them): 49 MB at 100,000 posts;
 *   - the image rows (a backbone embedding as half floats, 9 KB, or a
 *     small CNN crop, 16 KB) with what each holds beside it
 *     (TRAIN_POST_BYTES): at most train_budget_image_posts() posts, the
 *     newest, of what the tags leave; ~4,600 at 100,000 posts, the
 *     configured 8,000 up to ~10,000 posts;
 *   - the fine-tuning views (49 KB a post and view): what the rows and
 *     tags leave, train_budget_views(); when that is less than one plain
 *     view of every row, the training does not fine-tune (the head alone).
 *
 * Past ~190,000 posts the tags alone fill the budget; the training then
 * keeps TRAIN_BUDGET_IMAGE_POSTS_MIN image rows beside them and goes over
 * it by the tags' share. */

#include <stddef.h>
#include <stdint.h>

#include "backbone.h"

#define TRAIN_DATA_BUDGET ((size_t)96 << 20)
/* A backbone image row as the training holds it: half floats (rows.h). */
#define TRAIN_IMAGE_ROW_BYTES (BACKBONE_EMBED_DIM * sizeof(uint16_t))
/* Every labelled post: its tags twice while the dataset is built (the job's
 * builder entries and the dataset's ids, 4 bytes a tag each; ~30 on the
 * fake site, e621's posts have more), its id, label, offsets, the list
 * entry the job reads, the folds' and the regression's arrays. */
#define TRAIN_TAG_POST_BYTES ((size_t)512)
/* A post with an image row, besides the row and its tags: the image path,
 * the similarity's and the folds' per-row arrays, with room to spare. */
#define TRAIN_POST_BYTES ((size_t)1536)
/* The fewest image rows a training keeps however many posts it has. */
#define TRAIN_BUDGET_IMAGE_POSTS_MIN 1000u

/* The most posts with an image row of row_bytes a training holds beside
 * n_posts labelled posts' tags: the configured train_image_posts, or fewer
 * where the budget ends first. */
size_t train_budget_image_posts(unsigned configured, size_t row_bytes, size_t n_posts);

/* Bytes the fine-tuning views may take beside n posts' rows of row_bytes
 * and n_posts posts' tags (0 when those take the whole budget). */
size_t train_budget_views(size_t n, size_t row_bytes, size_t n_posts);
