/* SPDX-License-Identifier: MIT */
#include "head.h"
#include "op-bce.h"
#include "op-embag.h"
#include "op-gemm.h"
#include "op-reduce.h"
#include "op-relu.h"

enum { P_W1X, P_W1T, P_B1, P_W2, P_B2, P_EMB, _P_MAX };

struct Head {
        VkEngine *engine; /* borrowed */
        uint32_t dim, vocab, tag_dim, hidden, max_batch, max_nnz;

        OpGemm *gemm;
        OpRelu *relu;
        OpBce *bce;
        OpReduce *reduce;
        OpEmbag *embag;
        OpAdamW *adamw;
        VkArena *weights, *step;
        VkRecorder *rec;

        VkTensor *param[_P_MAX], *grad[_P_MAX], *m[_P_MAX], *v[_P_MAX], *pos_weight;

        /* host scratch for the embedding bag's transpose, sized once */
        float emb_lr_scale;
        uint32_t *rev_offsets, *rev_bags;
        float *rev_weights;
};

static size_t param_count(const Head *h, int p)
{
        switch (p) {
        case P_W1X:
                return (size_t)h->dim * h->hidden;
        case P_W1T:
                return (size_t)h->tag_dim * h->hidden;
        case P_B1:
        case P_W2:
                return h->hidden;
        case P_B2:
                return 1;
        default:
                return (size_t)h->vocab * h->tag_dim;
        }
}

static float *param_host(const Model *m, int p)
{
        float *const ptrs[_P_MAX] = {m->w1x, m->w1t, m->b1, m->w2, m->b2, m->emb};
        return ptrs[p];
}

Head *head_free(Head *h)
{
        if (!h)
                return NULL;
        op_gemm_free(h->gemm);
        op_relu_free(h->relu);
        op_bce_free(h->bce);
        op_reduce_free(h->reduce);
        op_embag_free(h->embag);
        op_adamw_free(h->adamw);
        vk_recorder_free(h->rec);
        vk_arena_free(h->step);
        vk_arena_free(h->weights);
        free(h->rev_offsets);
        free(h->rev_bags);
        free(h->rev_weights);
        free(h);
        return NULL;
}

static int flat(VkArena *a, size_t n, VkDType t, VkTensor **ret)
{
        if (n == 0 || n > UINT32_MAX)
                return -EINVAL;
        return vk_arena_tensor(a, t, 1, (uint32_t[]){(uint32_t)n}, ret);
}

/* Bytes a set of tensors takes in an arena: each rounded up to a generous alignment. */
#define ARENA_SLACK 4096u
static size_t arena_bytes(const size_t *counts, size_t n)
{
        size_t s = 0;
        for (size_t i = 0; i < n; i++)
                s += (counts[i] * 4 + ARENA_SLACK - 1) / ARENA_SLACK * ARENA_SLACK + ARENA_SLACK;
        return s;
}

