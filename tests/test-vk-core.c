/* SPDX-License-Identifier: MIT */
/* The engine's core: device info, tensors, the arena, the recorder's barrier
 * tracking and staging, the descriptor-set cache. Must survive: invalid
 * shapes, tensors and arenas larger than the device can hold, a full arena, a
 * full staging buffer, out-of-range dispatches, and buffer handles reused after
 * a free (no stale cached descriptor set). */
#include "op-eltwise.h"
#include "vk-test.h"

TEST(device)
{
        VkEngine *e = vkt_engine();

        ASSERT_FALSE(isempty(vk_engine_device_name(e)));
        ASSERT_TRUE(vk_device_kind_to_string(vk_engine_device_kind(e)) != NULL);
        ASSERT_TRUE(vk_engine_subgroup_size(e) >= 1);
        ASSERT_TRUE(vk_engine_max_tensor_bytes(e) >= (64u << 20));
        ASSERT_STREQ(vk_device_kind_to_string(VK_DEVICE_KIND_CPU), "CPU");
        ASSERT_TRUE(vk_device_kind_to_string(_VK_DEVICE_KIND_MAX) == NULL);
}

TEST(probe)
{
        VkEngine *e = vkt_engine();
        _cleanup_free_ char *name = NULL;
        VkDeviceKind kind;

        ASSERT_OK(vk_probe_device(&name, &kind));
        ASSERT_STREQ(name, vk_engine_device_name(e));
        ASSERT_EQ(kind, vk_engine_device_kind(e));
}

TEST(device_override)
{
        VkEngine *e = NULL;

        /* An override matching nothing is an error of its own, not a silent fallback. */
        setenv("FLUFF_VK_DEVICE", "no-such-device-anywhere", 1);
        ASSERT_ERROR(vk_engine_new(&e), ENOENT);
        setenv("FLUFF_VK_DEVICE", "0", 1);
        ASSERT_OK(vk_engine_new(&e));
        e = vk_engine_free(e);
        unsetenv("FLUFF_VK_DEVICE");
        ASSERT_TRUE(vk_engine_free(NULL) == NULL);
}

TEST(tensor_shapes)
{
        VkEngine *e = vkt_engine();
        VkTensor *t = NULL;

        ASSERT_ERROR(vk_tensor_new(e, VK_DTYPE_F32, 0, (uint32_t[]){ 1 }, &t), EINVAL);
        ASSERT_ERROR(vk_tensor_new(e, VK_DTYPE_F32, 5, (uint32_t[]){ 1, 1, 1, 1, 1 }, &t), EINVAL);
        ASSERT_ERROR(vk_tensor_new(e, VK_DTYPE_F32, 2, (uint32_t[]){ 3, 0 }, &t), EINVAL);
        ASSERT_ERROR(vk_tensor_new(e, _VK_DTYPE_MAX, 1, (uint32_t[]){ 3 }, &t), EINVAL);
        ASSERT_TRUE(t == NULL);

        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_U8, 3, (uint32_t[]){ 3, 5, 7 }, &t));
        ASSERT_EQ(t->count, 105);
        ASSERT_EQ(t->bytes, 108); /* rounded up to whole words */
        uint8_t in[105], out[105];
        for (unsigned i = 0; i < sizeof(in); i++)
                in[i] = (uint8_t)(i * 37);
        ASSERT_OK(vk_tensor_upload(t, in, sizeof(in)));
        ASSERT_OK(vk_tensor_download(t, out, sizeof(out)));
        ASSERT_TRUE(memcmp(in, out, sizeof(in)) == 0);
        ASSERT_ERROR(vk_tensor_upload(t, in, 109), EINVAL);
        t = vk_tensor_free(t);
}

TEST(out_of_memory)
{
        VkEngine *e = vkt_engine();
        VkTensor *t = NULL;
        VkArena *a = NULL;
        uint64_t too_big = vk_engine_max_tensor_bytes(e) / 4 + 1;
        int r;

        /* Larger than any single binding or the heap: refused before any allocation. */
        r = vk_tensor_new(e, VK_DTYPE_F32, 2, (uint32_t[]){ (uint32_t)(too_big / 1024 + 1), 1024 }, &t);
        ASSERT_TRUE(r == -E2BIG || r == -ENOMEM);
        r = vk_tensor_new(e, VK_DTYPE_F32, 4, (uint32_t[]){ 65536, 65536, 65536, 65536 }, &t);
        ASSERT_TRUE(r == -E2BIG || r == -ENOMEM);
        r = vk_arena_new(e, (size_t)vk_engine_max_tensor_bytes(e) + 4096, &a);
        ASSERT_TRUE(r == -E2BIG || r == -ENOMEM);
        ASSERT_TRUE(t == NULL && a == NULL);
}

