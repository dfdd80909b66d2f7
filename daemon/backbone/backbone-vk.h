/* SPDX-License-Identifier: MIT */
#pragma once

/* The backbone on the Vulkan engine: the graph of graph.h recorded with the
 * engine's kernels (conv2d, depthwise, element-wise add, global pooling,
 * preprocessing), a whole batch in one command buffer and one submit.
 *
 * Input is what backbone_image_load_rgb8() gives: 224×224×3 uint8 RGB per
 * image; the device scales it (x/255, as nsfwjs). Output as the reference
 * pass (backbone.h): 5 class probabilities and/or the BACKBONE_EMBED_DIM
 * pooled embedding per image. The dense head runs as 1×1 convolutions; the
 * final softmax over five numbers runs on the host.
 *
 * Activation buffers are shared between layers whose lifetimes do not
 * overlap, except for the layers in blocks ≥ keep_from_block: their outputs
 * stay valid after backbone_vk_forward() (backbone_vk_activation()), so a
 * fine-tuning pass can run the backward kernels over them or cache the
 * activations entering those blocks. Nothing is fused across layers beyond
 * bias + activation, and every activation is a node output, so the backward
 * pass stays possible.
 *
 * Fusing each block's 1×1 expand with its depthwise layer (one kernel whose
 * workgroup computes the expanded rows its outputs read, as a 16-pixel ×
 * 8-columns-a-lane GEMM tile, and keeps the last three in registers, so the
 * expanded map is never stored) was built and measured on lavapipe (bb-tool
 * profile, batch 27, three runs, CPU time): the fused pairs took 1.27-1.36×
 * the two kernels' time, the whole forward pass 1.17-1.26×; per block
 * 1.0-1.1× at 14×14 with 96 inputs, 1.2-1.8× everywhere else. What it saves
 * (a store and a texel fetch per expanded value) costs less than what it
 * adds: the window of three rows live across the texel-fetch calls of the
 * GEMM loop (each call spills the live vector registers), and expand work on
 * the depthwise padding and the strip halos (1.65× the pixels at 7×7, 1.3×
 * at 14×14). */

#include "backbone.h"
#include "vk.h"

typedef struct BackboneVk BackboneVk;

/* keep_from_block for pure inference: nothing kept. */
#define BACKBONE_VK_KEEP_NONE 1000

/* Uploads the weights and builds the kernels for batches of up to max_batch
 * images. keep_from_block: BB_BLOCK_* or a block number (0…16); a value above
 * BB_BLOCK_HEAD keeps nothing. bb must outlive the result. */
int backbone_vk_new(VkEngine *e, const Backbone *bb, uint32_t max_batch, int keep_from_block,
                    BackboneVk **ret);
BackboneVk *backbone_vk_free(BackboneVk *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(BackboneVk *, backbone_vk_free);

/* The batch actually recorded per submit: max_batch, or less where the
 * device cannot address a batch's largest activation in one binding. */
uint32_t backbone_vk_max_batch(const BackboneVk *v);
/* Device bytes that grow with the batch (activations, input, features,
 * staging), for max_batch images; the weights come on top. */
uint64_t backbone_vk_batch_bytes(const BackboneVk *v);

/* n images of BACKBONE_INPUT_FLOATS bytes each (any n: split into batches).
 * ret_probs (n×5) and ret_embed (n×BACKBONE_EMBED_DIM) may each be NULL. */
int backbone_vk_forward(BackboneVk *v, const uint8_t *rgb, size_t n, float *ret_probs, float *ret_embed);

/* Profiling: runs one batch of n ≤ max_batch images with every node in its
 * own submit and writes each node's wall time (recording, submit and wait) to
 * ret_seconds[node] and the process's CPU time over the same span (all
 * threads: on a CPU device the kernels' own work, steadier than wall time on a
 * loaded machine) to ret_cpu_seconds[node] (may be NULL); [0] is the upload
 * and preprocessing. Outputs are not returned. Slower than
 * backbone_vk_forward() by a submit per node. */
int backbone_vk_profile(BackboneVk *v, const uint8_t *rgb, uint32_t n, double *ret_seconds,
                        double *ret_cpu_seconds);

/* Runs the network from node start's output on, for fine-tuning the blocks
 * after it on cached activations: act holds n × (start's h·w·c) floats, NHWC,
 * e.g. downloaded from backbone_vk_activation() after an earlier pass. start
 * must cut the graph (no later node reads an earlier one; block outputs and
 * stride-2 expansions do): -EINVAL otherwise. Feature sets at or after start
 * are written to ret_embed; earlier ones are left as they were. */
int backbone_vk_forward_from(BackboneVk *v, unsigned start, const float *act, size_t n, float *ret_probs,
                             float *ret_embed);

/* The device copies of node i's weight and bias (borrowed; fine-tuning may
 * update them in place). -ENOENT for a node without weights. */
int backbone_vk_weights(BackboneVk *v, unsigned node, VkTensor **ret_w, VkTensor **ret_b);

/* The output of graph node i ([batch][h][w][c] of the last batch, as a flat
 * tensor at least that large) if it is kept, else NULL. */
VkTensor *backbone_vk_activation(BackboneVk *v, unsigned node);

/* Augmentation for the following forward passes (fine-tuning's views): each
 * image's input is a random crop×crop window of the 224×224 image, resized
 * back to 224×224 and flipped at random, drawn on the device from seed (the
 * next batch draws from seed + 1, …). crop 0: the plain image again;
 * crop 224: flips only. -EINVAL for a crop under 112 or over 224. */
int backbone_vk_set_augment(BackboneVk *v, uint32_t crop, uint32_t seed);

/* Replaces node's device weights ([k][k][cin][cout] and [cout] as in graph.h)
 * for the following passes, e.g. with a fine-tuned layer; NULL restores the
 * backbone's own. -ENOENT for a node without weights. */
int backbone_vk_set_weights(BackboneVk *v, unsigned node, const float *w, const float *b);
