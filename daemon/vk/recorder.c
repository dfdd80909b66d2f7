/* SPDX-License-Identifier: MIT */
#include "vk-internal.h"

/* Ranges touched since the last barrier; more than this forces a barrier early. */
#define MAX_PENDING 64

typedef struct Range {
        VkBuffer buffer;
        VkDeviceSize begin, end;
} Range;

typedef struct Download {
        void *dst;
        size_t staging_offset, bytes;
} Download;

struct VkRecorder {
        VkEngine *engine; /* borrowed */
        VkCommandPool pool;
        VkCommandBuffer cmd;
        VkFence fence;
        VkBuffer staging;
        VkDeviceMemory staging_memory;
        uint8_t *staging_map;
        size_t staging_size, staging_used;

        Download *downloads;
        size_t n_downloads, downloads_cap;

        Range reads[MAX_PENDING], writes[MAX_PENDING];
        unsigned n_reads, n_writes;
        VkKernel *bound;
        bool recording;
        unsigned n_dispatches, n_barriers;
};

int vk_recorder_new(VkEngine *e, size_t staging_bytes, VkRecorder **ret)
{
        _cleanup_(vk_recorder_freep) VkRecorder *r = NULL;
        VkResult vr;
        int q;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->engine = e;

        VkCommandPoolCreateInfo pi = {
                .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                .queueFamilyIndex = e->queue_family,
        };
        vr = vkCreateCommandPool(e->device, &pi, NULL, &r->pool);
        if (vr < 0)
                return vk_result_to_errno(vr);
        VkCommandBufferAllocateInfo ai = {
                .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                .commandPool = r->pool,
                .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                .commandBufferCount = 1,
        };
        vr = vkAllocateCommandBuffers(e->device, &ai, &r->cmd);
        if (vr < 0)
                return vk_result_to_errno(vr);
        VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
        vr = vkCreateFence(e->device, &fi, NULL, &r->fence);
        if (vr < 0)
                return vk_result_to_errno(vr);

        r->staging_size = MAX((staging_bytes + 15) & ~(size_t)15, (size_t)16);
        q = vk_alloc_buffer(e, r->staging_size, e->host_memory_type, true, &r->staging, &r->staging_memory,
                            (void **)&r->staging_map);
        if (q < 0)
                return q;

        *ret = TAKE_PTR(r);
        return 0;
}

VkRecorder *vk_recorder_free(VkRecorder *r)
{
        if (!r)
                return NULL;
        VkDevice d = r->engine->device;
        /* never bound to a kernel: no descriptor set to forget */
        if (r->staging)
                vkDestroyBuffer(d, r->staging, NULL);
        r->staging = VK_NULL_HANDLE;
        vk_free_buffer(r->engine, r->staging_size, VK_NULL_HANDLE, r->staging_memory);
        if (r->fence)
                vkDestroyFence(d, r->fence, NULL);
        if (r->pool)
                vkDestroyCommandPool(d, r->pool, NULL); /* frees the command buffer too */
        free(r->downloads);
        free(r);
        return NULL;
}

size_t vk_recorder_staging_size(const VkRecorder *r)
{
        return r->staging_size;
}

int vk_recorder_begin(VkRecorder *r)
{
        VkResult vr;

        /* A recording abandoned after an error is simply restarted. */
        vr = vkResetCommandBuffer(r->cmd, 0);
        if (vr < 0)
                return vk_result_to_errno(vr);
        VkCommandBufferBeginInfo bi = {
                .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
        };
        vr = vkBeginCommandBuffer(r->cmd, &bi);
        if (vr < 0)
                return vk_result_to_errno(vr);
        r->recording = true;
        r->staging_used = 0;
        r->n_downloads = 0;
        r->n_reads = r->n_writes = 0;
        r->bound = NULL;
        r->n_dispatches = r->n_barriers = 0;
        return 0;
}

static bool overlaps(const Range *list, unsigned n, const Range *x)
{
        for (unsigned i = 0; i < n; i++)
                if (list[i].buffer == x->buffer && list[i].begin < x->end && x->begin < list[i].end)
                        return true;
        return false;
}

