/* SPDX-License-Identifier: MIT */
#include "fluff/shaders.h"
#include "vk-internal.h"

#define SETS_PER_POOL 64

typedef struct VkSetKey {
        VkBuffer buffer[VK_KERNEL_MAX_BINDINGS];
        VkDeviceSize offset[VK_KERNEL_MAX_BINDINGS];
        VkDeviceSize range[VK_KERNEL_MAX_BINDINGS];
} VkSetKey;

struct VkSetEntry {
        VkSetKey key;
        VkDescriptorSet set; /* VK_NULL_HANDLE: empty slot */
        VkBufferView views[VK_KERNEL_MAX_BINDINGS]; /* owned, for texel bindings */
};

static void entry_drop_views(VkKernel *k, struct VkSetEntry *x)
{
        for (unsigned i = 0; i < VK_KERNEL_MAX_BINDINGS; i++)
                if (x->views[i]) {
                        vkDestroyBufferView(k->engine->device, x->views[i], NULL);
                        x->views[i] = VK_NULL_HANDLE;
                }
}

static bool info_equal(const VkKernelInfo *a, const VkKernelInfo *b, const char *shader)
{
        return streq(shader, b->shader) && a->n_bindings == b->n_bindings && a->write_mask == b->write_mask &&
               a->texel_mask == b->texel_mask && a->texel4_mask == b->texel4_mask && a->push_size == b->push_size && a->n_spec == b->n_spec &&
               a->full_subgroups == b->full_subgroups && memcmp(a->spec, b->spec, a->n_spec * sizeof(uint32_t)) == 0;
}

