/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <strings.h>

#include "vk-internal.h"

int vk_result_to_errno(VkResult r)
{
        switch (r) {
        case VK_SUCCESS:
                return 0;
        case VK_ERROR_OUT_OF_HOST_MEMORY:
        case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        case VK_ERROR_OUT_OF_POOL_MEMORY:
        case VK_ERROR_FRAGMENTED_POOL:
        case VK_ERROR_FRAGMENTATION:
        case VK_ERROR_TOO_MANY_OBJECTS:
                return -ENOMEM;
        case VK_ERROR_INCOMPATIBLE_DRIVER:
                return -ENODEV;
        case VK_ERROR_LAYER_NOT_PRESENT:
        case VK_ERROR_EXTENSION_NOT_PRESENT:
        case VK_ERROR_FEATURE_NOT_PRESENT:
        case VK_ERROR_FORMAT_NOT_SUPPORTED:
                return -EOPNOTSUPP;
        case VK_TIMEOUT:
                return -ETIMEDOUT;
        case VK_ERROR_DEVICE_LOST:
        case VK_ERROR_INITIALIZATION_FAILED:
        case VK_ERROR_MEMORY_MAP_FAILED:
        default:
                return -EIO;
        }
}

const char *vk_result_to_string(VkResult r)
{
        switch (r) {
#define C(x)                                                                                               \
        case x:                                                                                            \
                return #x
                C(VK_SUCCESS);
                C(VK_NOT_READY);
                C(VK_TIMEOUT);
                C(VK_INCOMPLETE);
                C(VK_ERROR_OUT_OF_HOST_MEMORY);
                C(VK_ERROR_OUT_OF_DEVICE_MEMORY);
                C(VK_ERROR_INITIALIZATION_FAILED);
                C(VK_ERROR_DEVICE_LOST);
                C(VK_ERROR_MEMORY_MAP_FAILED);
                C(VK_ERROR_LAYER_NOT_PRESENT);
                C(VK_ERROR_EXTENSION_NOT_PRESENT);
                C(VK_ERROR_FEATURE_NOT_PRESENT);
                C(VK_ERROR_INCOMPATIBLE_DRIVER);
                C(VK_ERROR_TOO_MANY_OBJECTS);
                C(VK_ERROR_FORMAT_NOT_SUPPORTED);
                C(VK_ERROR_FRAGMENTED_POOL);
                C(VK_ERROR_OUT_OF_POOL_MEMORY);
                C(VK_ERROR_FRAGMENTATION);
#undef C
        default:
                return "VK_ERROR_UNKNOWN";
        }
}

static const char *const kind_table[_VK_DEVICE_KIND_MAX] = {
        [VK_DEVICE_KIND_DISCRETE] = "discrete GPU", [VK_DEVICE_KIND_INTEGRATED] = "integrated GPU",
        [VK_DEVICE_KIND_VIRTUAL] = "virtual GPU",   [VK_DEVICE_KIND_CPU] = "CPU",
        [VK_DEVICE_KIND_OTHER] = "other",
};

const char *vk_device_kind_to_string(VkDeviceKind k)
{
        return k >= 0 && k < _VK_DEVICE_KIND_MAX ? kind_table[k] : NULL;
}

static VkDeviceKind kind_from_type(VkPhysicalDeviceType t)
{
        switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
                return VK_DEVICE_KIND_DISCRETE;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
                return VK_DEVICE_KIND_INTEGRATED;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
                return VK_DEVICE_KIND_VIRTUAL;
        case VK_PHYSICAL_DEVICE_TYPE_CPU:
                return VK_DEVICE_KIND_CPU;
        default:
                return VK_DEVICE_KIND_OTHER;
        }
}

