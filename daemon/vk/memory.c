/* SPDX-License-Identifier: MIT */
#include "vk-internal.h"

#define ARENA_BLOCK 64

typedef struct ArenaBlock {
        struct ArenaBlock *next;
        VkTensor tensors[ARENA_BLOCK];
} ArenaBlock;

struct VkArena {
        VkEngine *engine; /* borrowed */
        VkBuffer buffer;
        VkDeviceMemory memory;
        void *mapped;
        VkDeviceSize size, used, align;
        ArenaBlock *blocks; /* owned; kept across resets so a loop allocates once */
        size_t n_tensors;
};

size_t vk_dtype_size(VkDType t)
{
        switch (t) {
        case VK_DTYPE_F32:
        case VK_DTYPE_U32:
        case VK_DTYPE_I32:
                return 4;
        case VK_DTYPE_U8:
                return 1;
        default:
                return 0;
        }
}

bool vk_tensor_holds(const VkTensor *t, VkDType dtype, uint64_t n)
{
        return t && t->dtype == dtype && t->count >= n;
}

bool vk_tensor_holds_f32(const VkTensor *t, uint64_t n)
{
        return vk_tensor_holds(t, VK_DTYPE_F32, n);
}

int vk_tensor_layout(VkEngine *e, VkDType dtype, unsigned ndim, const uint32_t *shape, size_t *ret_count,
                     VkDeviceSize *ret_bytes)
{
        size_t es = vk_dtype_size(dtype);
        uint64_t count = 1;

        if (es == 0 || ndim < 1 || ndim > VK_TENSOR_MAX_DIMS || !shape)
                return -EINVAL;
        for (unsigned i = 0; i < ndim; i++) {
                if (shape[i] == 0)
                        return -EINVAL;
                if (count > UINT64_MAX / 16 / shape[i])
                        return -E2BIG;
                count *= shape[i];
        }
        uint64_t bytes = (count * es + 3) & ~UINT64_C(3);
        if (bytes > vk_engine_max_tensor_bytes(e))
                return -E2BIG;
        *ret_count = (size_t)count;
        *ret_bytes = bytes;
        return 0;
}

int vk_alloc_buffer(VkEngine *e, VkDeviceSize size, uint32_t type_index, bool map, VkBuffer *ret_buffer,
                    VkDeviceMemory *ret_memory, void **ret_mapped)
{
        VkBuffer buf = VK_NULL_HANDLE;
        VkDeviceMemory mem = VK_NULL_HANDLE;
        void *mapped = NULL;
        VkMemoryRequirements req;
        VkResult vr;
        int r;

        /* Check against the heap first: some drivers (lavapipe) would try to malloc it all. */
        if (size > e->mem_props.memoryHeaps[e->mem_props.memoryTypes[type_index].heapIndex].size)
                return log_debug_errno(ENOMEM, "%llu bytes do not fit the device heap.", (unsigned long long)size);

        VkBufferCreateInfo bi = {
                .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                .size = size,
                .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                         VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
        };
        vr = vkCreateBuffer(e->device, &bi, NULL, &buf);
        if (vr < 0)
                return vk_result_to_errno(vr);
        vkGetBufferMemoryRequirements(e->device, buf, &req);
        if (!(req.memoryTypeBits & (1u << type_index))) {
                /* Another type with at least the same properties that this buffer accepts. */
                VkMemoryPropertyFlags want = e->mem_props.memoryTypes[type_index].propertyFlags;
                uint32_t i;
                for (i = 0; i < e->mem_props.memoryTypeCount; i++)
                        if ((req.memoryTypeBits & (1u << i)) &&
                            (e->mem_props.memoryTypes[i].propertyFlags & want) == want)
                                break;
                if (i == e->mem_props.memoryTypeCount) {
                        r = log_debug_errno(ENOMEM, "No memory type fits a storage buffer.");
                        goto fail;
                }
                type_index = i;
        }
        VkMemoryAllocateInfo ai = {
                .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                .allocationSize = req.size,
                .memoryTypeIndex = type_index,
        };
        vr = vkAllocateMemory(e->device, &ai, NULL, &mem);
        if (vr < 0) {
                mem = VK_NULL_HANDLE;
                r = log_debug_errno(vk_result_to_errno(vr), "vkAllocateMemory(%llu): %s",
                                    (unsigned long long)req.size, vk_result_to_string(vr));
                goto fail;
        }
        vr = vkBindBufferMemory(e->device, buf, mem, 0);
        if (vr < 0) {
                r = vk_result_to_errno(vr);
                goto fail;
        }
        if (map) {
                vr = vkMapMemory(e->device, mem, 0, VK_WHOLE_SIZE, 0, &mapped);
                if (vr < 0) {
                        r = vk_result_to_errno(vr);
                        goto fail;
                }
        }
        *ret_buffer = buf;
        *ret_memory = mem;
        if (ret_mapped)
                *ret_mapped = mapped;
        e->memory_bytes += size;
        e->memory_peak = MAX(e->memory_peak, e->memory_bytes);
        return 0;
fail:
        vkDestroyBuffer(e->device, buf, NULL);
        if (mem)
                vkFreeMemory(e->device, mem, NULL);
        return r;
}