int head_new(VkEngine *e, const Model *shape, uint32_t max_batch, uint32_t max_nnz, Head **ret)
{
        _cleanup_(head_freep) Head *h = NULL;
        int r;

        if (max_batch == 0)
                return -EINVAL;
        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->engine = e;
        h->dim = shape->dim;
        h->vocab = shape->vocab;
        h->tag_dim = shape->tag_dim;
        h->hidden = shape->hidden;
        h->max_batch = max_batch;
        h->max_nnz = MAX(max_nnz, 1u);
        h->emb_lr_scale = 1.0f;

        if ((r = op_gemm_new(e, &h->gemm)) < 0 || (r = op_relu_new(e, &h->relu)) < 0 ||
            (r = op_bce_new(e, &h->bce)) < 0 || (r = op_reduce_new(e, &h->reduce)) < 0 ||
            (r = op_embag_new(e, &h->embag)) < 0 || (r = op_adamw_new(e, &h->adamw)) < 0)
                return r;

        size_t wcounts[4 * _P_MAX + 1];
        for (int p = 0; p < _P_MAX; p++)
                for (int k = 0; k < 4; k++)
                        wcounts[p * 4 + k] = param_count(h, p);
        wcounts[4 * _P_MAX] = 1;
        r = vk_arena_new(e, arena_bytes(wcounts, ELEMENTSOF(wcounts)), &h->weights);
        if (r < 0)
                return r;
        for (int p = 0; p < _P_MAX; p++) {
                size_t n = param_count(h, p);
                if ((r = flat(h->weights, n, VK_DTYPE_F32, &h->param[p])) < 0 ||
                    (r = flat(h->weights, n, VK_DTYPE_F32, &h->grad[p])) < 0 ||
                    (r = flat(h->weights, n, VK_DTYPE_F32, &h->m[p])) < 0 ||
                    (r = flat(h->weights, n, VK_DTYPE_F32, &h->v[p])) < 0)
                        return r;
        }
        r = flat(h->weights, 1, VK_DTYPE_F32, &h->pos_weight);
        if (r < 0)
                return r;

        size_t B = max_batch, nnz = h->max_nnz;
        size_t scounts[] = {
                B * h->dim, /* x */
                nnz,
                B + 1,
                h->vocab + 1,
                nnz,
                nnz, /* tags, offsets, transpose */
                B * h->tag_dim,
                B * h->hidden,
                B,
                B,
                B, /* t, h, z, y, loss */
                1,
                B,
                B * h->hidden,
                B * h->tag_dim, /* mean loss, dz, dh, dt */
                B * h->dim,     /* dx, for a fine-tuned tail */
        };
        r = vk_arena_new(e, arena_bytes(scounts, ELEMENTSOF(scounts)), &h->step);
        if (r < 0)
                return r;
        /* staging: every upload and download of one step */
        size_t staging =
                4 * (2 * B * h->dim + 3 * nnz + B + 1 + h->vocab + 1 + B + 1 + 1 + B * (1 + h->hidden)) +
                (1u << 16);
        r = vk_recorder_new(e, staging, &h->rec);
        if (r < 0)
                return r;

        h->rev_offsets = malloc(((size_t)h->vocab + 1) * sizeof(uint32_t));
        h->rev_bags = malloc(nnz * sizeof(uint32_t));
        h->rev_weights = malloc(nnz * sizeof(float));
        if (!h->rev_offsets || !h->rev_bags || !h->rev_weights)
                return -ENOMEM;
        *ret = TAKE_PTR(h);
        return 0;
}

int head_upload(Head *h, const Model *m)
{
        int r;

        if (m->dim != h->dim || m->vocab != h->vocab || m->tag_dim != h->tag_dim || m->hidden != h->hidden)
                return -EINVAL;
        for (int p = 0; p < _P_MAX; p++) {
                if ((r = vk_tensor_upload(h->param[p], param_host(m, p), param_count(h, p) * 4)) < 0 ||
                    (r = vk_tensor_fill(h->m[p], 0)) < 0 || (r = vk_tensor_fill(h->v[p], 0)) < 0)
                        return r;
        }
        return 0;
}

int head_download(Head *h, Model *m)
{
        int r;

        if (m->dim != h->dim || m->vocab != h->vocab || m->tag_dim != h->tag_dim || m->hidden != h->hidden)
                return -EINVAL;
        for (int p = 0; p < _P_MAX; p++) {
                r = vk_tensor_download(h->param[p], param_host(m, p), param_count(h, p) * 4);
                if (r < 0)
                        return r;
        }
        return 0;
}

typedef struct Fwd {
        VkTensor *x, *tags, *offs, *t, *hid, *z;
        OpEmbagShape es;
} Fwd;

