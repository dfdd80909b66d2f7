/* SPDX-License-Identifier: MIT */
/* BCE with logits, pos_weight and per-class weights, forward against a
 * double-precision C reference, backward against C and finite differences.
 * Must survive: huge logits (±80: no overflow, finite loss and gradient),
 * NaN logits (NaN out), with and without either weight, odd class counts,
 * and sizes that are not whole rows (an error). Tolerance: NMSE ≤ 1e-10. */
#include "op-bce.h"
#include "vk-test.h"

static double softplus(double v)
{
        return fmax(v, 0) + log1p(exp(-fabs(v)));
}

static void reference(const float *x, const float *y, const float *pw, const float *w, size_t n, uint32_t classes,
                      float scale, float *loss, float *dx)
{
        for (size_t i = 0; i < n; i++) {
                uint32_t c = i % classes;
                double p = pw ? pw[c] : 1, ww = w ? w[c] : 1, xv = x[i], yv = y[i];
                loss[i] = (float)(ww * (p * yv * softplus(-xv) + (1 - yv) * softplus(xv)));
                double s = 1 / (1 + exp(-xv));
                dx[i] = (float)(scale * ww * ((p * yv + 1 - yv) * s - p * yv));
        }
}

typedef struct Ctx {
        OpBce *op;
        VkTensor *x, *y, *pw, *w, *loss;
        size_t n;
        uint32_t classes;
} Ctx;

static double mean_loss(void *ud, const float *hx)
{
        Ctx *c = ud;
        VkRecorder *rec = vkt_recorder();
        float *l = malloc(c->n * 4);
        double s = 0;

        ASSERT_TRUE(l);
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(vk_recorder_upload(rec, c->x, hx, c->n * 4));
        ASSERT_OK(op_bce_record(c->op, rec, c->x, c->y, c->pw, c->w, c->loss, c->n, c->classes));
        ASSERT_OK(vk_recorder_download(rec, c->loss, l, c->n * 4));
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        for (size_t i = 0; i < c->n; i++)
                s += l[i];
        free(l);
        return s / (double)c->n;
}

static void run(size_t rows, uint32_t classes, bool with_pw, bool with_w, bool extremes)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_bce_freep) OpBce *op = NULL;
        size_t n = rows * classes;
        float *hx = malloc(n * 4), *hy = malloc(n * 4), *hpw = malloc(classes * 4), *hw = malloc(classes * 4),
              *wl = malloc(n * 4), *wdx = malloc(n * 4);
        float scale = 1.0f / (float)n;

        ASSERT_TRUE(hx && hy && hpw && hw && wl && wdx);
        ASSERT_OK(op_bce_new(e, &op));
        vkt_fill(hx, n, -4, 4);
        for (size_t i = 0; i < n; i++)
                hy[i] = (vkt_u32() % 3 == 0) ? 1.0f : (vkt_u32() % 5 == 0) ? 0.3f : 0.0f; /* some soft labels */
        vkt_fill(hpw, classes, 0.5f, 4);
        vkt_fill(hw, classes, 0.2f, 2);
        if (extremes && n >= 4) {
                hx[0] = 80.0f;
                hx[1] = -80.0f;
                hy[0] = 0.0f;
                hy[1] = 1.0f;
                hx[2] = NAN;
        }
        reference(hx, hy, with_pw ? hpw : NULL, with_w ? hw : NULL, n, classes, scale, wl, wdx);

        VkTensor *x = vkt_tensor(e, n, hx), *y = vkt_tensor(e, n, hy), *pw = vkt_tensor(e, classes, hpw),
                 *w = vkt_tensor(e, classes, hw), *loss = vkt_tensor(e, n, NULL), *dx = vkt_tensor(e, n, NULL);
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_bce_record(op, rec, x, y, with_pw ? pw : NULL, with_w ? w : NULL, loss, n, classes));
        ASSERT_OK(op_bce_record_backward(op, rec, x, y, with_pw ? pw : NULL, with_w ? w : NULL, dx, n, classes, scale));
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        float *gl = vkt_download(loss, n), *gdx = vkt_download(dx, n);
        char what[96];
        snprintf(what, sizeof(what), "bce %zux%u%s%s%s", rows, classes, with_pw ? " pos_weight" : "",
                 with_w ? " weight" : "", extremes ? " extremes" : "");
        vkt_compare(what, gl, wl, n, 1e-10);
        vkt_compare(what, gdx, wdx, n, 1e-10);
        vkt_check_guard(loss, n);
        vkt_check_guard(dx, n);

        if (!extremes) {
                Ctx c = { op, x, y, with_pw ? pw : NULL, with_w ? w : NULL, loss, n, classes };
                vkt_check_gradient(what, mean_loss, &c, hx, n, gdx, 32, 1e-2f, 2e-3);
        }
        free(gl);
        free(gdx);
        free(hx);
        free(hy);
        free(hpw);
        free(hw);
        free(wl);
        free(wdx);
        vk_tensor_free(x);
        vk_tensor_free(y);
        vk_tensor_free(pw);
        vk_tensor_free(w);
        vk_tensor_free(loss);
        vk_tensor_free(dx);
}

TEST(forward_backward)
{
        vkt_seed(40);
        run(1, 1, false, false, false);
        run(13, 1, true, false, false);
        run(127, 3, true, true, false);
        run(5, 13, false, true, false);
        run(4099, 2, true, true, false);
        run(31, 7, true, true, true);
}

TEST(invalid)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_bce_freep) OpBce *op = NULL;
        VkTensor *t = vkt_tensor(e, 12, NULL), *small = vkt_tensor(e, 1, NULL);

        ASSERT_OK(op_bce_new(e, &op));
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_ERROR(op_bce_record(op, rec, t, t, NULL, NULL, t, 12, 5), EINVAL);   /* not whole rows */
        ASSERT_ERROR(op_bce_record(op, rec, t, t, NULL, NULL, t, 12, 0), EINVAL);
        ASSERT_ERROR(op_bce_record(op, rec, t, t, small, NULL, t, 12, 12 + VKT_GUARD), EINVAL);
        ASSERT_ERROR(op_bce_record_backward(op, rec, t, NULL, NULL, NULL, t, 12, 3, 1.0f), EINVAL);
        ASSERT_EQ(vk_recorder_n_dispatches(rec), 0);
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        vk_tensor_free(t);
        vk_tensor_free(small);
}

TEST_MAIN()
