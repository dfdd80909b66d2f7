/* SPDX-License-Identifier: MIT */
#pragma once

/* Lists a person wants to read (issue 13): a ranked list not flooded by one
 * artist. A per-artist cap: walking down the scores, a post whose artists
 * already have `cap` posts in the list waits; the waiting posts follow, in
 * score order, once every post that fits the cap is placed (so nothing is
 * dropped and a list of one artist is still complete). Plain C.
 *
 *     uint32_t order[n];
 *     diversify_by_artist(scores, artist_offsets, artist_ids, n, 3, order);
 *     // order[0…n) are indices into scores, best first
 *
 * A post's artists are artist_ids[artist_offsets[i] … artist_offsets[i+1]);
 * a post without artists is never held back; a post with several counts
 * against each (and waits when any is full). cap 0: plain score order. */

#include <stddef.h>
#include <stdint.h>

int diversify_by_artist(const float *scores, const uint32_t *artist_offsets, const uint32_t *artist_ids,
                        size_t n, unsigned cap, uint32_t *order);
