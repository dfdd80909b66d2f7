/* SPDX-License-Identifier: MIT */
#include "cnn-net.h"
#include "op-bce.h"
#include "op-conv2d.h"
#include "op-eltwise.h"
#include "op-gemm.h"
#include "op-gpool.h"
#include "op-preprocess.h"
#include "op-reduce.h"
#include "op-relu.h"

struct CnnNet {
        VkEngine *engine; /* borrowed */
        CnnArch arch;
        uint32_t max_batch, c; /* c: the last layer's channels */
        CnnParam layout[CNN_PARAMS_MAX];
        size_t n_params, n_floats;

        VkRecorder *rec;
        OpPreprocess *pre;
        OpConv2d *conv;
        OpRelu *relu;
        OpGpool *pool;
        OpGemm *gemm;
        OpBce *bce;
        OpReduce *reduce;
        OpEltwise *elt;
        OpAdamW *adamw;

        /* all owned; per parameter tensor: value, gradient, AdamW moments */
        VkTensor *p[CNN_PARAMS_MAX], *g[CNN_PARAMS_MAX], *m[CNN_PARAMS_MAX], *v[CNN_PARAMS_MAX];
        VkTensor *src, *x, *act[CNN_LAYERS_MAX], *dact[CNN_LAYERS_MAX], *dmax;
        VkTensor *fmean, *fmax, *argmax, *z, *y, *pw, *loss, *loss_mean, *dz, *dfmean, *dfmax;
};

/* Parameter indices of layer l and of the linear layer. */
#define P_W(l) (2 * (l))
#define P_B(l) (2 * (l) + 1)
#define P_FC_MEAN(n) (2 * (n)->arch.n_layers)
#define P_FC_MAX(n) (2 * (n)->arch.n_layers + 1)
#define P_FC_BIAS(n) (2 * (n)->arch.n_layers + 2)

CnnNet *cnn_net_free(CnnNet *n)
{
        if (!n)
                return NULL;
        for (size_t k = 0; k < CNN_PARAMS_MAX; k++) {
                vk_tensor_free(n->p[k]);
                vk_tensor_free(n->g[k]);
                vk_tensor_free(n->m[k]);
                vk_tensor_free(n->v[k]);
        }
        for (unsigned l = 0; l < CNN_LAYERS_MAX; l++) {
                vk_tensor_free(n->act[l]);
                vk_tensor_free(n->dact[l]);
        }
        VkTensor *t[] = {n->src, n->x,  n->dmax, n->fmean,     n->fmax, n->argmax, n->z,
                         n->y,   n->pw, n->loss, n->loss_mean, n->dz,   n->dfmean, n->dfmax};
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                vk_tensor_free(t[i]);
        op_preprocess_free(n->pre);
        op_conv2d_free(n->conv);
        op_relu_free(n->relu);
        op_gpool_free(n->pool);
        op_gemm_free(n->gemm);
        op_bce_free(n->bce);
        op_reduce_free(n->reduce);
        op_eltwise_free(n->elt);
        op_adamw_free(n->adamw);
        vk_recorder_free(n->rec);
        free(n);
        return NULL;
}

static int tensor(VkEngine *e, VkDType t, size_t count, VkTensor **ret)
{
        if (count == 0 || count > UINT32_MAX)
                return -EINVAL;
        return vk_tensor_new(e, t, 1, (uint32_t[]){(uint32_t)count}, ret);
}

