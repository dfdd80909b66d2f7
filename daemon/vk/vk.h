/* SPDX-License-Identifier: MIT */
#pragma once

/* The Vulkan compute engine: one device, tensors in device memory, kernels
 * (one compute shader each) and a recorder that puts a whole training step or
 * inference batch into one command buffer with one submit.
 *
 * Typical use (errors checked as r < 0 everywhere; see the op-*.h headers):
 *
 *     _cleanup_(vk_engine_freep) VkEngine *e = NULL;
 *     r = vk_engine_new(&e);                 // -ENODEV: no usable device
 *
 *     // Long-lived tensors (weights): own memory each, or one arena that is never reset.
 *     _cleanup_(vk_tensor_freep) VkTensor *w = NULL;
 *     r = vk_tensor_new(e, VK_DTYPE_F32, 2, (uint32_t[]){ 64, 32 }, &w);
 *     r = vk_tensor_upload(w, host_w, w->bytes);   // synchronous, for setup only
 *
 *     // Per-step tensors: an arena reset at the start of each step; after the first
 *     // step nothing is allocated (same sizes → same offsets → cached descriptor sets).
 *     _cleanup_(vk_arena_freep) VkArena *a = NULL;
 *     r = vk_arena_new(e, 64 << 20, &a);
 *
 *     _cleanup_(op_gemm_freep) OpGemm *gemm = NULL;
 *     r = op_gemm_new(e, &gemm);             // builds its pipeline once
 *
 *     _cleanup_(vk_recorder_freep) VkRecorder *rec = NULL;
 *     r = vk_recorder_new(e, 16 << 20, &rec); // staging room for in-step uploads/downloads
 *     for (;;) {
 *             vk_arena_reset(a);
 *             r = vk_arena_tensor(a, VK_DTYPE_F32, 2, (uint32_t[]){ batch, 64 }, &x);
 *             r = vk_recorder_begin(rec);
 *             r = vk_recorder_upload(rec, x, host_x, x->bytes);
 *             r = op_gemm_record(gemm, rec, ...);            // only records
 *             r = vk_recorder_download(rec, loss, &host_loss, sizeof(float));
 *             r = vk_recorder_submit_and_wait(rec);           // one submit; host copies land here
 *     }
 *
 * Barriers: every kernel declares which of its bindings it writes; the recorder
 * tracks the byte ranges read and written since the last barrier and inserts a
 * barrier exactly when a dispatch or copy touches a range with a pending
 * conflicting access (read-after-write, write-after-read, write-after-write).
 * Op code never records barriers.
 *
 * Threads: an engine and everything made from it is used by one thread at a
 * time (the training or inference worker). Nothing here touches the bus.
 * Errors: negative errno; VkResult never leaves this folder (vk_result_to_errno).
 * Lower layers log at debug level only; the caller decides what to report. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

#include "fluff/util.h"

typedef struct VkEngine VkEngine;
typedef struct VkArena VkArena;
typedef struct VkKernel VkKernel;
typedef struct VkRecorder VkRecorder;

/* ---- engine ---------------------------------------------------------------- */

typedef enum VkDeviceKind {
        VK_DEVICE_KIND_DISCRETE,
        VK_DEVICE_KIND_INTEGRATED,
        VK_DEVICE_KIND_VIRTUAL,
        VK_DEVICE_KIND_CPU,
        VK_DEVICE_KIND_OTHER,
        _VK_DEVICE_KIND_MAX,
        _VK_DEVICE_KIND_INVALID = -EINVAL,
} VkDeviceKind;

/* The message to show a person when vk_engine_new() returns -ENODEV. */
#define VK_NO_DEVICE_HINT                                                                                  \
        "Install a Vulkan driver: the Debian package \"mesa-vulkan-drivers\" provides one that runs on "  \
        "the CPU (lavapipe); a GPU vendor's Vulkan driver works as well"