TEST(arena)
{
        VkEngine *e = vkt_engine();
        _cleanup_(vk_arena_freep) VkArena *a = NULL;
        VkTensor *t[100], *x;

        ASSERT_OK(vk_arena_new(e, 100 * 64, &a));
        for (unsigned i = 0; i < 100; i++) {
                ASSERT_OK(vk_arena_tensor(a, VK_DTYPE_F32, 1, (uint32_t[]){ 13 }, &t[i]));
                ASSERT_TRUE(t[i]->offset % 16 == 0);
                if (i > 0)
                        ASSERT_TRUE(t[i]->offset >= t[i - 1]->offset + t[i - 1]->bytes);
        }
        ASSERT_ERROR(vk_arena_tensor(a, VK_DTYPE_F32, 1, (uint32_t[]){ 13 }, &x), ENOSPC);
        ASSERT_ERROR(vk_arena_tensor(a, VK_DTYPE_F32, 1, (uint32_t[]){ 0 }, &x), EINVAL);

        /* A reset loop carves the same tensors at the same places: cached descriptor sets hit. */
        VkDeviceSize off50 = t[50]->offset;
        vk_arena_reset(a);
        ASSERT_EQ(vk_arena_used(a), 0);
        for (unsigned i = 0; i < 100; i++)
                ASSERT_OK(vk_arena_tensor(a, VK_DTYPE_F32, 1, (uint32_t[]){ 13 }, &t[i]));
        ASSERT_EQ(t[50]->offset, off50);

        float in[13], out[13];
        vkt_fill(in, 13, -1, 1);
        ASSERT_OK(vk_tensor_upload(t[99], in, sizeof(in)));
        ASSERT_OK(vk_tensor_download(t[99], out, sizeof(out)));
        ASSERT_TRUE(memcmp(in, out, sizeof(in)) == 0);
}

/* What vk_engine_memory() counts: a memory cap is checked against it. */
TEST(memory_accounting)
{
        VkEngine *e = vkt_engine();
        VkTensor *t = NULL;
        VkArena *a = NULL;
        VkRecorder *rec = NULL;
        uint64_t base, now, peak;

        vk_engine_memory(e, &base, NULL);
        vk_engine_memory_reset_peak(e);
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){1u << 18}, &t));
        vk_engine_memory(e, &now, &peak);
        ASSERT_EQ(now, base + (1u << 20));
        ASSERT_OK(vk_arena_new(e, 3u << 20, &a));
        ASSERT_OK(vk_recorder_new(e, 1u << 20, &rec));
        vk_engine_memory(e, &now, &peak);
        ASSERT_EQ(now, base + (5u << 20));
        ASSERT_EQ(peak, now);
        t = vk_tensor_free(t);
        a = vk_arena_free(a);
        rec = vk_recorder_free(rec);
        vk_engine_memory(e, &now, &peak);
        ASSERT_EQ(now, base); /* every free counted back */
        ASSERT_EQ(peak, base + (5u << 20));
        vk_engine_memory_reset_peak(e);
        vk_engine_memory(e, NULL, &peak);
        ASSERT_EQ(peak, base);
}

