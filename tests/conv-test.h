/* SPDX-License-Identifier: MIT */
#pragma once

/* Small additions to vk-test.h for the conv-family kernel tests. */

#include "vk-test.h"

/* n floats uniform in [lo, hi) from vk-test's seeded generator; caller frees. */
static inline float *random_floats(size_t n, float lo, float hi)
{
        float *a = malloc(MAX(n, (size_t)1) * sizeof(float));

        ASSERT_TRUE(a);
        vkt_fill(a, n, lo, hi);
        return a;
}

/* A u32 tensor of n elements followed by vk-test's guard words. */
static inline VkTensor *guarded_u32(VkEngine *e, size_t n)
{
        VkTensor *t;
        uint32_t *h = malloc((n + VKT_GUARD) * sizeof(uint32_t));

        ASSERT_TRUE(h);
        for (size_t i = 0; i < n + VKT_GUARD; i++)
                h[i] = VKT_GUARD_BITS;
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_U32, 1, (uint32_t[]){ (uint32_t)(n + VKT_GUARD) }, &t));
        ASSERT_OK(vk_tensor_upload(t, h, (n + VKT_GUARD) * sizeof(uint32_t)));
        free(h);
        return t;
}
