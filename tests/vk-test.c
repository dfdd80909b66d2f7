/* SPDX-License-Identifier: MIT */
#include "vk-test.h"

static VkEngine *engine;
static VkRecorder *recorder;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static void cleanup(void)
{
        recorder = vk_recorder_free(recorder);
        engine = vk_engine_free(engine);
}

VkEngine *vkt_engine(void)
{
        int r;

        if (engine)
                return engine;
        r = vk_engine_new(&engine);
        if (r == -ENODEV)
                TEST_SKIP("no Vulkan device (%s)", VK_NO_DEVICE_HINT);
        ASSERT_OK(r);
        atexit(cleanup);
        fprintf(stderr, "Vulkan device: %s (%s)\n", vk_engine_device_name(engine),
                vk_device_kind_to_string(vk_engine_device_kind(engine)));
        return engine;
}

VkRecorder *vkt_recorder(void)
{
        if (!recorder)
                ASSERT_OK(vk_recorder_new(vkt_engine(), 64u << 20, &recorder));
        return recorder;
}

void vkt_seed(uint64_t s)
{
        rng = s * 0x9e3779b97f4a7c15ull + 1;
}

uint32_t vkt_u32(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (uint32_t)(rng >> 16);
}

float vkt_uniform(float lo, float hi)
{
        return lo + (hi - lo) * (float)(vkt_u32() >> 8) / (float)(1u << 24);
}

float vkt_normal(void)
{
        float u = vkt_uniform(1e-7f, 1.0f), v = vkt_uniform(0.0f, 1.0f);
        return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

void vkt_fill(float *x, size_t n, float lo, float hi)
{
        for (size_t i = 0; i < n; i++)
                x[i] = vkt_uniform(lo, hi);
}

VkTensor *vkt_tensor(VkEngine *e, size_t n, const float *data)
{
        VkTensor *t;
        float *h = malloc((n + VKT_GUARD) * sizeof(float));

        ASSERT_TRUE(h);
        for (size_t i = 0; i < n + VKT_GUARD; i++) {
                uint32_t g = VKT_GUARD_BITS;
                if (i < n && data)
                        h[i] = data[i];
                else
                        memcpy(&h[i], &g, 4);
        }
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){ (uint32_t)(n + VKT_GUARD) }, &t));
        ASSERT_OK(vk_tensor_upload(t, h, (n + VKT_GUARD) * sizeof(float)));
        free(h);
        return t;
}

VkTensor *vkt_tensor_u32(VkEngine *e, size_t n, const uint32_t *data)
{
        VkTensor *t;

        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_U32, 1, (uint32_t[]){ (uint32_t)n }, &t));
        ASSERT_OK(vk_tensor_upload(t, data, n * sizeof(uint32_t)));
        return t;
}

float *vkt_download(const VkTensor *t, size_t n)
{
        float *h = malloc(MAX(n, (size_t)1) * sizeof(float));

        ASSERT_TRUE(h);
        ASSERT_OK(vk_tensor_download(t, h, n * sizeof(float)));
        return h;
}

void vkt_check_guard_at(const VkTensor *t, size_t n, const char *file, int line)
{
        uint32_t h[VKT_GUARD];

        if (t->count < n + VKT_GUARD) {
                fprintf(stderr, "%s:%d: tensor has no guard words\n", file, line);
                exit(1);
        }
        /* Download everything up to the guard's end, then look at the tail. */
        uint32_t *all = malloc((n + VKT_GUARD) * 4);
        ASSERT_TRUE(all);
        ASSERT_OK(vk_tensor_download(t, all, (n + VKT_GUARD) * 4));
        memcpy(h, all + n, sizeof(h));
        free(all);
        for (unsigned i = 0; i < VKT_GUARD; i++)
                if (h[i] != VKT_GUARD_BITS) {
                        fprintf(stderr, "%s:%d: guard word %u past %zu elements overwritten (0x%08x)\n", file,
                                line, i, n, h[i]);
                        exit(1);
                }
}

double vkt_nmse(const float *got, const float *want, size_t n)
{
        double err = 0, ref = 0;
        for (size_t i = 0; i < n; i++) {
                if (!isfinite(want[i]))
                        continue;
                double d = (double)got[i] - (double)want[i];
                err += d * d;
                ref += (double)want[i] * (double)want[i];
        }
        return err / MAX(ref, (double)n * 1e-30);
}

void vkt_compare_at(const char *what, const float *got, const float *want, size_t n, double bound,
                    const char *file, int line)
{
        for (size_t i = 0; i < n; i++) {
                bool same = isnan(want[i]) ? isnan(got[i])
                            : isinf(want[i]) ? got[i] == want[i]
                                             : isfinite(got[i]);
                if (!same) {
                        fprintf(stderr, "%s:%d: %s: element %zu is %g, expected %g (NaN/inf disagree)\n", file,
                                line, what, i, got[i], want[i]);
                        exit(1);
                }
        }
        double e = vkt_nmse(got, want, n);
        fprintf(stderr, "  %s: n=%zu nmse=%.3g (bound %.1g)\n", what, n, e, bound);
        if (!(e <= bound)) {
                fprintf(stderr, "%s:%d: %s: normalised MSE %.3g exceeds %.3g\n", file, line, what, e, bound);
                exit(1);
        }
}

void vkt_check_gradient_at(const char *what, VktLossFn f, void *userdata, float *x, size_t n, const float *grad,
                           unsigned samples, float h, double tol, const char *file, int line)
{
        double err = 0, ref = 0;

        samples = (unsigned)MIN((size_t)samples, n);
        for (unsigned s = 0; s < samples; s++) {
                size_t i = samples == n ? s : (size_t)s * (n - 1) / MAX(samples - 1, 1u);
                float keep = x[i];
                x[i] = keep + h;
                double up = f(userdata, x);
                x[i] = keep - h;
                double down = f(userdata, x);
                x[i] = keep;
                double fd = (up - down) / (2.0 * (double)h);
                err += (fd - grad[i]) * (fd - grad[i]);
                ref += fd * fd;
        }
        double rel = sqrt(err) / MAX(sqrt(ref), 1e-6);
        fprintf(stderr, "  %s: finite differences over %u coordinates, relative error %.3g (bound %.1g)\n", what,
                samples, rel, tol);
        if (!(rel <= tol)) {
                fprintf(stderr, "%s:%d: %s: gradient disagrees with finite differences (%.3g > %.3g)\n", file,
                        line, what, rel, tol);
                exit(1);
        }
}
