/* SPDX-License-Identifier: MIT */
#pragma once

/* What the daemon's embedding job calls: image files in, class probabilities
 * and embeddings out, in batches, on the Vulkan engine when one is given and
 * with the C reference pass otherwise. One unreadable image does not stop
 * the run: it gets its own status and the others go on. */

#include "backbone-vk.h"

/* Called after each batch; a negative return cancels the run (-ECANCELED). */
typedef int (*BackboneProgress)(size_t done, size_t total, void *userdata);

/* ret_embed (n×BACKBONE_EMBED_DIM) and ret_probs (n×5) may each be NULL;
 * ret_status (n, required) gets 0 or the image's negative errno, and that
 * image's outputs are zero. Returns 0, -ECANCELED, or the error that stopped
 * the whole run (device, memory). v may be NULL. Single-threaded. */
int backbone_embed_files(const Backbone *bb, BackboneVk *v, const char *const *paths, size_t n,
                         float *ret_embed, float *ret_probs, int *ret_status, BackboneProgress progress,
                         void *userdata);