/* Creates the instance, picks a device and opens its compute queue.
 * Preference: discrete GPU, integrated GPU, virtual GPU, CPU (lavapipe), other;
 * only devices with Vulkan ≥ 1.2 and a compute queue count. FLUFF_VK_DEVICE
 * overrides: a number is an index into the loader's device list, anything else
 * a case-insensitive substring of the device name.
 * Returns 0, -ENODEV when no usable device (or no driver) exists, -ENOENT when
 * FLUFF_VK_DEVICE matches nothing, or another negative errno. */
int vk_engine_new(VkEngine **ret);
VkEngine *vk_engine_free(VkEngine *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(VkEngine *, vk_engine_free);

/* What vk_engine_new() would pick, without creating a device (cheap enough for
 * `fluffctl status` before the engine is first used). ret_name gets a copy
 * (free it). Same errors as vk_engine_new(). */
int vk_probe_device(char **ret_name, VkDeviceKind *ret_kind);

const char *vk_engine_device_name(const VkEngine *e);
VkDeviceKind vk_engine_device_kind(const VkEngine *e);
const char *vk_device_kind_to_string(VkDeviceKind k); /* "discrete GPU", …, "CPU" */
/* Lanes per subgroup (8 on lavapipe with AVX2), and whether the subgroup
 * operations the fast kernels use (basic, ballot/broadcast, arithmetic,
 * shuffle) are available in compute shaders. */
uint32_t vk_engine_subgroup_size(const VkEngine *e);
bool vk_engine_has_subgroup_ops(const VkEngine *e);
/* Largest single tensor (bytes) a kernel binding may address. */
uint64_t vk_engine_max_tensor_bytes(const VkEngine *e);
/* Most elements a texel-buffer binding (VkKernelInfo.texel_mask) may address. */
uint64_t vk_engine_max_texel_elements(const VkEngine *e);
/* Bytes of device memory the engine's tensors, arenas and staging buffers
 * hold now, and the most they held since the engine was made or the peak
 * was last reset. On a CPU device (lavapipe) this is host memory in
 * fluffd's RSS, so a memory cap can be checked against it. */
void vk_engine_memory(const VkEngine *e, uint64_t *ret_now, uint64_t *ret_peak);
void vk_engine_memory_reset_peak(VkEngine *e);

/* VkResult → negative errno; the name for debug logs. */
int vk_result_to_errno(VkResult r);
const char *vk_result_to_string(VkResult r);

/* ---- tensors ---------------------------------------------------------------- */

typedef enum VkDType {
        VK_DTYPE_F32,
        VK_DTYPE_U32,
        VK_DTYPE_I32,
        VK_DTYPE_U8, /* packed four to a 32-bit word in shaders; bytes rounded up to 4 */
        _VK_DTYPE_MAX,
        _VK_DTYPE_INVALID = -EINVAL,
} VkDType;

#define VK_TENSOR_MAX_DIMS 4

/* A dense row-major tensor: a byte range of a VkBuffer. Fields are read-only
 * for users. The last dimension is the fastest. */
typedef struct VkTensor {
        VkEngine *engine;  /* borrowed */
        VkBuffer buffer;   /* the owner's buffer (arena or own) */
        VkDeviceSize offset;
        VkDeviceSize bytes; /* count × element size, rounded up to 4 */
        size_t count;       /* elements */
        VkDType dtype;
        unsigned ndim;
        uint32_t shape[VK_TENSOR_MAX_DIMS];
        void *mapped;       /* host pointer when the memory is host-visible and coherent, else NULL */

        /* private */
        VkDeviceMemory own_memory; /* set only for vk_tensor_new() tensors */
} VkTensor;

size_t vk_dtype_size(VkDType t);
/* Whether t is a tensor of dtype with at least n elements: what an op checks of
 * each tensor it is given before recording. False for NULL. */
bool vk_tensor_holds(const VkTensor *t, VkDType dtype, uint64_t n);
bool vk_tensor_holds_f32(const VkTensor *t, uint64_t n);

/* A tensor with its own device memory. shape has ndim (1…4) entries, each ≥ 1.
 * -EINVAL for a bad shape, -E2BIG when larger than vk_engine_max_tensor_bytes(),
 * -ENOMEM when device memory cannot hold it. */
int vk_tensor_new(VkEngine *e, VkDType dtype, unsigned ndim, const uint32_t *shape, VkTensor **ret);
VkTensor *vk_tensor_free(VkTensor *t); /* not for arena tensors: the arena owns those */
DEFINE_TRIVIAL_CLEANUP_FUNC(VkTensor *, vk_tensor_free);

/* Synchronous copies between host and tensor (through a staging buffer, or
 * directly where memory is host-visible). For setup and tests; inside a step
 * use vk_recorder_upload/download. bytes ≤ t->bytes; a shorter copy touches
 * only the first bytes. */
int vk_tensor_upload(VkTensor *t, const void *data, size_t bytes);
int vk_tensor_download(const VkTensor *t, void *data, size_t bytes);
/* Fills the whole tensor with a 32-bit pattern (0 or a float's bits). */
int vk_tensor_fill(VkTensor *t, uint32_t pattern);

/* ---- arena: one device allocation, bump-allocated, reset per step ------------ */

/* bytes of device memory, allocated once. -ENOMEM / -E2BIG as for tensors. */
int vk_arena_new(VkEngine *e, size_t bytes, VkArena **ret);
VkArena *vk_arena_free(VkArena *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(VkArena *, vk_arena_free);
/* Carves a tensor out of the arena. The VkTensor is owned by the arena and
 * stays valid until vk_arena_reset()/free. -ENOSPC when the arena is full,
 * -EINVAL for a bad shape. Allocates no device memory (and, after the first
 * step of a loop, no host memory either). */
int vk_arena_tensor(VkArena *a, VkDType dtype, unsigned ndim, const uint32_t *shape, VkTensor **ret);
/* Forgets every tensor carved so far (their pointers become invalid). */
void vk_arena_reset(VkArena *a);
size_t vk_arena_used(const VkArena *a);
size_t vk_arena_size(const VkArena *a);

/* ---- kernels: one compute shader + its pipeline ------------------------------- */

#define VK_KERNEL_MAX_BINDINGS 8
#define VK_KERNEL_MAX_SPEC 16
#define VK_KERNEL_MAX_PUSH 128

typedef struct VkKernelInfo {
        const char *shader;     /* name of shaders/<name>.comp */
        unsigned n_bindings;    /* storage buffers at set 0, bindings 0…n-1 */
        uint32_t write_mask;    /* bit i set: binding i is written (else only read) */
        uint32_t texel_mask;    /* bit i set: binding i is a read-only R32F uniform texel buffer
                                 * (`uniform samplerBuffer`): on lavapipe its loads are vector
                                 * gathers, far cheaper than per-lane storage-buffer loads */
        uint32_t texel4_mask;   /* subset of texel_mask viewed as RGBA32F (a vec4 per fetch); the
                                 * view covers the tensor's bytes rounded down to 16 */
        uint32_t push_size;     /* bytes of the push-constant block (≤ 128, multiple of 4) */
        unsigned n_spec;        /* specialization constants, constant_id 0…n_spec-1 */
        uint32_t spec[VK_KERNEL_MAX_SPEC];
        bool full_subgroups;    /* require full subgroups of exactly vk_engine_subgroup_size() lanes
                                 * (pinned where the device lets the compiler choose) */
} VkKernelInfo;

/* Returns the kernel for info, building its pipeline on first use; the engine
 * owns and caches it (same shader + spec constants → same kernel), so ops
 * never free kernels. -ENOENT for an unknown shader, -EINVAL for a bad info. */
int vk_kernel_get(VkEngine *e, const VkKernelInfo *info, VkKernel **ret);
/* vk_kernel_get() for the common element-wise case: storage buffers only, and
 * one specialization constant, the workgroup size local. */
int vk_kernel_get_1d(VkEngine *e, const char *shader, unsigned n_bindings, uint32_t write_mask,
                     uint32_t push_size, uint32_t local, VkKernel **ret);

/* ---- recorder: one command buffer per step ------------------------------------ */

/* staging_bytes: room for all uploads and downloads of one recording. */
int vk_recorder_new(VkEngine *e, size_t staging_bytes, VkRecorder **ret);
VkRecorder *vk_recorder_free(VkRecorder *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(VkRecorder *, vk_recorder_free);

/* Starts a recording (the previous one must have been submitted or abandoned). */
int vk_recorder_begin(VkRecorder *r);
/* Copies data into the staging buffer now and records its copy into t at this
 * point of the command stream. -ENOSPC when staging is full. */
int vk_recorder_upload(VkRecorder *r, VkTensor *t, const void *data, size_t bytes);
/* Records a copy of t's first bytes to staging; they are written to dst by
 * vk_recorder_submit_and_wait(). dst must stay valid until then. */
int vk_recorder_download(VkRecorder *r, const VkTensor *t, void *dst, size_t bytes);
/* Records a device-side copy of bytes from src (at src_offset) to dst (at
 * dst_offset), e.g. keeping the best weights for early stopping. -EINVAL when a
 * range leaves its tensor or the two ranges overlap in one buffer. */
int vk_recorder_copy(VkRecorder *r, const VkTensor *src, size_t src_offset, VkTensor *dst, size_t dst_offset,
                     size_t bytes);
/* Records a fill of t with a 32-bit pattern. */
int vk_recorder_fill(VkRecorder *r, VkTensor *t, uint32_t pattern);
/* Records one dispatch: tensors[i] is bound to binding i (k's n_bindings of
 * them), push is k's push_size bytes. Group counts must be ≥ 1 and within the
 * device's limits (-EINVAL otherwise); a zero count means "nothing to do" and
 * records nothing. */
int vk_recorder_dispatch(VkRecorder *r, VkKernel *k, VkTensor *const *tensors, const void *push,
                         uint32_t groups_x, uint32_t groups_y, uint32_t groups_z);
/* Ends the recording, submits it, waits, and copies downloads to their
 * destinations. The recorder can then begin again. */
int vk_recorder_submit_and_wait(VkRecorder *r);
/* Counters for tests and benchmarks: dispatches and barriers in the last recording. */
unsigned vk_recorder_n_dispatches(const VkRecorder *r);
unsigned vk_recorder_n_barriers(const VkRecorder *r);

/* Splits n work items into groups of `per_group`, as dispatch counts for x and y
 * (y > 1 only when x would exceed the device's limit; shaders recover the flat
 * index as gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x). */
void vk_engine_groups_1d(const VkEngine *e, uint64_t n, uint32_t per_group, uint32_t *ret_x, uint32_t *ret_y);

/* ---- ops ------------------------------------------------------------------------
 *
 * Each op lives in op-<name>.h/.c with a shaders/<name>.comp (a few ops have a
 * second shader for their backward pass) and follows one pattern:
 *
 *     typedef struct OpName OpName;
 *     int op_name_new(VkEngine *e, OpName **ret);   // gets its kernel(s): pipelines built once
 *     OpName *op_name_free(OpName *op);               // NULL-safe
 *     int op_name_record(OpName *op, VkRecorder *r, <tensors…>, <shape/params…>);
 *
 * record() only validates (shapes against the tensors' counts → -EINVAL, never a
 * crash or an out-of-bounds dispatch), fills the push-constant struct (a C
 * mirror of the shader's block, _Static_assert on its size) and calls
 * vk_recorder_dispatch(). It never records barriers and never allocates. A
 * binding an op does not need in a given call (e.g. no bias) is bound to
 * another tensor of the same call and flagged off in the push constants. */

/* Activations fused into kernels; same values as ACT_* in shaders/common.glsl. */
typedef enum VkActivation {
        VK_ACTIVATION_NONE = 0,
        VK_ACTIVATION_RELU = 1,
        VK_ACTIVATION_RELU6 = 2,
        _VK_ACTIVATION_MAX,
        _VK_ACTIVATION_INVALID = -EINVAL,
} VkActivation;

/* ---- self test ------------------------------------------------------------------ */

/* Runs the vec_add shader on the chosen device and checks its result.
 * Prints the device on success; logs the reason (with VK_NO_DEVICE_HINT when
 * there is no device) on failure.
 * Returns 0, -ENODEV when no Vulkan device is usable, or another negative errno. */
int vk_self_test(void);