static void barrier(VkRecorder *r)
{
        /* One global barrier: on every driver this is as cheap as buffer barriers, and
         * transfer and compute are the only stages a step uses. */
        VkMemoryBarrier mb = {
                .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                 VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        };
        const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
        vkCmdPipelineBarrier(r->cmd, stages, stages, 0, 1, &mb, 0, NULL, 0, NULL);
        r->n_reads = r->n_writes = 0;
        r->n_barriers++;
}

/* Declares the accesses of the next command: a barrier first when one of them
 * conflicts with an access since the last barrier, then records them. */
static void track(VkRecorder *r, const Range *reads, unsigned n_reads, const Range *writes, unsigned n_writes)
{
        bool need = r->n_reads + n_reads > MAX_PENDING || r->n_writes + n_writes > MAX_PENDING;

        for (unsigned i = 0; i < n_reads && !need; i++)
                need = overlaps(r->writes, r->n_writes, &reads[i]);
        for (unsigned i = 0; i < n_writes && !need; i++)
                need = overlaps(r->writes, r->n_writes, &writes[i]) || overlaps(r->reads, r->n_reads, &writes[i]);
        if (need)
                barrier(r);
        for (unsigned i = 0; i < n_reads; i++)
                r->reads[r->n_reads++] = reads[i];
        for (unsigned i = 0; i < n_writes; i++)
                r->writes[r->n_writes++] = writes[i];
}

static Range tensor_range(const VkTensor *t, size_t bytes)
{
        return (Range){ t->buffer, t->offset, t->offset + bytes };
}

static int staging_take(VkRecorder *r, size_t bytes, size_t *ret_offset)
{
        size_t off = (r->staging_used + 15) & ~(size_t)15;

        if (off > r->staging_size || bytes > r->staging_size - off)
                return log_debug_errno(ENOSPC, "Staging buffer of %zu bytes is full.", r->staging_size);
        r->staging_used = off + bytes;
        *ret_offset = off;
        return 0;
}

int vk_recorder_upload(VkRecorder *r, VkTensor *t, const void *data, size_t bytes)
{
        size_t off;
        int q;

        if (!r->recording || bytes > t->bytes)
                return -EINVAL;
        if (bytes == 0)
                return 0;
        q = staging_take(r, bytes, &off);
        if (q < 0)
                return q;
        memcpy(r->staging_map + off, data, bytes);
        Range w = tensor_range(t, bytes);
        track(r, NULL, 0, &w, 1);
        VkBufferCopy c = { .srcOffset = off, .dstOffset = t->offset, .size = bytes };
        vkCmdCopyBuffer(r->cmd, r->staging, t->buffer, 1, &c);
        return 0;
}

int vk_recorder_download(VkRecorder *r, const VkTensor *t, void *dst, size_t bytes)
{
        size_t off;
        int q;

        if (!r->recording || bytes > t->bytes)
                return -EINVAL;
        if (bytes == 0)
                return 0;
        if (r->n_downloads == r->downloads_cap) {
                size_t cap = MAX(r->downloads_cap * 2, (size_t)8);
                Download *d = realloc(r->downloads, cap * sizeof(*d));
                if (!d)
                        return -ENOMEM;
                r->downloads = d;
                r->downloads_cap = cap;
        }
        q = staging_take(r, bytes, &off);
        if (q < 0)
                return q;
        Range rd = tensor_range(t, bytes);
        track(r, &rd, 1, NULL, 0);
        VkBufferCopy c = { .srcOffset = t->offset, .dstOffset = off, .size = bytes };
        vkCmdCopyBuffer(r->cmd, t->buffer, r->staging, 1, &c);
        r->downloads[r->n_downloads++] = (Download){ dst, off, bytes };
        return 0;
}

int vk_recorder_copy(VkRecorder *r, const VkTensor *src, size_t src_offset, VkTensor *dst, size_t dst_offset,
                     size_t bytes)
{
        if (!r->recording || !src || !dst || src_offset > src->bytes || bytes > src->bytes - src_offset ||
            dst_offset > dst->bytes || bytes > dst->bytes - dst_offset)
                return -EINVAL;
        if (bytes == 0)
                return 0;
        Range rd = { src->buffer, src->offset + src_offset, src->offset + src_offset + bytes };
        Range w = { dst->buffer, dst->offset + dst_offset, dst->offset + dst_offset + bytes };
        if (overlaps(&rd, 1, &w))
                return -EINVAL;
        track(r, &rd, 1, &w, 1);
        VkBufferCopy c = { .srcOffset = rd.begin, .dstOffset = w.begin, .size = bytes };
        vkCmdCopyBuffer(r->cmd, src->buffer, dst->buffer, 1, &c);
        return 0;
}

