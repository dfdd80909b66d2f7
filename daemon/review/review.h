/* SPDX-License-Identifier: MIT */
#pragma once

/* Predicted posts the user votes on or reviews.
 *
 * A vote on a post of a kept prediction run (manual or watch) moves the
 * post's crop into the dataset, $XDG_DATA_HOME/fluff/images/<md5>.jpg, and
 * records it ok, so the next training and the Embed job use it without a
 * download. The runs are pointed at the moved file: they still show an image
 * that exists, and a re-predict (which deletes only files in its own folder)
 * leaves it alone. Manager.Review lists the unvoted posts of the kept runs
 * the model is least sure about (bus-review.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Daemon Daemon;

/* Moves src to dst: rename(2), or across file systems a copy written through
 * a temporary file with fsync and rename, then src deleted. dst's folder is
 * synced either way. At most max_size bytes are copied (-EFBIG beyond). */
int file_move(const char *src, const char *dst, size_t max_size);

/* Whether path is <cache>/predictions/<md5>.jpg or <cache>/watches/<md5>.jpg
 * for this md5: the only prediction crops a vote moves. */
bool review_crop_is_ours(const char *cache_dir, const char *md5, const char *path);

/* After a like or dislike of post_id: brings its prediction crop into the
 * dataset as described above. 1 when moved, 0 when there was nothing to do
 * (not predicted, no crop left on disk, or the dataset already has a good
 * image, which is kept), < 0 on failure (the label stands regardless; the
 * next sync fetches the image). Logs at debug only. */
int review_adopt_crop(Daemon *d, uint64_t post_id);

int bus_review_register(Daemon *d);