TEST(barriers)
{
        VkEngine *e = vkt_engine();
        _cleanup_(op_eltwise_freep) OpEltwise *op = NULL;
        _cleanup_(vk_arena_freep) VkArena *ar = NULL;
        _cleanup_(vk_recorder_freep) VkRecorder *rec = NULL;
        VkTensor *a, *b, *c, *d, *x;
        const size_t n = 1000;
        float ha[1000], hb[1000], hd[1000];

        ASSERT_OK(op_eltwise_new(e, &op));
        ASSERT_OK(vk_arena_new(e, 1 << 20, &ar));
        ASSERT_OK(vk_recorder_new(e, 3 * n * 4 + 64, &rec));
        vkt_fill(ha, n, -1, 1);
        vkt_fill(hb, n, -1, 1);

        for (int step = 0; step < 3; step++) {
                vk_arena_reset(ar);
                ASSERT_OK(vk_arena_tensor(ar, VK_DTYPE_F32, 1, (uint32_t[]){ n }, &a));
                ASSERT_OK(vk_arena_tensor(ar, VK_DTYPE_F32, 1, (uint32_t[]){ n }, &b));
                ASSERT_OK(vk_arena_tensor(ar, VK_DTYPE_F32, 1, (uint32_t[]){ n }, &c));
                ASSERT_OK(vk_arena_tensor(ar, VK_DTYPE_F32, 1, (uint32_t[]){ n }, &d));
                ASSERT_OK(vk_arena_tensor(ar, VK_DTYPE_F32, 1, (uint32_t[]){ n }, &x));
                ASSERT_OK(vk_recorder_begin(rec));
                ASSERT_OK(vk_recorder_upload(rec, a, ha, sizeof(ha)));
                ASSERT_OK(vk_recorder_upload(rec, b, hb, sizeof(hb)));
                ASSERT_OK(op_eltwise_record_add(op, rec, a, b, c, n)); /* reads uploads: barrier 1 */
                ASSERT_OK(op_eltwise_record_add(op, rec, a, b, x, n)); /* independent: none */
                ASSERT_OK(op_eltwise_record_add(op, rec, c, x, d, n)); /* reads c, x: barrier 2 */
                ASSERT_OK(op_eltwise_record_scale(op, rec, 2.0f, b, a, n)); /* overwrites a read before: barrier 3 */
                ASSERT_OK(vk_recorder_download(rec, d, hd, sizeof(hd))); /* none: d's writer is behind barrier 3 */
                ASSERT_EQ(vk_recorder_n_dispatches(rec), 4);
                ASSERT_EQ(vk_recorder_n_barriers(rec), 3);
                ASSERT_OK(vk_recorder_submit_and_wait(rec));
                for (size_t i = 0; i < n; i++)
                        ASSERT_NEAR(hd[i], 2 * (ha[i] + hb[i]), 1e-6);
        }
}

TEST(staging_and_dispatch_limits)
{
        VkEngine *e = vkt_engine();
        _cleanup_(op_eltwise_freep) OpEltwise *op = NULL;
        _cleanup_(vk_recorder_freep) VkRecorder *rec = NULL;
        VkTensor *t = vkt_tensor(e, 1000, NULL);
        VkKernel *k;
        float h[1000] = { 0 };

        ASSERT_OK(vk_recorder_new(e, 1024, &rec));
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(vk_recorder_upload(rec, t, h, 1000));
        ASSERT_ERROR(vk_recorder_upload(rec, t, h, 1000), ENOSPC);
        ASSERT_OK(op_eltwise_new(e, &op));
        ASSERT_OK(vk_kernel_get(e, &(VkKernelInfo){ .shader = "eltwise", .n_bindings = 3, .write_mask = 4,
                                                    .push_size = 16, .n_spec = 1, .spec = { 256 } },
                                &k));
        ASSERT_ERROR(vk_recorder_dispatch(rec, k, (VkTensor *[]){ t, t, t }, h, UINT32_MAX, 1, 1), EINVAL);
        ASSERT_ERROR(vk_recorder_dispatch(rec, k, (VkTensor *[]){ t, NULL, t }, h, 1, 1, 1), EINVAL);
        /* The cache keys on the shader's name too: two shaders with the same
         * bindings, push size and spec constants are two kernels. */
        VkKernel *k1, *k2;
        ASSERT_OK(vk_kernel_get(e, &(VkKernelInfo){ .shader = "bce_backward", .n_bindings = 5, .write_mask = 1u << 4,
                                                    .push_size = 20, .n_spec = 1, .spec = { 256 } },
                                &k1));
        ASSERT_OK(vk_kernel_get(e, &(VkKernelInfo){ .shader = "embag_backward", .n_bindings = 5, .write_mask = 1u << 4,
                                                    .push_size = 20, .n_spec = 1, .spec = { 256 } },
                                &k2));
        ASSERT_TRUE(k1 != k2);
        ASSERT_ERROR(vk_kernel_get(e, &(VkKernelInfo){ .shader = "no_such_shader", .n_bindings = 1 }, &k), ENOENT);
        ASSERT_ERROR(vk_kernel_get(e, &(VkKernelInfo){ .shader = "eltwise", .n_bindings = 3, .push_size = 6 }, &k),
                     EINVAL);
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        /* Submitting twice without begin is an error, not a double submit. */
        ASSERT_ERROR(vk_recorder_submit_and_wait(rec), EINVAL);
        vk_tensor_free(t);
}