static int compute_queue_family(VkPhysicalDevice pd, uint32_t *ret)
{
        VkQueueFamilyProperties q[16];
        uint32_t n = ELEMENTSOF(q);
        int best = -1;

        vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
        /* A compute-only family is the dedicated async-compute queue on GPUs. */
        for (uint32_t i = 0; i < n; i++) {
                if (!(q[i].queueFlags & VK_QUEUE_COMPUTE_BIT))
                        continue;
                if (best < 0 || !(q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
                        best = (int)i;
        }
        if (best < 0)
                return -ENODEV;
        *ret = (uint32_t)best;
        return 0;
}

static bool usable(VkPhysicalDevice pd, const VkPhysicalDeviceProperties *p)
{
        uint32_t qf;

        if (p->apiVersion < VK_API_VERSION_1_2) {
                log_debug("Vulkan device \"%s\" supports only Vulkan %u.%u, skipping.", p->deviceName,
                          VK_API_VERSION_MAJOR(p->apiVersion), VK_API_VERSION_MINOR(p->apiVersion));
                return false;
        }
        if (compute_queue_family(pd, &qf) < 0) {
                log_debug("Vulkan device \"%s\" has no compute queue, skipping.", p->deviceName);
                return false;
        }
        return true;
}

static int pick_device(VkInstance instance, VkPhysicalDevice *ret)
{
        _cleanup_free_ VkPhysicalDevice *devs = NULL;
        const char *want = getenv("FLUFF_VK_DEVICE");
        uint32_t n = 0;
        int best = -1, best_rank = _VK_DEVICE_KIND_MAX;
        VkResult vr;

        vr = vkEnumeratePhysicalDevices(instance, &n, NULL);
        if (vr < 0)
                return log_debug_errno(vk_result_to_errno(vr), "vkEnumeratePhysicalDevices: %s",
                                       vk_result_to_string(vr));
        if (n == 0)
                return log_debug_errno(ENODEV, "The Vulkan loader reports no devices.");
        devs = calloc(n, sizeof(*devs));
        if (!devs)
                return -ENOMEM;
        vr = vkEnumeratePhysicalDevices(instance, &n, devs);
        if (vr < 0)
                return vk_result_to_errno(vr);

        unsigned want_index;
        bool by_index = !isempty(want) && safe_atou(want, &want_index) >= 0;

        for (uint32_t i = 0; i < n; i++) {
                VkPhysicalDeviceProperties p;
                vkGetPhysicalDeviceProperties(devs[i], &p);
                VkDeviceKind k = kind_from_type(p.deviceType);
                log_debug("Vulkan device %u: \"%s\" (%s)", i, p.deviceName, kind_table[k]);
                if (!usable(devs[i], &p))
                        continue;
                if (by_index) {
                        if (i == want_index) {
                                best = (int)i;
                                break;
                        }
                        continue;
                }
                if (!isempty(want)) {
                        if (strcasestr(p.deviceName, want)) {
                                best = (int)i;
                                break;
                        }
                        continue;
                }
                if ((int)k < best_rank) {
                        best = (int)i;
                        best_rank = (int)k;
                }
        }
        if (best < 0) {
                if (!isempty(want))
                        return log_debug_errno(ENOENT, "FLUFF_VK_DEVICE=\"%s\" matches no usable Vulkan device.",
                                               want);
                return log_debug_errno(ENODEV, "No Vulkan device with Vulkan 1.2 and a compute queue.");
        }
        *ret = devs[best];
        return 0;
}

static bool has_extension(VkPhysicalDevice pd, const char *name)
{
        _cleanup_free_ VkExtensionProperties *ext = NULL;
        uint32_t n = 0;

        if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) < 0 || n == 0)
                return false;
        ext = calloc(n, sizeof(*ext));
        if (!ext || vkEnumerateDeviceExtensionProperties(pd, NULL, &n, ext) < 0)
                return false;
        for (uint32_t i = 0; i < n; i++)
                if (streq(ext[i].extensionName, name))
                        return true;
        return false;
}

static int pick_memory_types(VkEngine *e)
{
        const VkPhysicalDeviceMemoryProperties *m = &e->mem_props;
        const VkMemoryPropertyFlags hv = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        int dev = -1, host = -1;

        for (uint32_t i = 0; i < m->memoryTypeCount; i++) {
                VkMemoryPropertyFlags f = m->memoryTypes[i].propertyFlags;
                if ((f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) && dev < 0)
                        dev = (int)i;
                /* Prefer cached host memory: downloads read it back on the CPU. */
                if ((f & hv) == hv &&
                    (host < 0 || ((f & VK_MEMORY_PROPERTY_HOST_CACHED_BIT) &&
                                  !(m->memoryTypes[host].propertyFlags & VK_MEMORY_PROPERTY_HOST_CACHED_BIT))))
                        host = (int)i;
        }
        if (dev < 0)
                dev = host;
        if (dev < 0 || host < 0)
                return log_debug_errno(ENODEV, "The Vulkan device has no usable memory types.");
        e->device_memory_type = (uint32_t)dev;
        e->host_memory_type = (uint32_t)host;
        e->device_memory_mapped = (m->memoryTypes[dev].propertyFlags & hv) == hv;
        /* Tests take the discrete-GPU path (staging copies) on a unified-memory device too. */
        if (getenv("FLUFF_VK_FORCE_STAGING"))
                e->device_memory_mapped = false;
        e->device_heap_size = m->memoryHeaps[m->memoryTypes[dev].heapIndex].size;
        return 0;
}

