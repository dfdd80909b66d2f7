/* SPDX-License-Identifier: MIT */
#include "op-gemm.h"

typedef struct GemmPush {
        uint32_t m, n, k;
        uint32_t has_bias;
        uint32_t act;
        uint32_t accumulate;
} GemmPush;
_Static_assert(sizeof(GemmPush) == 24, "must match shaders/gemm.comp");

typedef struct PackPush {
        uint32_t n, k, n_pad;
} PackPush;
_Static_assert(sizeof(PackPush) == 12, "must match shaders/gemm_pack.comp");

/* B packs into panels (gemm_pack.comp) from this many floats on: below, it
 * stays in L2 whatever its stride and the extra pass does not pay. */
#define PACK_MIN_FLOATS (256u * 1024u)
#define PACK_LOCAL 64u

/* The variants of shaders/gemm.comp (its specialization constants). */
typedef struct GemmVariant {
        bool trans_a, trans_b;
        bool vec4_b; /* B read 4 columns per fetch, C stored 4 per store: n % 4 == 0 */
        bool packed; /* B read from its packed panels (implies vec4_b) */
        bool vec4_a; /* A fetched 4 k-steps at a time, the same in every lane: !trans_a, k % 4 == 0 */
} GemmVariant;

enum {
        K_PLAIN,               /* [trans_a·2 + trans_b] */
        K_VEC4 = K_PLAIN + 4,  /* [trans_a] */
        K_PACKED = K_VEC4 + 2, /* [trans_a] */
        K_VEC4_A = K_PACKED + 2,
        K_PACKED_A,
        _K_MAX,
};

static const GemmVariant variants[_K_MAX] = {
        [K_PLAIN + 1] = {.trans_b = true},
        [K_PLAIN + 2] = {.trans_a = true},
        [K_PLAIN + 3] = {.trans_a = true, .trans_b = true},
        [K_VEC4] = {.vec4_b = true},
        [K_VEC4 + 1] = {.trans_a = true, .vec4_b = true},
        [K_PACKED] = {.vec4_b = true, .packed = true},
        [K_PACKED + 1] = {.trans_a = true, .vec4_b = true, .packed = true},
        [K_VEC4_A] = {.vec4_b = true, .vec4_a = true},
        [K_PACKED_A] = {.vec4_b = true, .packed = true, .vec4_a = true},
};

/* One tile shape and its kernels, built on first use: a layer calls one or two
 * of the ten variants, and each pipeline costs a cold LLVM compile (seconds
 * under the sanitizer's allocator). */
typedef struct GemmTileSet {
        OpGemmTiles t;
        VkKernel *kernel[_K_MAX]; /* owned by the engine; NULL until first used */
        VkKernel *pack[2];        /* [trans_b], gemm_pack.comp */
} GemmTileSet;

struct OpGemm {
        VkEngine *engine; /* borrowed */
        /* [0] the tiles asked for (or the device's); [1] on a CPU device where the
         * caller left the columns to us, 4 columns per lane (half as wide): a
         * layer with 16, 24, 96 or 160 outputs computed a third to three quarters
         * of clamped, thrown-away columns in the wide tile. */
        GemmTileSet set[2];
        unsigned n_sets;
        /* The packed B. A larger one replaces it; the old ones stay until the op is
         * freed, since a recording not yet submitted may still read them. */
        VkTensor *scratch;
        VkTensor **retired;
        size_t n_retired;
        uint64_t max_texels;
};

static void default_tiles(VkEngine *e, OpGemmTiles *t)
{
        uint32_t sg = vk_engine_subgroup_size(e);

        /* Measured on lavapipe (see tests/bench); GPUs get a guess until measured. */
        if (vk_engine_device_kind(e) == VK_DEVICE_KIND_CPU) {
                if (t->lanes == 0)
                        t->lanes = sg;
                if (t->rows == 0)
                        t->rows = 16;
                if (t->cols == 0)
                        t->cols = 8;
        } else {
                if (t->lanes == 0)
                        t->lanes = sg;
                if (t->rows == 0)
                        t->rows = 8;
                if (t->cols == 0)
                        t->cols = 4;
        }
}

static bool tiles_valid(VkEngine *e, const OpGemmTiles *t)
{
        return t->lanes == vk_engine_subgroup_size(e) && t->rows >= 1 && t->rows <= 32 && t->cols >= 1 &&
               t->cols <= 16;
}

