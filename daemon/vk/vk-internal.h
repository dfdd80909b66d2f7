/* SPDX-License-Identifier: MIT */
#pragma once

/* What the files of the engine share with each other; ops and users see vk.h only. */

#include "vk.h"

typedef struct VkKernelCache VkKernelCache;

struct VkEngine {
        VkInstance instance;
        VkPhysicalDevice phys;
        VkDevice device;
        VkQueue queue;
        uint32_t queue_family;
        VkPhysicalDeviceProperties props;
        VkPhysicalDeviceMemoryProperties mem_props;
        VkDeviceKind kind;
        uint32_t subgroup_size;
        bool subgroup_ops;
        bool size_control; /* VK_EXT_subgroup_size_control / Vulkan 1.3 full subgroups */
        bool require_size; /* the subgroup size varies and can be pinned per pipeline */

        uint32_t device_memory_type; /* for tensors */
        uint32_t host_memory_type;   /* for staging: host-visible, coherent, cached if possible */
        bool device_memory_mapped;   /* device_memory_type is host-visible and coherent */
        VkDeviceSize device_heap_size;
        uint64_t memory_bytes, memory_peak; /* vk_engine_memory() */

        VkPipelineCache pipeline_cache;
        VkKernel *kernels; /* owned: a list, the cache of vk_kernel_get() */

        /* for the synchronous vk_tensor_upload/download/fill */
        VkRecorder *sync_recorder; /* owned, created on first use */
};

struct VkKernel {
        VkKernel *next;
        VkEngine *engine; /* borrowed */
        char *shader;
        VkKernelInfo info;
        VkShaderModule module;
        VkDescriptorSetLayout set_layout;
        VkPipelineLayout layout;
        VkPipeline pipeline;

        /* descriptor-set cache: binding tuple → set, open addressing */
        struct VkSetEntry *sets;
        size_t n_sets, sets_cap;
        VkDescriptorPool *pools;
        size_t n_pools;
        unsigned pool_left; /* sets left in the newest pool */
        VkDescriptorSet *free_sets; /* of freed buffers, reused before allocating */
        size_t n_free, free_cap;
};

/* Allocates device memory of type_index for size bytes and a storage/transfer
 * buffer bound to it; maps it when map is true. */
int vk_alloc_buffer(VkEngine *e, VkDeviceSize size, uint32_t type_index, bool map, VkBuffer *ret_buffer,
                    VkDeviceMemory *ret_memory, void **ret_mapped);
/* Frees what vk_alloc_buffer() made for size bytes (either handle may be
 * null in a half-built owner; the count drops only with the memory). */
void vk_free_buffer(VkEngine *e, VkDeviceSize size, VkBuffer buffer, VkDeviceMemory memory);
/* The descriptor set of k for these tensors, from the cache or newly written. */
int vk_kernel_descriptor_set(VkKernel *k, VkTensor *const *tensors, VkDescriptorSet *ret);
void vk_kernels_free(VkEngine *e);
/* Drops the cached descriptor sets that reference buffer (it is being destroyed). */
void vk_kernels_forget_buffer(VkEngine *e, VkBuffer buffer);
size_t vk_recorder_staging_size(const VkRecorder *r);
/* Shape → element count and bytes, checked against the device limits. */
int vk_tensor_layout(VkEngine *e, VkDType dtype, unsigned ndim, const uint32_t *shape, size_t *ret_count,
                     VkDeviceSize *ret_bytes);
