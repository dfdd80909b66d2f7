/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "vk-internal.h"

/* An odd size, so the last workgroup is partly empty and its bounds check runs. */
#define N 4097
#define LOCAL 64

typedef struct VecAddPush {
        uint32_t n;
} VecAddPush;
_Static_assert(sizeof(VecAddPush) == 4, "must match shaders/vec_add.comp");

static int run(VkEngine *e)
{
        _cleanup_(vk_tensor_freep) VkTensor *a = NULL, *b = NULL, *c = NULL;
        _cleanup_(vk_recorder_freep) VkRecorder *rec = NULL;
        _cleanup_free_ float *ha = NULL, *hb = NULL, *hc = NULL;
        VkKernel *k;
        int r;

        ha = malloc(N * sizeof(float));
        hb = malloc(N * sizeof(float));
        hc = malloc((N + 1) * sizeof(float));
        if (!ha || !hb || !hc)
                return -ENOMEM;
        for (unsigned i = 0; i < N; i++) {
                ha[i] = (float)i * 0.5f;
                hb[i] = 1000.0f - (float)(i % 97);
        }
        hc[N] = 12345.0f; /* guard: a download must not write past its size */

        r = vk_kernel_get(e,
                          &(VkKernelInfo){ .shader = "vec_add",
                                           .n_bindings = 3,
                                           .write_mask = 1u << 2,
                                           .push_size = sizeof(VecAddPush),
                                           .n_spec = 1,
                                           .spec = { LOCAL } },
                          &k);
        if (r < 0)
                return r;
        const uint32_t shape[] = { N };
        r = vk_tensor_new(e, VK_DTYPE_F32, 1, shape, &a);
        if (r < 0)
                return r;
        r = vk_tensor_new(e, VK_DTYPE_F32, 1, shape, &b);
        if (r < 0)
                return r;
        r = vk_tensor_new(e, VK_DTYPE_F32, 1, shape, &c);
        if (r < 0)
                return r;
        r = vk_recorder_new(e, 3 * N * sizeof(float) + 64, &rec);
        if (r < 0)
                return r;

        r = vk_recorder_begin(rec);
        if (r < 0)
                return r;
        r = vk_recorder_upload(rec, a, ha, N * sizeof(float));
        if (r < 0)
                return r;
        r = vk_recorder_upload(rec, b, hb, N * sizeof(float));
        if (r < 0)
                return r;
        r = vk_recorder_dispatch(rec, k, (VkTensor *[]){ a, b, c }, &(VecAddPush){ N }, (N + LOCAL - 1) / LOCAL, 1,
                                 1);
        if (r < 0)
                return r;
        r = vk_recorder_download(rec, c, hc, N * sizeof(float));
        if (r < 0)
                return r;
        r = vk_recorder_submit_and_wait(rec);
        if (r < 0)
                return r;

        for (unsigned i = 0; i < N; i++)
                if (hc[i] != ha[i] + hb[i])
                        return log_debug_errno(EIO, "vec_add: element %u is %g, expected %g.", i, hc[i],
                                               ha[i] + hb[i]);
        if (hc[N] != 12345.0f)
                return log_debug_errno(EIO, "vec_add: the download wrote past its end.");
        return 0;
}

int vk_self_test(void)
{
        _cleanup_(vk_engine_freep) VkEngine *e = NULL;
        int r;

        r = vk_engine_new(&e);
        if (r == -ENODEV)
                return log_error_errno(r, "No usable Vulkan device found. " VK_NO_DEVICE_HINT ".");
        if (r == -ENOENT)
                return log_error_errno(r, "FLUFF_VK_DEVICE=\"%s\" matches no usable Vulkan device.",
                                       getenv("FLUFF_VK_DEVICE"));
        if (r < 0)
                return log_error_errno(r, "Failed to set up the Vulkan device: %m");

        r = run(e);
        if (r < 0)
                return log_error_errno(r, "Vulkan self-test failed on %s (%s): %m", vk_engine_device_name(e),
                                       vk_device_kind_to_string(vk_engine_device_kind(e)));

        printf("fluffd: Vulkan self-test passed on %s (%s)\n", vk_engine_device_name(e),
               vk_device_kind_to_string(vk_engine_device_kind(e)));
        return 0;
}
