/* SPDX-License-Identifier: MIT */
#include "ft-tail.h"
#include "op-conv2d.h"
#include "op-eltwise.h"
#include "op-gpool.h"
#include "op-relu.h"

struct FtTail {
        VkEngine *engine; /* borrowed */
        uint32_t hw, cin, cout, max_batch, n;

        OpConv2d *conv;
        OpGpool *pool;
        OpRelu *relu;
        OpEltwise *elt;
        OpAdamW *adamw;
        VkRecorder *rec;

        VkTensor *w, *b, *dw, *db, *mw, *vw, *mb, *vb; /* owned */
        VkTensor *act, *y, *mean, *max, *argmax;       /* owned: the last forward */
        VkTensor *dmean, *dmax, *dy, *dy2;             /* owned: backward scratch */
};

FtTail *ft_tail_free(FtTail *t)
{
        if (!t)
                return NULL;
        VkTensor *all[] = {t->w, t->b,    t->dw,  t->db,     t->mw,    t->vw,   t->mb, t->vb, t->act,
                           t->y, t->mean, t->max, t->argmax, t->dmean, t->dmax, t->dy, t->dy2};
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                vk_tensor_free(all[i]);
        op_conv2d_free(t->conv);
        op_gpool_free(t->pool);
        op_relu_free(t->relu);
        op_eltwise_free(t->elt);
        op_adamw_free(t->adamw);
        vk_recorder_free(t->rec);
        free(t);
        return NULL;
}

static int tensor(VkEngine *e, VkDType d, size_t count, VkTensor **ret)
{
        if (count == 0 || count > UINT32_MAX)
                return -EINVAL;
        return vk_tensor_new(e, d, 1, (uint32_t[]){(uint32_t)count}, ret);
}