int op_gemm_new_tiled(VkEngine *e, const OpGemmTiles *tiles, OpGemm **ret)
{
        _cleanup_(op_gemm_freep) OpGemm *op = NULL;

        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->engine = e;
        op->max_texels = vk_engine_max_texel_elements(e);
        OpGemmTiles asked = tiles ? *tiles : (OpGemmTiles){};
        op->set[0].t = asked;
        default_tiles(e, &op->set[0].t);
        op->n_sets = 1;
        /* The shader broadcasts across the workgroup: it must be exactly one subgroup. */
        if (!vk_engine_has_subgroup_ops(e))
                return log_debug_errno(EOPNOTSUPP, "GEMM needs subgroup operations.");
        if (!tiles_valid(e, &op->set[0].t))
                return -EINVAL;
        /* Narrow tiles: as many accumulators (rows·cols) as the wide ones, measured
         * about 0.85× their speed per FMA on lavapipe at N=1024. */
        if (vk_engine_device_kind(e) == VK_DEVICE_KIND_CPU && asked.cols == 0 && op->set[0].t.cols == 8) {
                op->set[1].t = (OpGemmTiles){
                        .lanes = op->set[0].t.lanes, .rows = MIN(32u, op->set[0].t.rows * 2), .cols = 4};
                op->n_sets = 2;
        }
        *ret = TAKE_PTR(op);
        return 0;
}

static int get_kernel(OpGemm *op, GemmTileSet *s, unsigned v, VkKernel **ret)
{
        const GemmVariant *g = &variants[v];
        const OpGemmTiles *t = &s->t;
        int r;

        if (!s->kernel[v]) {
                r = vk_kernel_get(op->engine,
                                  &(VkKernelInfo){
                                          .shader = "gemm",
                                          .n_bindings = 4,
                                          .write_mask = 1u << 3,
                                          .texel_mask = 3,
                                          .texel4_mask = (g->vec4_a ? 1 : 0) | (g->vec4_b ? 2 : 0),
                                          .push_size = sizeof(GemmPush),
                                          .n_spec = 8,
                                          .spec = {t->lanes, t->rows, t->cols, g->trans_a, g->trans_b,
                                                   g->vec4_b, g->packed, g->vec4_a},
                                          .full_subgroups = true,
                                  },
                                  &s->kernel[v]);
                if (r < 0)
                        return r;
        }
        *ret = s->kernel[v];
        return 0;
}

static int get_pack_kernel(OpGemm *op, GemmTileSet *s, bool trans_b, VkKernel **ret)
{
        int r;

        if (!s->pack[trans_b]) {
                r = vk_kernel_get(op->engine,
                                  &(VkKernelInfo){
                                          .shader = "gemm_pack",
                                          .n_bindings = 2,
                                          .write_mask = 1u << 1,
                                          .texel_mask = 1,
                                          .push_size = sizeof(PackPush),
                                          .n_spec = 3,
                                          .spec = {PACK_LOCAL, s->t.lanes * s->t.cols, trans_b},
                                  },
                                  &s->pack[trans_b]);
                if (r < 0)
                        return r;
        }
        *ret = s->pack[trans_b];
        return 0;
}

int op_gemm_new(VkEngine *e, OpGemm **ret)
{
        return op_gemm_new_tiled(e, NULL, ret);
}

OpGemm *op_gemm_free(OpGemm *op)
{
        if (!op)
                return NULL;
        for (size_t i = 0; i < op->n_retired; i++)
                vk_tensor_free(op->retired[i]);
        free(op->retired);
        vk_tensor_free(op->scratch);
        free(op);
        return NULL;
}

void op_gemm_get_tiles(const OpGemm *op, OpGemmTiles *ret)
{
        *ret = op->set[0].t;
}