static int create_device(VkEngine *e)
{
        VkPhysicalDeviceSubgroupProperties sg = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES };
        VkPhysicalDeviceProperties2 p2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg };
        VkPhysicalDeviceSubgroupSizeControlFeatures sc = {
                .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES,
        };
        VkPhysicalDeviceFeatures2 f2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2 };
        const char *exts[1];
        uint32_t n_exts = 0;
        VkResult vr;
        int r;

        vkGetPhysicalDeviceProperties(e->phys, &e->props);
        vkGetPhysicalDeviceMemoryProperties(e->phys, &e->mem_props);
        e->kind = kind_from_type(e->props.deviceType);
        vkGetPhysicalDeviceProperties2(e->phys, &p2);
        e->subgroup_size = sg.subgroupSize;
        const VkSubgroupFeatureFlags need = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_BALLOT_BIT |
                                            VK_SUBGROUP_FEATURE_ARITHMETIC_BIT | VK_SUBGROUP_FEATURE_SHUFFLE_BIT;
        e->subgroup_ops = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                          (sg.supportedOperations & need) == need && sg.subgroupSize >= 4;

        bool size_control_ext = e->props.apiVersion < VK_API_VERSION_1_3 &&
                                has_extension(e->phys, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
        if (e->props.apiVersion >= VK_API_VERSION_1_3 || size_control_ext) {
                VkPhysicalDeviceSubgroupSizeControlProperties scp = {
                        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES,
                };
                VkPhysicalDeviceProperties2 p2b = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                                    .pNext = &scp };
                vkGetPhysicalDeviceProperties2(e->phys, &p2b);
                f2.pNext = &sc;
                vkGetPhysicalDeviceFeatures2(e->phys, &f2);
                e->size_control = sc.computeFullSubgroups;
                /* Where the compiler picks the width (Intel: 8, 16 or 32), pin it to the
                 * reported size, so a one-subgroup workgroup really is one subgroup. */
                e->require_size = sc.subgroupSizeControl &&
                                  (scp.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                                  scp.minSubgroupSize <= e->subgroup_size && e->subgroup_size <= scp.maxSubgroupSize &&
                                  scp.minSubgroupSize != scp.maxSubgroupSize;
                if (size_control_ext && e->size_control)
                        exts[n_exts++] = VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME;
        }

        r = pick_memory_types(e);
        if (r < 0)
                return r;
        r = compute_queue_family(e->phys, &e->queue_family);
        if (r < 0)
                return r;

        const float prio = 1.0f;
        VkDeviceQueueCreateInfo qi = {
                .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                .queueFamilyIndex = e->queue_family,
                .queueCount = 1,
                .pQueuePriorities = &prio,
        };
        VkPhysicalDeviceSubgroupSizeControlFeatures sc_on = {
                .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES,
                .subgroupSizeControl = e->require_size,
                .computeFullSubgroups = VK_TRUE,
        };
        VkDeviceCreateInfo di = {
                .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                .pNext = e->size_control ? &sc_on : NULL,
                .queueCreateInfoCount = 1,
                .pQueueCreateInfos = &qi,
                .enabledExtensionCount = n_exts,
                .ppEnabledExtensionNames = exts,
        };
        vr = vkCreateDevice(e->phys, &di, NULL, &e->device);
        if (vr < 0)
                return log_debug_errno(vk_result_to_errno(vr), "vkCreateDevice: %s", vk_result_to_string(vr));
        vkGetDeviceQueue(e->device, e->queue_family, 0, &e->queue);

        VkPipelineCacheCreateInfo pci = { .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO };
        vr = vkCreatePipelineCache(e->device, &pci, NULL, &e->pipeline_cache);
        if (vr < 0)
                return vk_result_to_errno(vr);

        log_debug("Vulkan device \"%s\" (%s): subgroup %u lanes%s%s, heap %llu MiB%s", e->props.deviceName,
                  kind_table[e->kind], e->subgroup_size, e->subgroup_ops ? ", subgroup ops" : "",
                  e->size_control ? ", full subgroups" : "", (unsigned long long)(e->device_heap_size >> 20),
                  e->device_memory_mapped ? ", host-visible" : "");
        return 0;
}

/* Leaves *ret VK_NULL_HANDLE on failure, so a half-built engine frees cleanly.
 *
 * lavapipe's vector width (LP_NATIVE_VECTOR_WIDTH, read when the instance is
 * created) is left to the user on purpose: at 512 bits on the AVX-512 EPYC
 * this project measures on, subgroups have 16 lanes but every kernel class of
 * the MobileNetV2 forward pass cost 1.3-2× the CPU time it costs at 256 (bb-tool
 * profile, GEMM tiles 16×8×4 and 16×4×8 tried), so choosing 512 here would make
 * fluffd slower. Revisit with kernels tiled for 16 lanes or a CPU whose 512-bit
 * FMAs are not split in two. Measured again with the GEMM of issue 18 (16×8
 * tiles, A fetched 4 k-steps per call): N=1024 GEMM 0.24× OpenBLAS at 512 bits
 * against 0.37× at 256 (median of 3 alternating runs), and the forward pass
 * 14.1 images per CPU-second at 512 against 15.8 at 256 (median of 4, bb-tool
 * profile): still no reason to switch. Again with the band-walking depthwise
 * kernel (2 alternating bb-tool profiles each, batch 27, CPU ms, 256 / 512):
 * depthwise 182, 173 / 164, 186 (a wash), 1x1 project 290, 231 / 376, 400,
 * the whole pass 33.3, 35.8 / 29.3, 26.9 images per CPU-second; the depthwise
 * kernel with 16 lanes a workgroup at 512 bits was slower than with 8 (144@56²
 * s1 / s2 at batch 32: 53 / 22 against 43 / 15 CPU ms). */
