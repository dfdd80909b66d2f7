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

void vkt_set(VkTensor *t, const float *data, size_t n)
{
        if (data)
                ASSERT_OK(vk_tensor_upload(t, data, n * sizeof(float)));
        else
                ASSERT_OK(vk_tensor_fill(t, 0));
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

double vkt_dot(const float *a, const float *b, size_t n)
{
        double acc = 0.0;

        for (size_t i = 0; i < n; i++)
                acc += (double)a[i] * b[i];
        return acc;
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

/* fp32 accumulation against double: NMSE ~1e-13 here; an indexing mistake gives ~1. */
#define CONV_NMSE_BOUND 1e-9
/* Relative error of a device gradient against central differences of the
 * reference forward. The loss is linear in each input, so a large step (0.25)
 * is exact but for float rounding of the loss. */
#define CONV_FD_BOUND 1e-4
#define CONV_FD_SAMPLES 24

static float *random_array(size_t n, float lo, float hi)
{
        float *a = malloc(MAX(n, (size_t)1) * sizeof(float));

        ASSERT_TRUE(a);
        vkt_fill(a, n, lo, hi);
        return a;
}

void vkt_conv_case_init(VktConvCase *c, const ConvShape *s, VkActivation act, bool bias, bool specials, size_t nw,
                        size_t nb, float w_range, uint64_t seed)
{
        VkEngine *e = vkt_engine();

        *c = (VktConvCase){ .s = s, .act = act, .bias = bias, .specials = specials, .nw = nw, .nb = nb };
        vkt_seed(seed);
        ASSERT_OK(conv_shape_out(s, &c->oh, &c->ow));
        c->nx = (size_t)s->n * s->h * s->w * s->c;
        c->ny = (size_t)s->n * c->oh * c->ow * s->k;
        c->x = random_array(c->nx, -1.0f, 1.0f);
        c->w = random_array(nw, -w_range, w_range);
        c->b = random_array(nb, -1.0f, 1.0f);
        c->g = random_array(c->ny, -1.0f, 1.0f);
        if (specials) {
                c->x[c->nx / 3] = NAN;
                c->x[c->nx / 2] = INFINITY;
                c->x[c->nx - 1] = -INFINITY;
        }
        c->tx = vkt_tensor(e, c->nx, c->x);
        c->tw = vkt_tensor(e, nw, c->w);
        c->tb = vkt_tensor(e, nb, c->b);
        c->tg = vkt_tensor(e, c->ny, c->g);
        c->y = vkt_tensor(e, c->ny, NULL);
        c->dx = vkt_tensor(e, c->nx, NULL);
        c->dw = vkt_tensor(e, nw, NULL);
        c->db = vkt_tensor(e, nb, NULL);
}

typedef struct ConvLoss {
        const VktConvCase *c;
        const VktConvRef *ref;
        float *y;
} ConvLoss;

static double conv_loss(void *userdata, const float *param)
{
        ConvLoss *l = userdata;

        l->ref->fwd(l->c->s, VK_ACTIVATION_NONE, l->c->x, l->c->w, l->c->b, l->y);
        return vkt_dot(l->y, l->c->g, l->c->ny);
}

void vkt_conv_case_check_at(VktConvCase *c, const char *name, const VktConvRef *ref, const char *file, int line)
{
        size_t nx = c->nx, nw = c->nw, nb = c->nb, ny = c->ny;
        char label[128];

        _cleanup_free_ float *want = calloc(nx + nw + ny + nb, sizeof(float));
        ASSERT_TRUE(want);
        vkt_check_guard_at(c->y, ny, file, line);
        _cleanup_free_ float *got_y = vkt_download(c->y, ny);
        ref->fwd(c->s, c->act, c->x, c->w, c->bias ? c->b : NULL, want);
        snprintf(label, sizeof(label), "%s forward", name);
        vkt_compare_at(label, got_y, want, ny, CONV_NMSE_BOUND, file, line);
        if (c->specials)
                return;

        vkt_check_guard_at(c->dx, nx, file, line);
        vkt_check_guard_at(c->dw, nw, file, line);
        vkt_check_guard_at(c->db, nb, file, line);
        _cleanup_free_ float *got_dx = vkt_download(c->dx, nx);
        _cleanup_free_ float *got_dw = vkt_download(c->dw, nw);
        _cleanup_free_ float *got_db = vkt_download(c->db, nb);

        ref->bwd_data(c->s, c->g, c->w, want);
        snprintf(label, sizeof(label), "%s backward-data", name);
        vkt_compare_at(label, got_dx, want, nx, CONV_NMSE_BOUND, file, line);
        ref->bwd_weight(c->s, c->x, c->g, want, want + nw);
        snprintf(label, sizeof(label), "%s backward-weight", name);
        vkt_compare_at(label, got_dw, want, nw, CONV_NMSE_BOUND, file, line);
        if (c->bias) {
                snprintf(label, sizeof(label), "%s backward-bias", name);
                vkt_compare_at(label, got_db, want + nw, nb, CONV_NMSE_BOUND, file, line);
        }

        ConvLoss l = { .c = c, .ref = ref, .y = want };
        snprintf(label, sizeof(label), "%s dx", name);
        vkt_check_gradient_at(label, conv_loss, &l, c->x, nx, got_dx, CONV_FD_SAMPLES, 0.25f, CONV_FD_BOUND, file,
                              line);
        snprintf(label, sizeof(label), "%s dw", name);
        vkt_check_gradient_at(label, conv_loss, &l, c->w, nw, got_dw, CONV_FD_SAMPLES, 0.25f, CONV_FD_BOUND, file,
                              line);
        if (c->bias) {
                snprintf(label, sizeof(label), "%s db", name);
                vkt_check_gradient_at(label, conv_loss, &l, c->b, nb, got_db, CONV_FD_SAMPLES, 0.25f,
                                      CONV_FD_BOUND, file, line);
        }
}

void vkt_conv_case_done(VktConvCase *c)
{
        free(c->x);
        free(c->w);
        free(c->b);
        free(c->g);
        vk_tensor_free(c->tx);
        vk_tensor_free(c->tw);
        vk_tensor_free(c->tb);
        vk_tensor_free(c->tg);
        vk_tensor_free(c->y);
        vk_tensor_free(c->dx);
        vk_tensor_free(c->dw);
        vk_tensor_free(c->db);
        *c = (VktConvCase){};
}