int cnn_net_new(VkEngine *e, const CnnArch *a, uint32_t max_batch, CnnNet **ret)
{
        _cleanup_(cnn_net_freep) CnnNet *n = NULL;
        const CnnArch *A = a;
        size_t in = (size_t)a->input * a->input * 3, stored = (size_t)a->stored * a->stored * 3;
        int r;

        if (cnn_arch_check(a) < 0 || max_batch == 0 || max_batch > 4096)
                return -EINVAL;
        n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->engine = e;
        n->arch = *a;
        n->max_batch = max_batch;
        n->c = a->channels[a->n_layers - 1];
        n->n_params = cnn_param_layout(a, n->layout);
        n->n_floats = n->layout[n->n_params - 1].offset + cnn_param_count(&n->layout[n->n_params - 1]);

        /* staging: one batch of crops up, features and logits down */
        if ((r = vk_recorder_new(e, max_batch * (stored + 4 * (2 * n->c + 2) + 64) + 4 * n->n_floats + 4096,
                                 &n->rec)) < 0 ||
            (r = op_preprocess_new(e, &n->pre)) < 0 || (r = op_conv2d_new(e, &n->conv)) < 0 ||
            (r = op_relu_new(e, &n->relu)) < 0 || (r = op_gpool_new(e, &n->pool)) < 0 ||
            (r = op_gemm_new(e, &n->gemm)) < 0 || (r = op_bce_new(e, &n->bce)) < 0 ||
            (r = op_reduce_new(e, &n->reduce)) < 0 || (r = op_eltwise_new(e, &n->elt)) < 0 ||
            (r = op_adamw_new(e, &n->adamw)) < 0)
                return r;
        for (size_t k = 0; k < n->n_params; k++) {
                size_t c = cnn_param_count(&n->layout[k]);
                if ((r = tensor(e, VK_DTYPE_F32, c, &n->p[k])) < 0 ||
                    (r = tensor(e, VK_DTYPE_F32, c, &n->g[k])) < 0 ||
                    (r = tensor(e, VK_DTYPE_F32, c, &n->m[k])) < 0 ||
                    (r = tensor(e, VK_DTYPE_F32, c, &n->v[k])) < 0)
                        return r;
        }
        for (unsigned l = 0; l < A->n_layers; l++) {
                size_t c = (size_t)max_batch * cnn_layer_pixels(A, l) * A->channels[l];
                if ((r = tensor(e, VK_DTYPE_F32, c, &n->act[l])) < 0 ||
                    (r = tensor(e, VK_DTYPE_F32, c, &n->dact[l])) < 0)
                        return r;
        }
        size_t last = (size_t)max_batch * cnn_layer_pixels(A, A->n_layers - 1) * n->c,
               bc = (size_t)max_batch * n->c;
        if ((r = tensor(e, VK_DTYPE_U8, max_batch * stored, &n->src)) < 0 ||
            (r = tensor(e, VK_DTYPE_F32, max_batch * in, &n->x)) < 0 ||
            (r = tensor(e, VK_DTYPE_F32, last, &n->dmax)) < 0 ||
            (r = tensor(e, VK_DTYPE_F32, bc, &n->fmean)) < 0 ||
            (r = tensor(e, VK_DTYPE_F32, bc, &n->fmax)) < 0 ||
            (r = tensor(e, VK_DTYPE_U32, bc, &n->argmax)) < 0 ||
            (r = tensor(e, VK_DTYPE_F32, bc, &n->dfmean)) < 0 ||
            (r = tensor(e, VK_DTYPE_F32, bc, &n->dfmax)) < 0 ||
            (r = tensor(e, VK_DTYPE_F32, max_batch, &n->z)) < 0 ||
            (r = tensor(e, VK_DTYPE_F32, max_batch, &n->y)) < 0 ||
            (r = tensor(e, VK_DTYPE_F32, max_batch, &n->loss)) < 0 ||
            (r = tensor(e, VK_DTYPE_F32, max_batch, &n->dz)) < 0 ||
            (r = tensor(e, VK_DTYPE_F32, 1, &n->pw)) < 0 ||
            (r = tensor(e, VK_DTYPE_F32, 1, &n->loss_mean)) < 0)
                return r;
        *ret = TAKE_PTR(n);
        return 0;
}

int cnn_net_upload(CnnNet *n, const float *params)
{
        int r;

        for (size_t k = 0; k < n->n_params; k++) {
                size_t c = cnn_param_count(&n->layout[k]);
                if ((r = vk_tensor_upload(n->p[k], params + n->layout[k].offset, c * sizeof(float))) < 0 ||
                    (r = vk_tensor_fill(n->m[k], 0)) < 0 || (r = vk_tensor_fill(n->v[k], 0)) < 0)
                        return r;
        }
        return 0;
}

