/* SPDX-License-Identifier: MIT */
/* ReLU / ReLU6 forward and backward against C, backward also by finite
 * differences. Must survive: NaN (propagated), ±inf, exact kinks (0 and 6:
 * gradient 0 as in PyTorch), partial workgroups, too-small tensors. */
#include "op-relu.h"
#include "vk-test.h"

static const size_t sizes[] = { 1, 13, 127, 4097, 70001 };

static float act_c(VkActivation a, float x)
{
        if (isnan(x))
                return x;
        return a == VK_ACTIVATION_RELU ? fmaxf(x, 0) : a == VK_ACTIVATION_RELU6 ? fminf(fmaxf(x, 0), 6) : x;
}

static float grad_c(VkActivation a, float y, float dy)
{
        if (isnan(y))
                return y;
        if (a == VK_ACTIVATION_RELU)
                return y > 0 ? dy : 0;
        if (a == VK_ACTIVATION_RELU6)
                return y > 0 && y < 6 ? dy : 0;
        return dy;
}

TEST(forward_backward)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_relu_freep) OpRelu *op = NULL;

        vkt_seed(20);
        ASSERT_OK(op_relu_new(e, &op));
        for (VkActivation a = VK_ACTIVATION_RELU; a <= VK_ACTIVATION_RELU6; a++)
                for (size_t s = 0; s < ELEMENTSOF(sizes); s++) {
                        size_t n = sizes[s];
                        float *hx = malloc(n * 4), *hdy = malloc(n * 4), *wy = malloc(n * 4), *wdx = malloc(n * 4);
                        ASSERT_TRUE(hx && hdy && wy && wdx);
                        vkt_fill(hx, n, -8, 8);
                        vkt_fill(hdy, n, -1, 1);
                        if (n > 13) {
                                hx[1] = NAN;
                                hx[2] = INFINITY;
                                hx[3] = -INFINITY;
                                hx[4] = 0.0f;
                                hx[5] = 6.0f;
                        }
                        for (size_t i = 0; i < n; i++) {
                                wy[i] = act_c(a, hx[i]);
                                wdx[i] = grad_c(a, wy[i], hdy[i]);
                        }
                        VkTensor *x = vkt_tensor(e, n, hx), *dy = vkt_tensor(e, n, hdy), *y = vkt_tensor(e, n, NULL),
                                 *dx = vkt_tensor(e, n, NULL);
                        ASSERT_OK(vk_recorder_begin(rec));
                        ASSERT_OK(op_relu_record(op, rec, a, x, y, n));
                        ASSERT_OK(op_relu_record_backward(op, rec, a, y, dy, dx, n));
                        ASSERT_OK(vk_recorder_submit_and_wait(rec));
                        float *gy = vkt_download(y, n), *gdx = vkt_download(dx, n);
                        char what[64];
                        snprintf(what, sizeof(what), "%s n=%zu", a == VK_ACTIVATION_RELU ? "relu" : "relu6", n);
                        vkt_compare(what, gy, wy, n, 0); /* exact: a select, no arithmetic */
                        vkt_compare(what, gdx, wdx, n, 0);
                        vkt_check_guard(y, n);
                        vkt_check_guard(dx, n);
                        free(gy);
                        free(gdx);
                        free(hx);
                        free(hdy);
                        free(wy);
                        free(wdx);
                        vk_tensor_free(x);
                        vk_tensor_free(y);
                        vk_tensor_free(dy);
                        vk_tensor_free(dx);
                }
}

typedef struct FdCtx {
        OpRelu *op;
        VkActivation act;
        VkTensor *x, *y;
        const float *w;
        size_t n;
} FdCtx;

static double loss(void *ud, const float *hx)
{
        FdCtx *c = ud;
        VkRecorder *rec = vkt_recorder();
        float *out = malloc(c->n * 4);
        double s = 0;

        ASSERT_TRUE(out);
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(vk_recorder_upload(rec, c->x, hx, c->n * 4));
        ASSERT_OK(op_relu_record(c->op, rec, c->act, c->x, c->y, c->n));
        ASSERT_OK(vk_recorder_download(rec, c->y, out, c->n * 4));
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        for (size_t i = 0; i < c->n; i++)
                s += (double)c->w[i] * out[i];
        free(out);
        return s;
}

TEST(finite_differences)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_relu_freep) OpRelu *op = NULL;
        const size_t n = 257;
        float hx[257], hw[257], grad[257];

        vkt_seed(21);
        ASSERT_OK(op_relu_new(e, &op));
        for (VkActivation a = VK_ACTIVATION_RELU; a <= VK_ACTIVATION_RELU6; a++) {
                /* Keep every x at least 0.1 away from the kinks, farther than h. */
                for (size_t i = 0; i < n; i++) {
                        float v = vkt_uniform(0.1f, 2.9f);
                        hx[i] = (i % 3 == 0) ? -v : (i % 3 == 1) ? v : 6.0f + (v - 1.5f < 0 ? v - 1.6f : v - 1.4f);
                }
                vkt_fill(hw, n, -1, 1);
                VkTensor *x = vkt_tensor(e, n, hx), *y = vkt_tensor(e, n, NULL), *w = vkt_tensor(e, n, hw),
                         *dx = vkt_tensor(e, n, NULL);
                ASSERT_OK(vk_recorder_begin(rec));
                ASSERT_OK(op_relu_record(op, rec, a, x, y, n));
                ASSERT_OK(op_relu_record_backward(op, rec, a, y, w, dx, n));
                ASSERT_OK(vk_recorder_download(rec, dx, grad, sizeof(grad)));
                ASSERT_OK(vk_recorder_submit_and_wait(rec));
                FdCtx c = { op, a, x, y, hw, n };
                vkt_check_gradient(a == VK_ACTIVATION_RELU ? "relu backward" : "relu6 backward", loss, &c, hx, n, grad,
                                   64, 0.01f, 1e-3);
                vk_tensor_free(x);
                vk_tensor_free(y);
                vk_tensor_free(w);
                vk_tensor_free(dx);
        }
}

TEST(invalid)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_relu_freep) OpRelu *op = NULL;
        VkTensor *t = vkt_tensor(e, 4, NULL);

        ASSERT_OK(op_relu_new(e, &op));
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_ERROR(op_relu_record(op, rec, VK_ACTIVATION_RELU, t, t, 4 + VKT_GUARD + 1), EINVAL);
        ASSERT_ERROR(op_relu_record(op, rec, _VK_ACTIVATION_MAX, t, t, 4), EINVAL);
        ASSERT_ERROR(op_relu_record_backward(op, rec, VK_ACTIVATION_RELU, t, NULL, t, 4), EINVAL);
        ASSERT_EQ(vk_recorder_n_dispatches(rec), 0);
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        vk_tensor_free(t);
}

TEST_MAIN()
