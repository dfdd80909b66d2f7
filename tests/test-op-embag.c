/* SPDX-License-Identifier: MIT */
/* Embedding bag (mean): forward and the deterministic backward against C,
 * backward also by finite differences, plus the host-side transpose. Must
 * survive: empty bags (zeros), repeated indices in one bag, indices ≥ vocab
 * (skipped by the kernel, rejected by the transpose), offsets past nnz
 * (clamped, no out-of-bounds read), too-small tensors (errors).
 * Tolerance: NMSE ≤ 1e-12 (a handful of fp32 adds per element). */
#include "op-embag.h"
#include "vk-test.h"

typedef struct Batch {
        OpEmbagShape s;
        uint32_t *indices, *offsets, *rev_offsets, *rev_bags;
        float *rev_weights;
} Batch;

static void batch_make(Batch *b, uint32_t vocab, uint32_t dim, uint32_t bags, uint32_t max_bag)
{
        b->s = (OpEmbagShape){ vocab, dim, bags, 0 };
        b->offsets = malloc((bags + 1) * 4);
        ASSERT_TRUE(b->offsets);
        b->offsets[0] = 0;
        for (uint32_t i = 0; i < bags; i++)
                b->offsets[i + 1] = b->offsets[i] + (i % 5 == 4 ? 0 : vkt_u32() % (max_bag + 1)); /* some empty */
        b->s.nnz = b->offsets[bags];
        b->indices = malloc(MAX(b->s.nnz, 1u) * 4);
        b->rev_offsets = malloc((vocab + 1) * 4);
        b->rev_bags = malloc(MAX(b->s.nnz, 1u) * 4);
        b->rev_weights = malloc(MAX(b->s.nnz, 1u) * 4);
        ASSERT_TRUE(b->indices && b->rev_offsets && b->rev_bags && b->rev_weights);
        for (uint32_t j = 0; j < b->s.nnz; j++)
                b->indices[j] = (j % 7 == 3 && j > 0) ? b->indices[j - 1] : vkt_u32() % vocab; /* some repeats */
        ASSERT_OK(op_embag_transpose(&b->s, b->indices, b->offsets, b->rev_offsets, b->rev_bags, b->rev_weights));
}

static void batch_free(Batch *b)
{
        free(b->indices);
        free(b->offsets);
        free(b->rev_offsets);
        free(b->rev_bags);
        free(b->rev_weights);
}

static void forward_c(const Batch *b, const float *table, float *out)
{
        uint32_t D = b->s.dim;
        for (uint32_t i = 0; i < b->s.bags; i++) {
                uint32_t len = b->offsets[i + 1] - b->offsets[i];
                for (uint32_t d = 0; d < D; d++) {
                        double s = 0;
                        for (uint32_t j = b->offsets[i]; j < b->offsets[i + 1]; j++)
                                s += table[(size_t)b->indices[j] * D + d];
                        out[(size_t)i * D + d] = len ? (float)(s / len) : 0.0f;
                }
        }
}

static void backward_c(const Batch *b, const float *dout, float *dtable)
{
        uint32_t D = b->s.dim;
        memset(dtable, 0, (size_t)b->s.vocab * D * 4);
        for (uint32_t i = 0; i < b->s.bags; i++) {
                uint32_t len = b->offsets[i + 1] - b->offsets[i];
                for (uint32_t j = b->offsets[i]; j < b->offsets[i + 1]; j++)
                        for (uint32_t d = 0; d < D; d++)
                                dtable[(size_t)b->indices[j] * D + d] += dout[(size_t)i * D + d] / (float)len;
        }
}

typedef struct Dev {
        VkTensor *table, *indices, *offsets, *out, *dout, *rev_offsets, *rev_bags, *rev_weights, *dtable;
} Dev;