int cnn_net_download(CnnNet *n, float *params)
{
        int r;

        for (size_t k = 0; k < n->n_params; k++) {
                r = vk_tensor_download(n->p[k], params + n->layout[k].offset,
                                       cnn_param_count(&n->layout[k]) * sizeof(float));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int record_forward(CnnNet *n, const uint8_t *rgb, uint32_t batch, const CnnWindow *w)
{
        const CnnArch *a = &n->arch;
        uint32_t margin = a->stored - a->input, last = cnn_layer_pixels(a, a->n_layers - 1);
        PreprocShape p = {.n = batch,
                          .src_h = a->stored,
                          .src_w = a->stored,
                          .crop_h = a->input,
                          .crop_w = a->input,
                          .crop_y = margin / 2,
                          .crop_x = margin / 2,
                          .out_h = a->input,
                          .out_w = a->input,
                          .seed = w ? w->seed : 0,
                          .scale = {1 / 127.5f, 1 / 127.5f, 1 / 127.5f},
                          .offset = {-1, -1, -1}};
        int r;

        if (w && w->augment)
                p.flags = PREPROC_RANDOM_CROP | PREPROC_RANDOM_FLIP;
        if ((r = vk_recorder_upload(n->rec, n->src, rgb, (size_t)batch * a->stored * a->stored * 3)) < 0 ||
            (r = op_preprocess_record(n->pre, n->rec, &p, n->src, n->x)) < 0)
                return r;
        for (unsigned l = 0; l < a->n_layers; l++) {
                ConvShape s;
                cnn_layer_shape(a, l, batch, &s);
                r = op_conv2d_record(n->conv, n->rec, &s, VK_ACTIVATION_RELU, l == 0 ? n->x : n->act[l - 1],
                                     n->p[P_W(l)], n->p[P_B(l)], n->act[l]);
                if (r < 0)
                        return r;
        }
        VkTensor *top = n->act[a->n_layers - 1];
        if ((r = op_gpool_record(n->pool, n->rec, POOL_AVG, batch, last, n->c, top, n->fmean, NULL)) < 0 ||
            (r = op_gpool_record(n->pool, n->rec, POOL_MAX, batch, last, n->c, top, n->fmax, n->argmax)) <
                    0 ||
            (r = op_gemm_record(n->gemm, n->rec, n->fmean, n->p[P_FC_MEAN(n)], n->p[P_FC_BIAS(n)], n->z,
                                &(OpGemmParams){batch, 1, n->c})) < 0 ||
            (r = op_gemm_record(n->gemm, n->rec, n->fmax, n->p[P_FC_MAX(n)], NULL, n->z,
                                &(OpGemmParams){batch, 1, n->c, .accumulate = true})) < 0)
                return r;
        return 0;
}

static int record_backward(CnnNet *n, uint32_t batch)
{
        const CnnArch *a = &n->arch;
        unsigned L = a->n_layers;
        uint32_t last = cnn_layer_pixels(a, L - 1);
        size_t n_last = (size_t)batch * last * n->c;
        int r;

        if ((r = op_bce_record_backward(n->bce, n->rec, n->z, n->y, n->pw, NULL, n->dz, batch, 1,
                                        1.0f / batch)) < 0 ||
            (r = op_gemm_record(n->gemm, n->rec, n->fmean, n->dz, NULL, n->g[P_FC_MEAN(n)],
                                &(OpGemmParams){n->c, 1, batch, .trans_a = true})) < 0 ||
            (r = op_gemm_record(n->gemm, n->rec, n->fmax, n->dz, NULL, n->g[P_FC_MAX(n)],
                                &(OpGemmParams){n->c, 1, batch, .trans_a = true})) < 0 ||
            (r = op_reduce_record(n->reduce, n->rec, OP_REDUCE_SUM, n->dz, batch, 1, 0,
                                  n->g[P_FC_BIAS(n)])) < 0 ||
            (r = op_gemm_record(n->gemm, n->rec, n->dz, n->p[P_FC_MEAN(n)], NULL, n->dfmean,
                                &(OpGemmParams){batch, n->c, 1, .trans_b = true})) < 0 ||
            (r = op_gemm_record(n->gemm, n->rec, n->dz, n->p[P_FC_MAX(n)], NULL, n->dfmax,
                                &(OpGemmParams){batch, n->c, 1, .trans_b = true})) < 0 ||
            (r = op_gpool_record_bwd(n->pool, n->rec, POOL_AVG, batch, last, n->c, n->dfmean, NULL,
                                     n->dact[L - 1])) < 0 ||
            (r = op_gpool_record_bwd(n->pool, n->rec, POOL_MAX, batch, last, n->c, n->dfmax, n->argmax,
                                     n->dmax)) < 0 ||
            (r = op_eltwise_record_add(n->elt, n->rec, n->dact[L - 1], n->dmax, n->dact[L - 1], n_last)) < 0)
                return r;
        for (unsigned l = L; l-- > 0;) {
                ConvShape s;
                size_t count = (size_t)batch * cnn_layer_pixels(a, l) * a->channels[l];
                cnn_layer_shape(a, l, batch, &s);
                if ((r = op_relu_record_backward(n->relu, n->rec, VK_ACTIVATION_RELU, n->act[l], n->dact[l],
                                                 n->dact[l], count)) < 0 ||
                    (r = op_conv2d_record_bwd_weight(n->conv, n->rec, &s, l == 0 ? n->x : n->act[l - 1],
                                                     n->dact[l], n->g[P_W(l)], n->g[P_B(l)])) < 0)
                        return r;
                /* the input image needs no gradient */
                if (l > 0 && (r = op_conv2d_record_bwd_data(n->conv, n->rec, &s, n->dact[l], n->p[P_W(l)],
                                                            n->dact[l - 1])) < 0)
                        return r;
        }
        return 0;
}

int cnn_net_step(CnnNet *n, const uint8_t *rgb, const float *y, uint32_t batch, const CnnWindow *w,
                 float pos_weight, const OpAdamWParams *adam, float *ret_loss, float *ret_grads)
{
        float loss;
        int r;

        if (batch == 0 || batch > n->max_batch)
                return -EINVAL;
        if ((r = vk_recorder_begin(n->rec)) < 0 ||
            (r = vk_recorder_upload(n->rec, n->y, y, batch * sizeof(float))) < 0 ||
            (r = vk_recorder_upload(n->rec, n->pw, &pos_weight, sizeof(float))) < 0 ||
            (r = record_forward(n, rgb, batch, w)) < 0 ||
            (r = op_bce_record(n->bce, n->rec, n->z, n->y, n->pw, NULL, n->loss, batch, 1)) < 0 ||
            (r = op_reduce_record(n->reduce, n->rec, OP_REDUCE_MEAN, n->loss, 1, batch, 1, n->loss_mean)) <
                    0 ||
            (r = record_backward(n, batch)) < 0)
                return r;
        for (size_t k = 0; k < n->n_params; k++) {
                size_t c = cnn_param_count(&n->layout[k]);
                if (ret_grads && (r = vk_recorder_download(n->rec, n->g[k], ret_grads + n->layout[k].offset,
                                                           c * sizeof(float))) < 0)
                        return r;
                if (adam &&
                    (r = op_adamw_record(n->adamw, n->rec, n->g[k], n->p[k], n->m[k], n->v[k], c, adam)) < 0)
                        return r;
        }
        if ((r = vk_recorder_download(n->rec, n->loss_mean, &loss, sizeof(float))) < 0 ||
            (r = vk_recorder_submit_and_wait(n->rec)) < 0)
                return r;
        if (ret_loss)
                *ret_loss = loss;
        return 0;
}

int cnn_net_forward(CnnNet *n, const uint8_t *rgb, uint32_t batch, const CnnWindow *w, float *ret_features,
                    float *ret_logits)
{
        _cleanup_free_ float *fm = NULL, *fx = NULL;
        int r;

        if (batch == 0 || batch > n->max_batch)
                return -EINVAL;
        if (ret_features) {
                fm = malloc((size_t)batch * n->c * sizeof(float));
                fx = malloc((size_t)batch * n->c * sizeof(float));
                if (!fm || !fx)
                        return -ENOMEM;
        }
        if ((r = vk_recorder_begin(n->rec)) < 0 || (r = record_forward(n, rgb, batch, w)) < 0)
                return r;
        if (ret_features &&
            ((r = vk_recorder_download(n->rec, n->fmean, fm, (size_t)batch * n->c * sizeof(float))) < 0 ||
             (r = vk_recorder_download(n->rec, n->fmax, fx, (size_t)batch * n->c * sizeof(float))) < 0))
                return r;
        if (ret_logits && (r = vk_recorder_download(n->rec, n->z, ret_logits, batch * sizeof(float))) < 0)
                return r;
        if ((r = vk_recorder_submit_and_wait(n->rec)) < 0)
                return r;
        for (uint32_t i = 0; ret_features && i < batch; i++) {
                memcpy(ret_features + (size_t)i * 2 * n->c, fm + (size_t)i * n->c, n->c * sizeof(float));
                memcpy(ret_features + (size_t)i * 2 * n->c + n->c, fx + (size_t)i * n->c,
                       n->c * sizeof(float));
        }
        return 0;
}