int ft_tail_new(VkEngine *e, uint32_t hw, uint32_t cin, uint32_t cout, uint32_t max_batch, FtTail **ret)
{
        _cleanup_(ft_tail_freep) FtTail *t = NULL;
        int r;

        if (!e || hw == 0 || cin == 0 || cout == 0 || max_batch == 0 ||
            (uint64_t)max_batch * hw * MAX(cin, cout) > CONV_MAX_ELEMENTS)
                return -EINVAL;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->engine = e;
        t->hw = hw;
        t->cin = cin;
        t->cout = cout;
        t->max_batch = max_batch;
        if ((r = op_conv2d_new(e, &t->conv)) < 0 || (r = op_gpool_new(e, &t->pool)) < 0 ||
            (r = op_relu_new(e, &t->relu)) < 0 || (r = op_eltwise_new(e, &t->elt)) < 0 ||
            (r = op_adamw_new(e, &t->adamw)) < 0)
                return r;

        size_t nw = (size_t)cin * cout, na = (size_t)max_batch * hw * cin,
               ny = (size_t)max_batch * hw * cout, np = (size_t)max_batch * cout;
        VkTensor **wsized[] = {&t->w, &t->dw, &t->mw, &t->vw};
        VkTensor **bsized[] = {&t->b, &t->db, &t->mb, &t->vb};
        VkTensor **psized[] = {&t->mean, &t->max, &t->dmean, &t->dmax};
        for (size_t i = 0; i < 4; i++)
                if ((r = tensor(e, VK_DTYPE_F32, nw, wsized[i])) < 0 ||
                    (r = tensor(e, VK_DTYPE_F32, cout, bsized[i])) < 0 ||
                    (r = tensor(e, VK_DTYPE_F32, np, psized[i])) < 0)
                        return r;
        if ((r = tensor(e, VK_DTYPE_F32, na, &t->act)) < 0 || (r = tensor(e, VK_DTYPE_F32, ny, &t->y)) < 0 ||
            (r = tensor(e, VK_DTYPE_F32, ny, &t->dy)) < 0 ||
            (r = tensor(e, VK_DTYPE_F32, ny, &t->dy2)) < 0 ||
            (r = tensor(e, VK_DTYPE_U32, np, &t->argmax)) < 0)
                return r;
        /* staging: one batch of activations in, or the weight gradients out */
        r = vk_recorder_new(e, (MAX(na, nw) + 4 * np + 2 * (size_t)cout) * sizeof(float) + (1u << 16),
                            &t->rec);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

int ft_tail_upload(FtTail *t, const float *w, const float *b)
{
        size_t nw = (size_t)t->cin * t->cout * sizeof(float), nb = t->cout * sizeof(float);
        int r;

        if ((r = vk_tensor_upload(t->w, w, nw)) < 0 || (r = vk_tensor_upload(t->b, b, nb)) < 0)
                return r;
        VkTensor *zero[] = {t->mw, t->vw, t->mb, t->vb};
        for (size_t i = 0; i < ELEMENTSOF(zero); i++)
                if ((r = vk_tensor_fill(zero[i], 0)) < 0)
                        return r;
        return 0;
}

int ft_tail_download(FtTail *t, float *ret_w, float *ret_b)
{
        int r = vk_tensor_download(t->w, ret_w, (size_t)t->cin * t->cout * sizeof(float));
        return r < 0 ? r : vk_tensor_download(t->b, ret_b, t->cout * sizeof(float));
}

static ConvShape shape(const FtTail *t, uint32_t n)
{
        /* hw positions as one row: a 1×1 convolution does not care about the layout */
        return (ConvShape){.n = n,
                           .h = 1,
                           .w = t->hw,
                           .c = t->cin,
                           .k = t->cout,
                           .kh = 1,
                           .kw = 1,
                           .stride_h = 1,
                           .stride_w = 1};
}

int ft_tail_forward(FtTail *t, const float *act, uint32_t n, float *ret_mean, float *ret_max)
{
        ConvShape s = shape(t, n);
        size_t pooled = (size_t)n * t->cout * sizeof(float);
        int r;

        if (!act || n == 0 || n > t->max_batch)
                return -EINVAL;
        if ((r = vk_recorder_begin(t->rec)) < 0 ||
            (r = vk_recorder_upload(t->rec, t->act, act, (size_t)n * t->hw * t->cin * sizeof(float))) < 0 ||
            (r = op_conv2d_record(t->conv, t->rec, &s, VK_ACTIVATION_RELU6, t->act, t->w, t->b, t->y)) < 0 ||
            (r = op_gpool_record(t->pool, t->rec, POOL_AVG, n, t->hw, t->cout, t->y, t->mean, NULL)) < 0 ||
            (r = op_gpool_record(t->pool, t->rec, POOL_MAX, n, t->hw, t->cout, t->y, t->max, t->argmax)) <
                    0 ||
            (ret_mean && (r = vk_recorder_download(t->rec, t->mean, ret_mean, pooled)) < 0) ||
            (ret_max && (r = vk_recorder_download(t->rec, t->max, ret_max, pooled)) < 0))
                return r;
        r = vk_recorder_submit_and_wait(t->rec);
        if (r < 0)
                return r;
        t->n = n;
        return 0;
}

int ft_tail_backward(FtTail *t, const float *dmean, const float *dmax, uint32_t n, const OpAdamWParams *p,
                     float *ret_dw, float *ret_db)
{
        ConvShape s = shape(t, n);
        size_t pooled = (size_t)n * t->cout * sizeof(float), ny = (size_t)n * t->hw * t->cout;
        int r;

        if (!dmean || !dmax || n == 0 || n != t->n)
                return -EINVAL;
        if ((r = vk_recorder_begin(t->rec)) < 0 ||
            (r = vk_recorder_upload(t->rec, t->dmean, dmean, pooled)) < 0 ||
            (r = vk_recorder_upload(t->rec, t->dmax, dmax, pooled)) < 0 ||
            (r = op_gpool_record_bwd(t->pool, t->rec, POOL_AVG, n, t->hw, t->cout, t->dmean, NULL, t->dy)) <
                    0 ||
            (r = op_gpool_record_bwd(t->pool, t->rec, POOL_MAX, n, t->hw, t->cout, t->dmax, t->argmax,
                                     t->dy2)) < 0 ||
            (r = op_eltwise_record_axpy(t->elt, t->rec, 1.0f, t->dy2, t->dy, ny)) < 0 ||
            (r = op_relu_record_backward(t->relu, t->rec, VK_ACTIVATION_RELU6, t->y, t->dy, t->dy, ny)) <
                    0 ||
            (r = op_conv2d_record_bwd_weight(t->conv, t->rec, &s, t->act, t->dy, t->dw, t->db)) < 0)
                return r;
        if (p) {
                OpAdamWParams pb = *p;
                pb.weight_decay = 0;
                if ((r = op_adamw_record(t->adamw, t->rec, t->dw, t->w, t->mw, t->vw,
                                         (size_t)t->cin * t->cout, p)) < 0 ||
                    (r = op_adamw_record(t->adamw, t->rec, t->db, t->b, t->mb, t->vb, t->cout, &pb)) < 0)
                        return r;
        }
        if ((ret_dw && (r = vk_recorder_download(t->rec, t->dw, ret_dw,
                                                 (size_t)t->cin * t->cout * sizeof(float))) < 0) ||
            (ret_db && (r = vk_recorder_download(t->rec, t->db, ret_db, t->cout * sizeof(float))) < 0))
                return r;
        return vk_recorder_submit_and_wait(t->rec);
}