static int create_instance(VkInstance *ret)
{
        VkResult vr;
        int r;

        VkApplicationInfo app = {
                .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                .pApplicationName = "fluffd",
                .applicationVersion = VK_MAKE_API_VERSION(0, 0, 1, 0),
                .pEngineName = "fluff",
                .apiVersion = VK_API_VERSION_1_2,
        };
        VkInstanceCreateInfo ii = { .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app };
        vr = vkCreateInstance(&ii, NULL, ret);
        if (vr < 0) {
                *ret = VK_NULL_HANDLE;
                /* The loader says "incompatible driver" when it found no driver at all. */
                r = vr == VK_ERROR_INCOMPATIBLE_DRIVER || vr == VK_ERROR_INITIALIZATION_FAILED
                            ? -ENODEV
                            : vk_result_to_errno(vr);
                return log_debug_errno(r, "vkCreateInstance: %s", vk_result_to_string(vr));
        }
        return 0;
}

int vk_probe_device(char **ret_name, VkDeviceKind *ret_kind)
{
        VkInstance instance;
        VkPhysicalDevice pd;
        VkPhysicalDeviceProperties p;
        int r;

        r = create_instance(&instance);
        if (r < 0)
                return r;
        r = pick_device(instance, &pd);
        if (r >= 0) {
                vkGetPhysicalDeviceProperties(pd, &p);
                char *name = strdup(p.deviceName);
                if (!name)
                        r = -ENOMEM;
                else {
                        *ret_name = name;
                        *ret_kind = kind_from_type(p.deviceType);
                }
        }
        vkDestroyInstance(instance, NULL);
        return r;
}

int vk_engine_new(VkEngine **ret)
{
        _cleanup_(vk_engine_freep) VkEngine *e = NULL;
        int r;

        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        r = create_instance(&e->instance);
        if (r < 0)
                return r;
        r = pick_device(e->instance, &e->phys);
        if (r < 0)
                return r;
        r = create_device(e);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(e);
        return 0;
}

VkEngine *vk_engine_free(VkEngine *e)
{
        if (!e)
                return NULL;
        if (e->device) {
                (void)vkDeviceWaitIdle(e->device);
                e->sync_recorder = vk_recorder_free(e->sync_recorder);
                vk_kernels_free(e);
                if (e->pipeline_cache)
                        vkDestroyPipelineCache(e->device, e->pipeline_cache, NULL);
                vkDestroyDevice(e->device, NULL);
        }
        if (e->instance)
                vkDestroyInstance(e->instance, NULL);
        free(e);
        return NULL;
}

const char *vk_engine_device_name(const VkEngine *e)
{
        return e->props.deviceName;
}

VkDeviceKind vk_engine_device_kind(const VkEngine *e)
{
        return e->kind;
}

uint32_t vk_engine_subgroup_size(const VkEngine *e)
{
        return e->subgroup_size;
}

bool vk_engine_has_subgroup_ops(const VkEngine *e)
{
        return e->subgroup_ops;
}

uint64_t vk_engine_max_tensor_bytes(const VkEngine *e)
{
        return MIN((uint64_t)e->props.limits.maxStorageBufferRange, (uint64_t)e->device_heap_size);
}

uint64_t vk_engine_max_texel_elements(const VkEngine *e)
{
        return e->props.limits.maxTexelBufferElements;
}

void vk_engine_groups_1d(const VkEngine *e, uint64_t n, uint32_t per_group, uint32_t *ret_x, uint32_t *ret_y)
{
        uint64_t groups = (n + per_group - 1) / per_group;
        uint64_t max_x = e->props.limits.maxComputeWorkGroupCount[0];

        if (groups <= max_x) {
                *ret_x = (uint32_t)groups;
                *ret_y = groups > 0 ? 1 : 0;
                return;
        }
        *ret_y = (uint32_t)((groups + max_x - 1) / max_x);
        *ret_x = (uint32_t)((groups + *ret_y - 1) / *ret_y);
}