static void tensor_init(VkTensor *t, VkEngine *e, VkDType dtype, unsigned ndim, const uint32_t *shape,
                        size_t count, VkDeviceSize bytes)
{
        *t = (VkTensor){ .engine = e, .bytes = bytes, .count = count, .dtype = dtype, .ndim = ndim };
        memcpy(t->shape, shape, ndim * sizeof(uint32_t));
}

void vk_free_buffer(VkEngine *e, VkDeviceSize size, VkBuffer buffer, VkDeviceMemory memory)
{
        if (buffer) {
                vk_kernels_forget_buffer(e, buffer);
                vkDestroyBuffer(e->device, buffer, NULL);
        }
        if (memory) {
                vkFreeMemory(e->device, memory, NULL);
                e->memory_bytes -= MIN(size, e->memory_bytes);
        }
}

void vk_engine_memory(const VkEngine *e, uint64_t *ret_now, uint64_t *ret_peak)
{
        if (ret_now)
                *ret_now = e ? e->memory_bytes : 0;
        if (ret_peak)
                *ret_peak = e ? e->memory_peak : 0;
}

void vk_engine_memory_reset_peak(VkEngine *e)
{
        e->memory_peak = e->memory_bytes;
}

int vk_tensor_new(VkEngine *e, VkDType dtype, unsigned ndim, const uint32_t *shape, VkTensor **ret)
{
        _cleanup_(vk_tensor_freep) VkTensor *t = NULL;
        VkDeviceSize bytes;
        size_t count;
        int r;

        r = vk_tensor_layout(e, dtype, ndim, shape, &count, &bytes);
        if (r < 0)
                return r;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        tensor_init(t, e, dtype, ndim, shape, count, bytes);
        r = vk_alloc_buffer(e, bytes, e->device_memory_type, e->device_memory_mapped, &t->buffer, &t->own_memory,
                            &t->mapped);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

VkTensor *vk_tensor_free(VkTensor *t)
{
        if (!t)
                return NULL;
        vk_free_buffer(t->engine, t->bytes, t->buffer, t->own_memory);
        free(t);
        return NULL;
}

static int sync_recorder(VkEngine *e, size_t bytes, VkRecorder **ret)
{
        /* Grown to the largest synchronous copy seen; setup code only. */
        static const size_t min_staging = 1u << 20;
        int r;

        if (e->sync_recorder && vk_recorder_staging_size(e->sync_recorder) < bytes)
                e->sync_recorder = vk_recorder_free(e->sync_recorder);
        if (!e->sync_recorder) {
                r = vk_recorder_new(e, MAX(bytes, min_staging), &e->sync_recorder);
                if (r < 0)
                        return r;
        }
        *ret = e->sync_recorder;
        return 0;
}

int vk_tensor_upload(VkTensor *t, const void *data, size_t bytes)
{
        VkRecorder *rec;
        int r;

        if (bytes > t->bytes)
                return -EINVAL;
        if (t->mapped) {
                memcpy(t->mapped, data, bytes);
                return 0;
        }
        r = sync_recorder(t->engine, bytes, &rec);
        if (r < 0)
                return r;
        r = vk_recorder_begin(rec);
        if (r < 0)
                return r;
        r = vk_recorder_upload(rec, t, data, bytes);
        if (r < 0)
                return r;
        return vk_recorder_submit_and_wait(rec);
}

int vk_tensor_download(const VkTensor *t, void *data, size_t bytes)
{
        VkRecorder *rec;
        int r;

        if (bytes > t->bytes)
                return -EINVAL;
        if (t->mapped) {
                memcpy(data, t->mapped, bytes);
                return 0;
        }
        r = sync_recorder(t->engine, bytes, &rec);
        if (r < 0)
                return r;
        r = vk_recorder_begin(rec);
        if (r < 0)
                return r;
        r = vk_recorder_download(rec, t, data, bytes);
        if (r < 0)
                return r;
        return vk_recorder_submit_and_wait(rec);
}

int vk_tensor_fill(VkTensor *t, uint32_t pattern)
{
        VkRecorder *rec;
        int r;

        r = sync_recorder(t->engine, 0, &rec);
        if (r < 0)
                return r;
        r = vk_recorder_begin(rec);
        if (r < 0)
                return r;
        r = vk_recorder_fill(rec, t, pattern);
        if (r < 0)
                return r;
        return vk_recorder_submit_and_wait(rec);
}

int vk_arena_new(VkEngine *e, size_t bytes, VkArena **ret)
{
        _cleanup_(vk_arena_freep) VkArena *a = NULL;
        int r;

        if (bytes == 0)
                return -EINVAL;
        if (bytes > vk_engine_max_tensor_bytes(e))
                return -E2BIG;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->engine = e;
        a->size = (bytes + 3) & ~(size_t)3;
        a->align = MAX(MAX(e->props.limits.minStorageBufferOffsetAlignment,
                           e->props.limits.minTexelBufferOffsetAlignment),
                       (VkDeviceSize)16);
        r = vk_alloc_buffer(e, a->size, e->device_memory_type, e->device_memory_mapped, &a->buffer, &a->memory,
                            &a->mapped);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

VkArena *vk_arena_free(VkArena *a)
{
        if (!a)
                return NULL;
        vk_free_buffer(a->engine, a->size, a->buffer, a->memory);
        while (a->blocks) {
                ArenaBlock *b = a->blocks;
                a->blocks = b->next;
                free(b);
        }
        free(a);
        return NULL;
}

int vk_arena_tensor(VkArena *a, VkDType dtype, unsigned ndim, const uint32_t *shape, VkTensor **ret)
{
        VkDeviceSize bytes, offset;
        size_t count;
        int r;

        r = vk_tensor_layout(a->engine, dtype, ndim, shape, &count, &bytes);
        if (r < 0)
                return r;
        offset = (a->used + a->align - 1) / a->align * a->align;
        if (offset > a->size || bytes > a->size - offset)
                return -ENOSPC;

        size_t slot = a->n_tensors % ARENA_BLOCK, block = a->n_tensors / ARENA_BLOCK;
        ArenaBlock **bp = &a->blocks;
        for (size_t i = 0; i < block; i++)
                bp = &(*bp)->next;
        if (!*bp) {
                *bp = calloc(1, sizeof(ArenaBlock));
                if (!*bp)
                        return -ENOMEM;
        }
        VkTensor *t = &(*bp)->tensors[slot];
        tensor_init(t, a->engine, dtype, ndim, shape, count, bytes);
        t->buffer = a->buffer;
        t->offset = offset;
        t->mapped = a->mapped ? (uint8_t *)a->mapped + offset : NULL;
        a->used = offset + bytes;
        a->n_tensors++;
        *ret = t;
        return 0;
}

void vk_arena_reset(VkArena *a)
{
        a->used = 0;
        a->n_tensors = 0;
}

size_t vk_arena_used(const VkArena *a)
{
        return a->used;
}

size_t vk_arena_size(const VkArena *a)
{
        return a->size;
}