TEST(stale_descriptor_sets)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_eltwise_freep) OpEltwise *op = NULL;
        float h[64], out[64];

        ASSERT_OK(op_eltwise_new(e, &op));
        for (int round = 0; round < 20; round++) {
                vkt_fill(h, 64, -1, 1);
                VkTensor *a = vkt_tensor(e, 64, h), *c = vkt_tensor(e, 64, NULL);
                ASSERT_OK(vk_recorder_begin(rec));
                ASSERT_OK(op_eltwise_record_scale(op, rec, 3.0f, a, c, 64));
                ASSERT_OK(vk_recorder_download(rec, c, out, sizeof(out)));
                ASSERT_OK(vk_recorder_submit_and_wait(rec));
                for (int i = 0; i < 64; i++)
                        ASSERT_NEAR(out[i], 3.0f * h[i], 1e-6);
                vk_tensor_free(a);
                vk_tensor_free(c);
        }
}

TEST(device_copy)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_eltwise_freep) OpEltwise *op = NULL;
        float h[100], out[100];

        vkt_fill(h, 100, -1, 1);
        VkTensor *a = vkt_tensor(e, 100, h), *b = vkt_tensor(e, 100, NULL);
        ASSERT_OK(op_eltwise_new(e, &op));
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_eltwise_record_scale(op, rec, 2.0f, a, a, 100));  /* a = 2a */
        ASSERT_OK(vk_recorder_copy(rec, a, 40, b, 0, 60 * 4));          /* b[0…59] = a[10…69]: after a barrier */
        ASSERT_EQ(vk_recorder_n_barriers(rec), 1);
        ASSERT_OK(vk_recorder_download(rec, b, out, sizeof(out)));
        ASSERT_ERROR(vk_recorder_copy(rec, a, 4, a, 8, 16), EINVAL);     /* overlapping */
        ASSERT_ERROR(vk_recorder_copy(rec, a, 0, b, 4, b->bytes), EINVAL); /* past dst's end */
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        for (int i = 0; i < 60; i++)
                ASSERT_NEAR(out[i], 2.0f * h[10 + i], 0);
        vkt_check_guard(b, 100);
        vk_tensor_free(a);
        vk_tensor_free(b);
}

TEST(staging_path)
{
        /* The path a discrete GPU takes (device memory not mapped: every synchronous
         * copy goes through the staging buffer), forced on this device. */
        _cleanup_(vk_engine_freep) VkEngine *e = NULL;
        _cleanup_(op_eltwise_freep) OpEltwise *op = NULL;
        _cleanup_(vk_recorder_freep) VkRecorder *rec = NULL;
        VkTensor *a = NULL, *c = NULL;
        const size_t n = 3 << 19; /* larger than the first synchronous staging buffer (1 MiB) */
        float *h = malloc(n * 4), *out = malloc(n * 4);

        ASSERT_TRUE(h && out);
        setenv("FLUFF_VK_FORCE_STAGING", "1", 1);
        ASSERT_OK(vk_engine_new(&e));
        unsetenv("FLUFF_VK_FORCE_STAGING");
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){ n }, &a));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){ n }, &c));
        ASSERT_TRUE(a->mapped == NULL);
        vkt_fill(h, n, -1, 1);
        ASSERT_OK(vk_tensor_upload(a, h, n * 4));
        ASSERT_OK(op_eltwise_new(e, &op));
        ASSERT_OK(vk_recorder_new(e, 4096, &rec));
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_eltwise_record_scale(op, rec, -2.0f, a, c, n));
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        ASSERT_OK(vk_tensor_download(c, out, n * 4));
        for (size_t i = 0; i < n; i++)
                if (out[i] != -2.0f * h[i])
                        TEST_FAIL("element %zu: %g != %g", i, out[i], -2.0f * h[i]);
        ASSERT_OK(vk_tensor_fill(c, 0x3f800000u)); /* 1.0f */
        ASSERT_OK(vk_tensor_download(c, out, 64));
        ASSERT_NEAR(out[15], 1.0, 0);
        vk_tensor_free(a);
        vk_tensor_free(c);
        free(h);
        free(out);
}

TEST_MAIN()