int vk_recorder_fill(VkRecorder *r, VkTensor *t, uint32_t pattern)
{
        if (!r->recording)
                return -EINVAL;
        Range w = tensor_range(t, t->bytes);
        track(r, NULL, 0, &w, 1);
        vkCmdFillBuffer(r->cmd, t->buffer, t->offset, t->bytes, pattern);
        return 0;
}

int vk_recorder_dispatch(VkRecorder *r, VkKernel *k, VkTensor *const *tensors, const void *push,
                         uint32_t groups_x, uint32_t groups_y, uint32_t groups_z)
{
        const uint32_t *max = r->engine->props.limits.maxComputeWorkGroupCount;
        Range reads[VK_KERNEL_MAX_BINDINGS], writes[VK_KERNEL_MAX_BINDINGS];
        unsigned n_reads = 0, n_writes = 0;
        VkDescriptorSet set;
        int q;

        if (!r->recording)
                return -EINVAL;
        if (groups_x > max[0] || groups_y > max[1] || groups_z > max[2])
                return log_debug_errno(EINVAL, "Dispatch of %u×%u×%u groups exceeds the device's limits.",
                                       groups_x, groups_y, groups_z);
        if (groups_x == 0 || groups_y == 0 || groups_z == 0)
                return 0;
        for (unsigned i = 0; i < k->info.n_bindings; i++)
                if (!tensors[i] || tensors[i]->engine != r->engine)
                        return -EINVAL;

        q = vk_kernel_descriptor_set(k, tensors, &set);
        if (q < 0)
                return q;

        for (unsigned i = 0; i < k->info.n_bindings; i++) {
                Range x = tensor_range(tensors[i], tensors[i]->bytes);
                if (k->info.write_mask & (1u << i))
                        writes[n_writes++] = x;
                else
                        reads[n_reads++] = x;
        }
        track(r, reads, n_reads, writes, n_writes);

        if (r->bound != k) {
                vkCmdBindPipeline(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, k->pipeline);
                r->bound = k;
        }
        vkCmdBindDescriptorSets(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, k->layout, 0, 1, &set, 0, NULL);
        if (k->info.push_size > 0)
                vkCmdPushConstants(r->cmd, k->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, k->info.push_size, push);
        vkCmdDispatch(r->cmd, groups_x, groups_y, groups_z);
        r->n_dispatches++;
        return 0;
}

int vk_recorder_submit_and_wait(VkRecorder *r)
{
        VkDevice d = r->engine->device;
        VkResult vr;

        if (!r->recording)
                return -EINVAL;
        r->recording = false;

        if (r->n_downloads > 0) {
                VkMemoryBarrier mb = {
                        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
                };
                vkCmdPipelineBarrier(r->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb,
                                     0, NULL, 0, NULL);
        }
        vr = vkEndCommandBuffer(r->cmd);
        if (vr < 0)
                return vk_result_to_errno(vr);
        VkSubmitInfo si = {
                .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                .commandBufferCount = 1,
                .pCommandBuffers = &r->cmd,
        };
        vr = vkQueueSubmit(r->engine->queue, 1, &si, r->fence);
        if (vr < 0)
                return log_debug_errno(vk_result_to_errno(vr), "vkQueueSubmit: %s", vk_result_to_string(vr));
        vr = vkWaitForFences(d, 1, &r->fence, VK_TRUE, UINT64_MAX);
        (void)vkResetFences(d, 1, &r->fence);
        if (vr < 0)
                return log_debug_errno(vk_result_to_errno(vr), "vkWaitForFences: %s", vk_result_to_string(vr));

        for (size_t i = 0; i < r->n_downloads; i++)
                memcpy(r->downloads[i].dst, r->staging_map + r->downloads[i].staging_offset, r->downloads[i].bytes);
        r->n_downloads = 0;
        return 0;
}

unsigned vk_recorder_n_dispatches(const VkRecorder *r)
{
        return r->n_dispatches;
}

unsigned vk_recorder_n_barriers(const VkRecorder *r)
{
        return r->n_barriers;
}