static VkKernel *kernel_free(VkKernel *k)
{
        if (!k)
                return NULL;
        VkDevice d = k->engine->device;
        for (size_t i = 0; i < k->sets_cap; i++)
                entry_drop_views(k, &k->sets[i]);
        for (size_t i = 0; i < k->n_pools; i++)
                vkDestroyDescriptorPool(d, k->pools[i], NULL);
        free(k->pools);
        free(k->sets);
        free(k->free_sets);
        if (k->pipeline)
                vkDestroyPipeline(d, k->pipeline, NULL);
        if (k->layout)
                vkDestroyPipelineLayout(d, k->layout, NULL);
        if (k->set_layout)
                vkDestroyDescriptorSetLayout(d, k->set_layout, NULL);
        if (k->module)
                vkDestroyShaderModule(d, k->module, NULL);
        free(k->shader);
        free(k);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(VkKernel *, kernel_free);

void vk_kernels_free(VkEngine *e)
{
        while (e->kernels) {
                VkKernel *k = e->kernels;
                e->kernels = k->next;
                kernel_free(k);
        }
}

static int kernel_build(VkKernel *k)
{
        VkEngine *e = k->engine;
        const VkKernelInfo *info = &k->info;
        const FluffShaderEntry *s;
        VkResult vr;

        s = fluff_shader_find(k->shader);
        if (!s)
                return log_debug_errno(ENOENT, "No shader called \"%s\" is built in.", k->shader);

        VkShaderModuleCreateInfo mi = {
                .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                .codeSize = *s->size,
                .pCode = (const uint32_t *)(const void *)s->code,
        };
        vr = vkCreateShaderModule(e->device, &mi, NULL, &k->module);
        if (vr < 0)
                return vk_result_to_errno(vr);

        VkDescriptorSetLayoutBinding b[VK_KERNEL_MAX_BINDINGS];
        for (unsigned i = 0; i < info->n_bindings; i++)
                b[i] = (VkDescriptorSetLayoutBinding){
                        .binding = i,
                        .descriptorType = info->texel_mask & (1u << i) ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                                                        : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                        .descriptorCount = 1,
                        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
                };
        VkDescriptorSetLayoutCreateInfo sli = {
                .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                .bindingCount = info->n_bindings,
                .pBindings = b,
        };
        vr = vkCreateDescriptorSetLayout(e->device, &sli, NULL, &k->set_layout);
        if (vr < 0)
                return vk_result_to_errno(vr);

        VkPushConstantRange pcr = { .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = info->push_size };
        VkPipelineLayoutCreateInfo pli = {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                .setLayoutCount = 1,
                .pSetLayouts = &k->set_layout,
                .pushConstantRangeCount = info->push_size > 0,
                .pPushConstantRanges = &pcr,
        };
        vr = vkCreatePipelineLayout(e->device, &pli, NULL, &k->layout);
        if (vr < 0)
                return vk_result_to_errno(vr);

        VkSpecializationMapEntry map[VK_KERNEL_MAX_SPEC];
        for (unsigned i = 0; i < info->n_spec; i++)
                map[i] = (VkSpecializationMapEntry){ .constantID = i, .offset = i * 4, .size = 4 };
        VkSpecializationInfo si = {
                .mapEntryCount = info->n_spec,
                .pMapEntries = map,
                .dataSize = info->n_spec * 4,
                .pData = info->spec,
        };
        VkPipelineShaderStageRequiredSubgroupSizeCreateInfo rs = {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO,
                .requiredSubgroupSize = e->subgroup_size,
        };
        VkComputePipelineCreateInfo ci = {
                .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
                .stage = {
                        .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                        .pNext = info->full_subgroups && e->require_size ? &rs : NULL,
                        .flags = info->full_subgroups && e->size_control
                                         ? VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT
                                         : 0,
                        .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                        .module = k->module,
                        .pName = "main",
                        .pSpecializationInfo = info->n_spec > 0 ? &si : NULL,
                },
                .layout = k->layout,
        };
        vr = vkCreateComputePipelines(e->device, e->pipeline_cache, 1, &ci, NULL, &k->pipeline);
        if (vr < 0) {
                k->pipeline = VK_NULL_HANDLE;
                return log_debug_errno(vk_result_to_errno(vr), "Building the pipeline of \"%s\": %s", k->shader,
                                       vk_result_to_string(vr));
        }
        return 0;
}

int vk_kernel_get(VkEngine *e, const VkKernelInfo *info, VkKernel **ret)
{
        _cleanup_(kernel_freep) VkKernel *k = NULL;
        int r;

        if (!info || !info->shader || info->n_bindings > VK_KERNEL_MAX_BINDINGS ||
            info->n_spec > VK_KERNEL_MAX_SPEC || info->push_size > VK_KERNEL_MAX_PUSH || info->push_size % 4 != 0 ||
            (info->write_mask >> info->n_bindings) != 0 || (info->texel_mask >> info->n_bindings) != 0 ||
            (info->texel_mask & info->write_mask) != 0 || (info->texel4_mask & ~info->texel_mask) != 0)
                return -EINVAL;

        for (VkKernel *i = e->kernels; i; i = i->next)
                if (info_equal(info, &i->info, i->shader)) {
                        *ret = i;
                        return 0;
                }

        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        k->engine = e;
        k->info = *info;
        k->shader = strdup(info->shader);
        if (!k->shader)
                return -ENOMEM;
        k->info.shader = k->shader;
        r = kernel_build(k);
        if (r < 0)
                return r;

        k->next = e->kernels;
        e->kernels = k;
        *ret = TAKE_PTR(k);
        return 0;
}

static uint64_t key_hash(const VkSetKey *key, unsigned n)
{
        uint64_t h = 0xcbf29ce484222325ull;
        for (unsigned i = 0; i < n; i++) {
                h = (h ^ (uint64_t)(uintptr_t)key->buffer[i]) * 0x100000001b3ull;
                h = (h ^ key->offset[i]) * 0x100000001b3ull;
                h = (h ^ key->range[i]) * 0x100000001b3ull;
        }
        return h ^ (h >> 29);
}

static int sets_grow(VkKernel *k)
{
        size_t cap = k->sets_cap ? k->sets_cap * 2 : 64;
        struct VkSetEntry *n = calloc(cap, sizeof(*n));

        if (!n)
                return -ENOMEM;
        for (size_t i = 0; i < k->sets_cap; i++) {
                if (!k->sets[i].set)
                        continue;
                size_t j = key_hash(&k->sets[i].key, k->info.n_bindings) & (cap - 1);
                while (n[j].set)
                        j = (j + 1) & (cap - 1);
                n[j] = k->sets[i];
        }
        free(k->sets);
        k->sets = n;
        k->sets_cap = cap;
        return 0;
}

static int set_allocate(VkKernel *k, VkDescriptorSet *ret)
{
        VkDevice d = k->engine->device;
        VkResult vr;

        if (k->n_free > 0) {
                *ret = k->free_sets[--k->n_free];
                return 0;
        }

        if (k->pool_left == 0) {
                VkDescriptorPoolSize ps[2] = {
                        { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, SETS_PER_POOL * MAX(k->info.n_bindings, 1u) },
                        { VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, SETS_PER_POOL * MAX(k->info.n_bindings, 1u) },
                };
                VkDescriptorPoolCreateInfo pi = {
                        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                        .maxSets = SETS_PER_POOL,
                        .poolSizeCount = 2,
                        .pPoolSizes = ps,
                };
                VkDescriptorPool *pools = realloc(k->pools, (k->n_pools + 1) * sizeof(*pools));
                if (!pools)
                        return -ENOMEM;
                k->pools = pools;
                vr = vkCreateDescriptorPool(d, &pi, NULL, &k->pools[k->n_pools]);
                if (vr < 0)
                        return vk_result_to_errno(vr);
                k->n_pools++;
                k->pool_left = SETS_PER_POOL;
        }
        VkDescriptorSetAllocateInfo ai = {
                .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                .descriptorPool = k->pools[k->n_pools - 1],
                .descriptorSetCount = 1,
                .pSetLayouts = &k->set_layout,
        };
        vr = vkAllocateDescriptorSets(d, &ai, ret);
        if (vr < 0)
                return vk_result_to_errno(vr);
        k->pool_left--;
        return 0;
}

int vk_kernel_descriptor_set(VkKernel *k, VkTensor *const *tensors, VkDescriptorSet *ret)
{
        unsigned n = k->info.n_bindings;
        VkSetKey key = {};
        VkDescriptorSet set;
        int r;

        for (unsigned i = 0; i < n; i++) {
                key.buffer[i] = tensors[i]->buffer;
                key.offset[i] = tensors[i]->offset;
                key.range[i] = tensors[i]->bytes;
        }

        if (k->n_sets + 1 > k->sets_cap / 2) {
                r = sets_grow(k);
                if (r < 0)
                        return r;
        }
        size_t j = key_hash(&key, n) & (k->sets_cap - 1);
        for (; k->sets[j].set; j = (j + 1) & (k->sets_cap - 1))
                if (memcmp(&k->sets[j].key, &key, sizeof(key)) == 0) {
                        *ret = k->sets[j].set;
                        return 0;
                }

        struct VkSetEntry x = { .key = key };
        VkDescriptorBufferInfo bi[VK_KERNEL_MAX_BINDINGS];
        VkWriteDescriptorSet w[VK_KERNEL_MAX_BINDINGS];
        for (unsigned i = 0; i < n; i++) {
                bool texel = k->info.texel_mask & (1u << i);
                w[i] = (VkWriteDescriptorSet){
                        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                        .dstBinding = i,
                        .descriptorCount = 1,
                        .descriptorType = texel ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                                : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                };
                if (!texel) {
                        bi[i] = (VkDescriptorBufferInfo){ key.buffer[i], key.offset[i], key.range[i] };
                        w[i].pBufferInfo = &bi[i];
                        continue;
                }
                bool vec4 = k->info.texel4_mask & (1u << i);
                VkDeviceSize range = vec4 ? key.range[i] & ~(VkDeviceSize)15 : key.range[i];
                if (range / (vec4 ? 16 : 4) > k->engine->props.limits.maxTexelBufferElements || range == 0) {
                        entry_drop_views(k, &x);
                        return log_debug_errno(E2BIG, "Tensor of %llu bytes exceeds the texel buffer limit.",
                                               (unsigned long long)key.range[i]);
                }
                VkBufferViewCreateInfo vi = {
                        .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
                        .buffer = key.buffer[i],
                        .format = vec4 ? VK_FORMAT_R32G32B32A32_SFLOAT : VK_FORMAT_R32_SFLOAT,
                        .offset = key.offset[i],
                        .range = range,
                };
                VkResult vr = vkCreateBufferView(k->engine->device, &vi, NULL, &x.views[i]);
                if (vr < 0) {
                        x.views[i] = VK_NULL_HANDLE;
                        entry_drop_views(k, &x);
                        return vk_result_to_errno(vr);
                }
                w[i].pTexelBufferView = &x.views[i];
        }
        r = set_allocate(k, &set);
        if (r < 0) {
                entry_drop_views(k, &x);
                return r;
        }
        for (unsigned i = 0; i < n; i++)
                w[i].dstSet = set;
        vkUpdateDescriptorSets(k->engine->device, n, w, 0, NULL);
        x.set = set;
        k->sets[j] = x;
        k->n_sets++;
        *ret = set;
        return 0;
}

static int kernel_forget_buffer(VkKernel *k, VkBuffer buffer)
{
        size_t n_drop = 0;

        for (size_t i = 0; i < k->sets_cap; i++) {
                if (!k->sets[i].set)
                        continue;
                for (unsigned b = 0; b < k->info.n_bindings; b++)
                        if (k->sets[i].key.buffer[b] == buffer) {
                                n_drop++;
                                break;
                        }
        }
        if (n_drop == 0)
                return 0;
        if (k->n_free + n_drop > k->free_cap) {
                size_t cap = MAX(k->free_cap * 2, k->n_free + n_drop);
                VkDescriptorSet *f = realloc(k->free_sets, cap * sizeof(*f));
                if (!f)
                        return -ENOMEM;
                k->free_sets = f;
                k->free_cap = cap;
        }

        /* Rebuild the table without the dropped entries (open addressing has no cheap delete). */
        struct VkSetEntry *old = TAKE_PTR(k->sets);
        size_t old_cap = k->sets_cap;
        k->sets = calloc(old_cap, sizeof(*k->sets));
        if (!k->sets) {
                k->sets = old;
                return -ENOMEM;
        }
        k->n_sets = 0;
        for (size_t i = 0; i < old_cap; i++) {
                if (!old[i].set)
                        continue;
                bool drop = false;
                for (unsigned b = 0; b < k->info.n_bindings; b++)
                        drop = drop || old[i].key.buffer[b] == buffer;
                if (drop) {
                        entry_drop_views(k, &old[i]);
                        k->free_sets[k->n_free++] = old[i].set;
                        continue;
                }
                size_t j = key_hash(&old[i].key, k->info.n_bindings) & (old_cap - 1);
                while (k->sets[j].set)
                        j = (j + 1) & (old_cap - 1);
                k->sets[j] = old[i];
                k->n_sets++;
        }
        free(old);
        return 0;
}

void vk_kernels_forget_buffer(VkEngine *e, VkBuffer buffer)
{
        /* A new buffer may reuse a freed one's handle: its cached sets must go with it.
         * On -ENOMEM the stale entries stay; they are only wrong if the handle is reused. */
        for (VkKernel *k = e->kernels; k; k = k->next)
                if (kernel_forget_buffer(k, buffer) < 0)
                        log_debug("Out of memory while dropping cached descriptor sets, ignoring.");
}