/* Uploads the batch and records the forward pass up to the logits. */
static int record_forward(Head *h, const HeadBatch *b, Fwd *f)
{
        uint32_t n = b->n, nnz = b->tag_offsets[n];
        int r;

        if (n == 0 || n > h->max_batch || nnz > h->max_nnz || b->tag_offsets[0] != 0)
                return -EINVAL;
        f->es = (OpEmbagShape){.vocab = h->vocab, .dim = h->tag_dim, .bags = n, .nnz = nnz};
        if ((r = vk_arena_tensor(h->step, VK_DTYPE_F32, 2, (uint32_t[]){n, h->dim}, &f->x)) < 0 ||
            (r = flat(h->step, MAX(nnz, 1u), VK_DTYPE_U32, &f->tags)) < 0 ||
            (r = flat(h->step, n + 1, VK_DTYPE_U32, &f->offs)) < 0 ||
            (r = vk_arena_tensor(h->step, VK_DTYPE_F32, 2, (uint32_t[]){n, h->tag_dim}, &f->t)) < 0 ||
            (r = vk_arena_tensor(h->step, VK_DTYPE_F32, 2, (uint32_t[]){n, h->hidden}, &f->hid)) < 0 ||
            (r = flat(h->step, n, VK_DTYPE_F32, &f->z)) < 0)
                return r;
        if ((r = vk_recorder_upload(h->rec, f->x, b->x, (size_t)n * h->dim * 4)) < 0 ||
            (nnz && (r = vk_recorder_upload(h->rec, f->tags, b->tags, (size_t)nnz * 4)) < 0) ||
            (r = vk_recorder_upload(h->rec, f->offs, b->tag_offsets, ((size_t)n + 1) * 4)) < 0)
                return r;

        /* [x, t]·W1 as two GEMMs into one accumulator: no concatenation copy */
        if ((r = op_embag_record(h->embag, h->rec, h->param[P_EMB], f->tags, f->offs, f->t, &f->es)) < 0 ||
            (r = op_gemm_record(h->gemm, h->rec, f->x, h->param[P_W1X], h->param[P_B1], f->hid,
                                &(OpGemmParams){n, h->hidden, h->dim})) < 0 ||
            (r = op_gemm_record(h->gemm, h->rec, f->t, h->param[P_W1T], NULL, f->hid,
                                &(OpGemmParams){n, h->hidden, h->tag_dim, .act = VK_ACTIVATION_RELU,
                                                .accumulate = true})) < 0 ||
            (r = op_gemm_record(h->gemm, h->rec, f->hid, h->param[P_W2], h->param[P_B2], f->z,
                                &(OpGemmParams){n, 1, h->hidden})) < 0)
                return r;
        return 0;
}

int head_forward(Head *h, const HeadBatch *b, float *out_logit, float *out_hidden)
{
        Fwd f;
        int r;

        vk_arena_reset(h->step);
        r = vk_recorder_begin(h->rec);
        if (r < 0)
                return r;
        if ((r = record_forward(h, b, &f)) < 0 ||
            (r = vk_recorder_download(h->rec, f.z, out_logit, (size_t)b->n * 4)) < 0 ||
            (out_hidden &&
             (r = vk_recorder_download(h->rec, f.hid, out_hidden, (size_t)b->n * h->hidden * 4)) < 0))
                return r;
        return vk_recorder_submit_and_wait(h->rec);
}

int head_train_step(Head *h, const HeadBatch *b, float pos_weight, const OpAdamWParams *p, float *ret_loss)
{
        return head_train_step_dx(h, b, pos_weight, p, ret_loss, NULL);
}