static void dev_make(Dev *t, const Batch *b, const float *table, const float *dout)
{
        VkEngine *e = vkt_engine();
        size_t nt = (size_t)b->s.vocab * b->s.dim, no = (size_t)b->s.bags * b->s.dim;

        t->table = vkt_tensor(e, nt, table);
        t->indices = vkt_tensor_u32(e, MAX(b->s.nnz, 1u), b->indices);
        t->offsets = vkt_tensor_u32(e, b->s.bags + 1, b->offsets);
        t->out = vkt_tensor(e, no, NULL);
        t->dout = vkt_tensor(e, no, dout);
        t->rev_offsets = vkt_tensor_u32(e, b->s.vocab + 1, b->rev_offsets);
        t->rev_bags = vkt_tensor_u32(e, MAX(b->s.nnz, 1u), b->rev_bags);
        t->rev_weights = vkt_tensor(e, MAX(b->s.nnz, 1u), b->rev_weights);
        t->dtable = vkt_tensor(e, nt, NULL);
}

static void dev_free(Dev *t)
{
        VkTensor **all[] = { &t->table,       &t->indices,  &t->offsets,     &t->out,   &t->dout,
                             &t->rev_offsets, &t->rev_bags, &t->rev_weights, &t->dtable };
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                *all[i] = vk_tensor_free(*all[i]);
}

typedef struct FdCtx {
        OpEmbag *op;
        const Batch *b;
        Dev *t;
        const float *w;
} FdCtx;

static double loss(void *ud, const float *table)
{
        FdCtx *c = ud;
        VkRecorder *rec = vkt_recorder();
        size_t no = (size_t)c->b->s.bags * c->b->s.dim;
        float *out = malloc(no * 4);
        double s = 0;

        ASSERT_TRUE(out);
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(vk_recorder_upload(rec, c->t->table, table, (size_t)c->b->s.vocab * c->b->s.dim * 4));
        ASSERT_OK(op_embag_record(c->op, rec, c->t->table, c->t->indices, c->t->offsets, c->t->out, &c->b->s));
        ASSERT_OK(vk_recorder_download(rec, c->t->out, out, no * 4));
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        for (size_t i = 0; i < no; i++)
                s += (double)c->w[i] * out[i];
        free(out);
        return s;
}

static void run(uint32_t vocab, uint32_t dim, uint32_t bags, uint32_t max_bag)
{
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_embag_freep) OpEmbag *op = NULL;
        Batch b;
        Dev t;

        ASSERT_OK(op_embag_new(vkt_engine(), &op));
        batch_make(&b, vocab, dim, bags, max_bag);
        size_t nt = (size_t)vocab * dim, no = (size_t)bags * dim;
        float *table = malloc(nt * 4), *dout = malloc(no * 4), *want_out = malloc(no * 4), *want_dt = malloc(nt * 4),
              *dt0 = malloc(nt * 4);
        ASSERT_TRUE(table && dout && want_out && want_dt && dt0);
        vkt_fill(table, nt, -1, 1);
        vkt_fill(dout, no, -1, 1);
        forward_c(&b, table, want_out);
        backward_c(&b, dout, want_dt);
        dev_make(&t, &b, table, dout);

        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_embag_record(op, rec, t.table, t.indices, t.offsets, t.out, &b.s));
        ASSERT_OK(op_embag_record_backward(op, rec, t.dout, t.rev_offsets, t.rev_bags, t.rev_weights, t.dtable, &b.s,
                                           false));
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        float *got_out = vkt_download(t.out, no), *got_dt = vkt_download(t.dtable, nt);
        char what[96];
        snprintf(what, sizeof(what), "embag V=%u D=%u bags=%u nnz=%u", vocab, dim, bags, b.s.nnz);
        vkt_compare(what, got_out, want_out, no, 1e-12);
        vkt_compare(what, got_dt, want_dt, nt, 1e-12);
        vkt_check_guard(t.out, no);
        vkt_check_guard(t.dtable, nt);

        /* accumulate adds onto what is there */
        memcpy(dt0, got_dt, nt * 4);
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_embag_record_backward(op, rec, t.dout, t.rev_offsets, t.rev_bags, t.rev_weights, t.dtable, &b.s,
                                           true));
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        free(got_dt);
        got_dt = vkt_download(t.dtable, nt);
        for (size_t i = 0; i < nt; i++)
                want_dt[i] = dt0[i] + dt0[i];
        vkt_compare("embag backward, accumulate", got_dt, want_dt, nt, 1e-12);

        FdCtx c = { op, &b, &t, dout };
        vkt_check_gradient(what, loss, &c, table, nt, dt0, 40, 0.05f, 2e-3);

        free(got_out);
        free(got_dt);
        free(table);
        free(dout);
        free(want_out);
        free(want_dt);
        free(dt0);
        dev_free(&t);
        batch_free(&b);
}

