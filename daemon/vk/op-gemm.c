/* SPDX-License-Identifier: MIT */
#include "op-gemm.h"

typedef struct GemmPush {
        uint32_t m, n, k;
        uint32_t has_bias;
        uint32_t act;
        uint32_t accumulate;
} GemmPush;
_Static_assert(sizeof(GemmPush) == 24, "must match shaders/gemm.comp");

struct OpGemm {
        VkEngine *engine;     /* borrowed */
        VkKernel *kernel[4];  /* [trans_a·2 + trans_b], owned by the engine */
        VkKernel *vec4[2];    /* [trans_a], B read as vec4s: n % 4 == 0, !trans_b */
        OpGemmTiles tiles;
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
                        t->rows = 8;
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

int op_gemm_new_tiled(VkEngine *e, const OpGemmTiles *tiles, OpGemm **ret)
{
        _cleanup_(op_gemm_freep) OpGemm *op = NULL;
        int r;

        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->engine = e;
        op->max_texels = vk_engine_max_texel_elements(e);
        op->tiles = tiles ? *tiles : (OpGemmTiles){};
        default_tiles(e, &op->tiles);
        const OpGemmTiles *t = &op->tiles;
        /* The shader broadcasts across the workgroup: it must be exactly one subgroup. */
        if (!vk_engine_has_subgroup_ops(e))
                return log_debug_errno(EOPNOTSUPP, "GEMM needs subgroup operations.");
        if (t->lanes != vk_engine_subgroup_size(e) || t->rows < 1 || t->rows > 32 || t->cols < 1 || t->cols > 16)
                return -EINVAL;

        for (unsigned v = 0; v < 6; v++) {
                bool vec4 = v >= 4, trans_a = vec4 ? v & 1 : v >> 1, trans_b = vec4 ? 0 : v & 1;
                if (vec4 && t->cols % 4 != 0)
                        break;
                r = vk_kernel_get(e,
                                  &(VkKernelInfo){
                                          .shader = "gemm",
                                          .n_bindings = 4,
                                          .write_mask = 1u << 3,
                                          .texel_mask = 3,
                                          .texel4_mask = vec4 ? 2 : 0,
                                          .push_size = sizeof(GemmPush),
                                          .n_spec = 6,
                                          .spec = { t->lanes, t->rows, t->cols, trans_a, trans_b, vec4 },
                                          .full_subgroups = true,
                                  },
                                  vec4 ? &op->vec4[v - 4] : &op->kernel[v]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(op);
        return 0;
}

int op_gemm_new(VkEngine *e, OpGemm **ret)
{
        return op_gemm_new_tiled(e, NULL, ret);
}

OpGemm *op_gemm_free(OpGemm *op)
{
        free(op);
        return NULL;
}

void op_gemm_get_tiles(const OpGemm *op, OpGemmTiles *ret)
{
        *ret = op->tiles;
}

static bool holds(const VkTensor *t, uint64_t n)
{
        return t && t->dtype == VK_DTYPE_F32 && t->count >= n;
}

int op_gemm_record(OpGemm *op, VkRecorder *r, VkTensor *a, VkTensor *b, VkTensor *bias, VkTensor *c,
                   const OpGemmParams *p)
{
        if (!p || p->m == 0 || p->n == 0 || p->k == 0 || p->act < 0 || p->act >= _VK_ACTIVATION_MAX)
                return -EINVAL;
        if (!holds(a, (uint64_t)p->m * p->k) || !holds(b, (uint64_t)p->k * p->n) ||
            !holds(c, (uint64_t)p->m * p->n) || (bias && !holds(bias, p->n)))
                return -EINVAL;
        /* A and B are read through R32F texel buffers, which have their own size limit. */
        if (MAX(a->count, b->count) > op->max_texels)
                return -E2BIG;

        uint64_t cols_per_group = (uint64_t)op->tiles.lanes * op->tiles.cols;
        uint64_t gx = (p->n + cols_per_group - 1) / cols_per_group;
        uint64_t gy = (p->m + op->tiles.rows - 1) / op->tiles.rows;
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
        VkKernel *k = op->kernel[p->trans_a * 2 + p->trans_b];
        if (!p->trans_b && p->n % 4 == 0 && op->vec4[p->trans_a] && b->offset % 16 == 0)
                k = op->vec4[p->trans_a];
        return vk_recorder_dispatch(r, k, (VkTensor *[]){ a, b, bias ?: c, c }, &push, (uint32_t)gx, (uint32_t)gy,
                                    1);
}