/* Records the packing of op(B) into op->scratch, grown as needed. */
static int record_pack(OpGemm *op, GemmTileSet *s, VkRecorder *r, VkTensor *b, const OpGemmParams *p)
{
        uint32_t width = s->t.lanes * s->t.cols;
        uint64_t n_pad = ((uint64_t)p->n + width - 1) / width * width;
        uint64_t floats = n_pad * p->k;
        int q;

        if (n_pad > UINT32_MAX || floats > UINT32_MAX)
                return -E2BIG;
        if (floats > op->max_texels)
                return -E2BIG;
        if (!op->scratch || op->scratch->count < floats) {
                _cleanup_(vk_tensor_freep) VkTensor *t = NULL;
                q = vk_tensor_new(op->engine, VK_DTYPE_F32, 1, (uint32_t[]){(uint32_t)floats}, &t);
                if (q < 0)
                        return q;
                if (op->scratch) {
                        VkTensor **v = reallocarray(op->retired, op->n_retired + 1, sizeof(*v));
                        if (!v)
                                return -ENOMEM;
                        op->retired = v;
                        op->retired[op->n_retired++] = op->scratch;
                }
                op->scratch = TAKE_PTR(t);
        }
        VkKernel *k;
        q = get_pack_kernel(op, s, p->trans_b, &k);
        if (q < 0)
                return q;
        PackPush push = {.n = p->n, .k = p->k, .n_pad = (uint32_t)n_pad};
        uint64_t gy = p->k;
        if (gy > UINT32_MAX)
                return -EINVAL;
        return vk_recorder_dispatch(r, k, (VkTensor *[]){b, op->scratch}, &push,
                                    (uint32_t)((n_pad / 4 + PACK_LOCAL - 1) / PACK_LOCAL), (uint32_t)gy, 1);
}

int op_gemm_record(OpGemm *op, VkRecorder *r, VkTensor *a, VkTensor *b, VkTensor *bias, VkTensor *c,
                   const OpGemmParams *p)
{
        if (!p || p->m == 0 || p->n == 0 || p->k == 0 || p->act < 0 || p->act >= _VK_ACTIVATION_MAX)
                return -EINVAL;
        if (!vk_tensor_holds_f32(a, (uint64_t)p->m * p->k) ||
            !vk_tensor_holds_f32(b, (uint64_t)p->k * p->n) ||
            !vk_tensor_holds_f32(c, (uint64_t)p->m * p->n) || (bias && !vk_tensor_holds_f32(bias, p->n)))
                return -EINVAL;
        /* A and B are read through R32F texel buffers, which have their own size limit. */
        if (MAX(a->count, b->count) > op->max_texels)
                return -E2BIG;

        /* The set that computes the fewest clamped columns; the wide one on a tie. */
        GemmTileSet *s = &op->set[0];
        uint64_t cols_per_group = (uint64_t)s->t.lanes * s->t.cols;
        for (unsigned i = 1; i < op->n_sets; i++) {
                uint64_t w = (uint64_t)op->set[i].t.lanes * op->set[i].t.cols;
                if ((p->n + w - 1) / w * w < (p->n + cols_per_group - 1) / cols_per_group * cols_per_group) {
                        s = &op->set[i];
                        cols_per_group = w;
                }
        }
        uint64_t gx = (p->n + cols_per_group - 1) / cols_per_group;
        uint64_t gy = (p->m + s->t.rows - 1) / s->t.rows;
        if (gx > UINT32_MAX || gy > UINT32_MAX)
                return -EINVAL;

        GemmPush push = {
                .m = p->m,
                .n = p->n,
                .k = p->k,
                .has_bias = bias != NULL,
                .act = (uint32_t)p->act,
                .accumulate = p->accumulate,
        };
        unsigned v = K_PLAIN + p->trans_a * 2 + p->trans_b;
        /* The vec4 kernels store C and read the bias 4 columns at a time. */
        bool vec4_c = s->t.cols % 4 == 0 && p->n % 4 == 0 && c->offset % 16 == 0 &&
                      (!bias || bias->offset % 16 == 0);
        bool vec4_a = !p->trans_a && p->k % 4 == 0 && a->offset % 16 == 0;
        if (vec4_c && (uint64_t)p->k * p->n >= PACK_MIN_FLOATS) {
                int q = record_pack(op, s, r, b, p);
                if (q < 0 && q != -E2BIG)
                        return q;
                if (q >= 0) {
                        v = vec4_a ? K_PACKED_A : K_PACKED + p->trans_a;
                        b = op->scratch;
                }
        }
        if (vec4_c && v < K_VEC4 && !p->trans_b && b->offset % 16 == 0)
                v = vec4_a ? K_VEC4_A : K_VEC4 + p->trans_a;
        VkKernel *k;
        int q = get_kernel(op, s, v, &k);
        if (q < 0)
                return q;
        return vk_recorder_dispatch(r, k, (VkTensor *[]){a, b, bias ?: c, c}, &push, (uint32_t)gx,
                                    (uint32_t)gy, 1);
}