TEST(forward_backward)
{
        vkt_seed(60);
        run(1, 1, 1, 3);
        run(13, 127, 13, 6);
        run(127, 13, 127, 20);
        run(5000, 13, 64, 30);
        run(50, 4099, 3, 5);
}

TEST(bad_indices)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_embag_freep) OpEmbag *op = NULL;
        /* bag 0: {1, 99 (invalid)}, bag 1: {} , bag 2 claims entries past nnz */
        uint32_t idx[] = { 1, 99, 2 }, off[] = { 0, 2, 2, 1000 };
        OpEmbagShape s = { .vocab = 4, .dim = 2, .bags = 3, .nnz = 3 };
        float table[8] = { 0, 0, 1, 10, 2, 20, 3, 30 }, out[6];
        uint32_t ro[5], rb[3];
        float rw[3];

        ASSERT_OK(op_embag_new(e, &op));
        VkTensor *tt = vkt_tensor(e, 8, table), *ti = vkt_tensor_u32(e, 3, idx), *to = vkt_tensor_u32(e, 4, off),
                 *tout = vkt_tensor(e, 6, NULL);
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_embag_record(op, rec, tt, ti, to, tout, &s));
        ASSERT_OK(vk_recorder_download(rec, tout, out, sizeof(out)));
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        ASSERT_NEAR(out[0], 1, 0); /* 99 skipped and not counted */
        ASSERT_NEAR(out[1], 10, 0);
        ASSERT_NEAR(out[2], 0, 0); /* empty */
        ASSERT_NEAR(out[4], 2, 0); /* clamped to nnz: just index 2 */
        ASSERT_NEAR(out[5], 20, 0);
        vkt_check_guard(tout, 6);

        /* The host transpose refuses what the kernel would only skip. */
        ASSERT_ERROR(op_embag_transpose(&s, idx, off, ro, rb, rw), EINVAL);
        off[3] = 3;
        ASSERT_ERROR(op_embag_transpose(&s, idx, off, ro, rb, rw), EINVAL);
        idx[1] = 3;
        ASSERT_OK(op_embag_transpose(&s, idx, off, ro, rb, rw));
        ASSERT_EQ(ro[0], 0);
        ASSERT_EQ(ro[4], 3);
        off[1] = 3;
        off[2] = 2; /* decreasing */
        ASSERT_ERROR(op_embag_transpose(&s, idx, off, ro, rb, rw), EINVAL);

        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_ERROR(op_embag_record(op, rec, tt, ti, to, tout, &(OpEmbagShape){ 4, 2, 30, 3 }), EINVAL);
        ASSERT_ERROR(op_embag_record(op, rec, tt, ti, to, tout, &(OpEmbagShape){ 0, 2, 3, 3 }), EINVAL);
        ASSERT_ERROR(op_embag_record(op, rec, tt, tt, to, tout, &s), EINVAL); /* float indices */
        ASSERT_EQ(vk_recorder_n_dispatches(rec), 0);
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        vk_tensor_free(tt);
        vk_tensor_free(ti);
        vk_tensor_free(to);
        vk_tensor_free(tout);
}

TEST_MAIN()