int head_train_step_dx(Head *h, const HeadBatch *b, float pos_weight, const OpAdamWParams *p,
                       float *ret_loss, float *ret_dx)
{
        VkTensor *y, *loss, *mean, *dz, *dh, *dt, *dx = NULL;
        uint32_t n = b->n;
        float l;
        Fwd f;
        int r;

        vk_arena_reset(h->step);
        r = vk_recorder_begin(h->rec);
        if (r < 0)
                return r;
        r = record_forward(h, b, &f);
        if (r < 0)
                return r;
        if ((r = flat(h->step, n, VK_DTYPE_F32, &y)) < 0 ||
            (r = flat(h->step, n, VK_DTYPE_F32, &loss)) < 0 ||
            (r = flat(h->step, 1, VK_DTYPE_F32, &mean)) < 0 ||
            (r = flat(h->step, n, VK_DTYPE_F32, &dz)) < 0 ||
            (r = vk_arena_tensor(h->step, VK_DTYPE_F32, 2, (uint32_t[]){n, h->hidden}, &dh)) < 0 ||
            (r = vk_arena_tensor(h->step, VK_DTYPE_F32, 2, (uint32_t[]){n, h->tag_dim}, &dt)) < 0 ||
            (ret_dx && (r = vk_arena_tensor(h->step, VK_DTYPE_F32, 2, (uint32_t[]){n, h->dim}, &dx)) < 0))
                return r;
        VkTensor *ro, *rb, *rw;
        uint32_t nnz = f.es.nnz;
        if ((r = flat(h->step, h->vocab + 1, VK_DTYPE_U32, &ro)) < 0 ||
            (r = flat(h->step, MAX(nnz, 1u), VK_DTYPE_U32, &rb)) < 0 ||
            (r = flat(h->step, MAX(nnz, 1u), VK_DTYPE_F32, &rw)) < 0)
                return r;
        r = op_embag_transpose(&f.es, b->tags, b->tag_offsets, h->rev_offsets, h->rev_bags, h->rev_weights);
        if (r < 0)
                return r;
        if ((r = vk_recorder_upload(h->rec, y, b->y, (size_t)n * 4)) < 0 ||
            (r = vk_recorder_upload(h->rec, h->pos_weight, &pos_weight, 4)) < 0 ||
            (r = vk_recorder_upload(h->rec, ro, h->rev_offsets, ((size_t)h->vocab + 1) * 4)) < 0 ||
            (nnz && (r = vk_recorder_upload(h->rec, rb, h->rev_bags, (size_t)nnz * 4)) < 0) ||
            (nnz && (r = vk_recorder_upload(h->rec, rw, h->rev_weights, (size_t)nnz * 4)) < 0))
                return r;

        /* loss, for progress reports */
        if ((r = op_bce_record(h->bce, h->rec, f.z, y, h->pos_weight, NULL, loss, n, 1)) < 0 ||
            (r = op_reduce_record(h->reduce, h->rec, OP_REDUCE_MEAN, loss, 1, n, 1, mean)) < 0)
                return r;
        /* backward */
        if ((r = op_bce_record_backward(h->bce, h->rec, f.z, y, h->pos_weight, NULL, dz, n, 1, 1.0f / n)) <
                    0 ||
            (r = op_gemm_record(h->gemm, h->rec, f.hid, dz, NULL, h->grad[P_W2],
                                &(OpGemmParams){h->hidden, 1, n, .trans_a = true})) < 0 ||
            (r = op_reduce_record(h->reduce, h->rec, OP_REDUCE_SUM, dz, n, 1, 0, h->grad[P_B2])) < 0 ||
            (r = op_gemm_record(h->gemm, h->rec, dz, h->param[P_W2], NULL, dh,
                                &(OpGemmParams){n, h->hidden, 1, .trans_b = true})) < 0 ||
            (r = op_relu_record_backward(h->relu, h->rec, VK_ACTIVATION_RELU, f.hid, dh, dh,
                                         (size_t)n * h->hidden)) < 0 ||
            (r = op_gemm_record(h->gemm, h->rec, f.x, dh, NULL, h->grad[P_W1X],
                                &(OpGemmParams){h->dim, h->hidden, n, .trans_a = true})) < 0 ||
            (r = op_gemm_record(h->gemm, h->rec, f.t, dh, NULL, h->grad[P_W1T],
                                &(OpGemmParams){h->tag_dim, h->hidden, n, .trans_a = true})) < 0 ||
            (r = op_reduce_record(h->reduce, h->rec, OP_REDUCE_SUM, dh, n, h->hidden, 0, h->grad[P_B1])) <
                    0 ||
            (r = op_gemm_record(h->gemm, h->rec, dh, h->param[P_W1T], NULL, dt,
                                &(OpGemmParams){n, h->tag_dim, h->hidden, .trans_b = true})) < 0 ||
            (r = op_embag_record_backward(h->embag, h->rec, dt, ro, rb, rw, h->grad[P_EMB], &f.es, false)) <
                    0)
                return r;
        /* for a fine-tuned backbone tail below the head; before W1x is updated */
        if (dx && ((r = op_gemm_record(h->gemm, h->rec, dh, h->param[P_W1X], NULL, dx,
                                       &(OpGemmParams){n, h->dim, h->hidden, .trans_b = true})) < 0 ||
                   (r = vk_recorder_download(h->rec, dx, ret_dx, (size_t)n * h->dim * 4)) < 0))
                return r;
        /* update: biases take no weight decay, as usual */
        for (int q = 0; q < _P_MAX; q++) {
                OpAdamWParams a = *p;
                if (q == P_B1 || q == P_B2)
                        a.weight_decay = 0;
                if (q == P_EMB)
                        a.lr *= h->emb_lr_scale;
                r = op_adamw_record(h->adamw, h->rec, h->grad[q], h->param[q], h->m[q], h->v[q],
                                    param_count(h, q), &a);
                if (r < 0)
                        return r;
        }
        r = vk_recorder_download(h->rec, mean, &l, sizeof(l));
        if (r < 0)
                return r;
        r = vk_recorder_submit_and_wait(h->rec);
        if (r < 0)
                return r;
        if (ret_loss)
                *ret_loss = l;
        return 0;
}

void head_set_emb_lr_scale(Head *h, float scale)
{
        h->emb_lr_scale = scale;
}
