/* SPDX-License-Identifier: MIT */
/* The backbone on the Vulkan engine against the C reference pass, on the same
 * uint8 pixels: probabilities within 1e-3, each pooled feature set within an
 * NMSE bound. Batches larger than the maximum are split; a bad call is
 * refused, not run. */
#include "backbone-internal.h"
#include "backbone-embed.h"
#include "backbone-vk.h"
#include "backbone/bb-test.h"
#include "vk-test.h"

#define N_IMAGES 5
#define MAX_BATCH 3 /* so the 5 images take two batches, the second partial */
#define PROB_TOL 1e-3
#define FEAT_NMSE 1e-6

/* Smooth colour fields with edges and noise: enough structure that every
 * layer sees varied activations. */
static void make_image(unsigned seed, uint8_t *px)
{
        vkt_seed(seed);
        float fx = vkt_uniform(0.01f, 0.2f), fy = vkt_uniform(0.01f, 0.2f), ph = vkt_uniform(0, 6.28f);
        unsigned cx = vkt_u32() % 224, cy = vkt_u32() % 224, rad = 20 + vkt_u32() % 80;
        for (unsigned y = 0; y < 224; y++)
                for (unsigned x = 0; x < 224; x++)
                        for (unsigned c = 0; c < 3; c++) {
                                float v = 128 + 90 * sinf(fx * x * (c + 1) + fy * y + ph) +
                                          vkt_uniform(-20, 20);
                                unsigned dx = x - cx, dy = y - cy;
                                if (dx * dx + dy * dy < rad * rad)
                                        v = c == seed % 3 ? 230 : 30;
                                px[(y * 224 + x) * 3 + c] = (uint8_t)CLAMP(v, 0.0f, 255.0f);
                        }
}

TEST(vulkan_matches_reference)
{
        VkEngine *e = vkt_engine();
        _cleanup_free_ char *dir = test_tmpdir();
        _cleanup_(backbone_freep) Backbone *bb = bbt_load(dir);
        _cleanup_(backbone_vk_freep) BackboneVk *v = NULL;
        _cleanup_free_ uint8_t *rgb = malloc(N_IMAGES * BACKBONE_INPUT_FLOATS);
        _cleanup_free_ float *px = malloc(N_IMAGES * BACKBONE_INPUT_FLOATS * sizeof(float));
        _cleanup_free_ float *emb_ref = malloc(N_IMAGES * BACKBONE_EMBED_DIM * sizeof(float));
        _cleanup_free_ float *emb_vk = malloc(N_IMAGES * BACKBONE_EMBED_DIM * sizeof(float));
        float p_ref[N_IMAGES * 5], p_vk[N_IMAGES * 5];

        ASSERT_TRUE(rgb && px && emb_ref && emb_vk);
        for (unsigned i = 0; i < N_IMAGES; i++) {
                make_image(i + 1, rgb + i * BACKBONE_INPUT_FLOATS);
                backbone_pixels_from_rgb8(rgb + i * BACKBONE_INPUT_FLOATS, px + i * BACKBONE_INPUT_FLOATS);
        }
        ASSERT_OK(backbone_forward_ref(bb, px, N_IMAGES, p_ref, emb_ref));

        ASSERT_OK(backbone_vk_new(e, bb, MAX_BATCH, 16, &v));
        ASSERT_OK(backbone_vk_forward(v, rgb, N_IMAGES, p_vk, emb_vk));

        double worst = 0;
        for (unsigned i = 0; i < N_IMAGES * 5; i++)
                worst = MAX(worst, fabs((double)p_vk[i] - p_ref[i]));
        fprintf(stderr, "  probabilities: max |Δ| %.2e\n", worst);
        ASSERT_TRUE(worst <= PROB_TOL);
        for (int f = 0; f < _BACKBONE_FEAT_MAX; f++) {
                const BackboneFeatureInfo *fi = backbone_feature_info((BackboneFeatureSet)f);
                double num = 0, den = 0;
                for (unsigned i = 0; i < N_IMAGES; i++)
                        for (unsigned j = 0; j < fi->dim; j++) {
                                double a = emb_vk[i * BACKBONE_EMBED_DIM + fi->offset + j];
                                double b = emb_ref[i * BACKBONE_EMBED_DIM + fi->offset + j];
                                ASSERT_TRUE(isfinite(a));
                                num += (a - b) * (a - b);
                                den += b * b;
                        }
                fprintf(stderr, "  %-12s NMSE %.2e\n", fi->name, num / den);
                ASSERT_TRUE(num / den <= FEAT_NMSE);
        }

        /* block 16 and later are kept for a backward pass; block 3 is not */
        const BbGraph *g = backbone_graph(bb);
        ASSERT_TRUE(backbone_vk_activation(v, (unsigned)bb_graph_find(g, "block_16_project_BN")));
        ASSERT_TRUE(!backbone_vk_activation(v, (unsigned)bb_graph_find(g, "block_3_expand_relu")));

        /* classification alone, and an empty call */
        float p_only[N_IMAGES * 5];
        ASSERT_OK(backbone_vk_forward(v, rgb, N_IMAGES, p_only, NULL));
        ASSERT_TRUE(memcmp(p_only, p_vk, sizeof(p_only)) == 0);
        ASSERT_OK(backbone_vk_forward(v, rgb, 0, p_only, NULL));
        ASSERT_ERROR(backbone_vk_forward(v, NULL, 1, p_only, NULL), EINVAL);
        ASSERT_ERROR(backbone_vk_new(e, bb, 0, 16, &v), EINVAL);

        _cleanup_free_ char *w = NULL;
        ASSERT_TRUE(asprintf(&w, "%s/backbone.safetensors", dir) > 0);
        (void)unlink(w);
        (void)rmdir(dir);
}

/* What a forward pass holds grows with its batch, and
 * backbone_vk_batch_bytes() says how much: fluffd sizes the batch from it
 * on a CPU device, where device memory is its own RSS (services/backbone.h). */
TEST(batch_bytes)
{
        VkEngine *e = vkt_engine();
        _cleanup_free_ char *dir = test_tmpdir(), *w = NULL;
        _cleanup_(backbone_freep) Backbone *bb = bbt_load(dir);
        BackboneVk *v;
        uint64_t m0, m2, m4, b2, b4;

        vk_engine_memory(e, &m0, NULL);
        ASSERT_OK(backbone_vk_new(e, bb, 2, BACKBONE_VK_KEEP_NONE, &v));
        vk_engine_memory(e, &m2, NULL);
        b2 = backbone_vk_batch_bytes(v);
        v = backbone_vk_free(v);
        ASSERT_OK(backbone_vk_new(e, bb, 4, BACKBONE_VK_KEEP_NONE, &v));
        vk_engine_memory(e, &m4, NULL);
        b4 = backbone_vk_batch_bytes(v);
        v = backbone_vk_free(v);
        fprintf(stderr, "  forward pass: %.1f MB an image, %.1f MB besides\n",
                (double)(b4 - b2) / 2 / (1 << 20), (double)(m4 - m0 - b4) / (1 << 20));
        /* everything else is the weights: the same for both batches */
        ASSERT_EQ(m2 - m0 - b2, m4 - m0 - b4);
        /* and the bytes that grow, grow with the images (up to rounding) */
        ASSERT_TRUE(b4 > b2 && b4 - b2 <= b2 && b2 - (b4 - b2) <= 256);

        ASSERT_TRUE(asprintf(&w, "%s/backbone.safetensors", dir) > 0);
        (void)unlink(w);
        (void)rmdir(dir);
}

/* Fine-tuning runs the last blocks on cached activations: the pass from a
 * kept activation must give what the whole pass gave. */
TEST(forward_from_cached_activation)
{
        VkEngine *e = vkt_engine();
        _cleanup_free_ char *dir = test_tmpdir(), *w = NULL;
        _cleanup_(backbone_freep) Backbone *bb = bbt_load(dir);
        _cleanup_(backbone_vk_freep) BackboneVk *v = NULL;
        _cleanup_free_ uint8_t *rgb = malloc(3 * BACKBONE_INPUT_FLOATS);
        _cleanup_free_ float *act = NULL;
        float emb[3 * BACKBONE_EMBED_DIM], emb2[3 * BACKBONE_EMBED_DIM], p[15], p2[15];

        ASSERT_TRUE(rgb);
        for (unsigned i = 0; i < 3; i++)
                make_image(10 + i, rgb + i * BACKBONE_INPUT_FLOATS);
        ASSERT_OK(backbone_vk_new(e, bb, 3, 12, &v));
        ASSERT_OK(backbone_vk_forward(v, rgb, 3, p, emb));

        const BbGraph *g = backbone_graph(bb);
        int start = bb_graph_find(g, "block_12_add");
        ASSERT_TRUE(start > 0);
        VkTensor *t = backbone_vk_activation(v, (unsigned)start);
        ASSERT_TRUE(t);
        size_t count = 3 * 14 * 14 * 96;
        act = vkt_download(t, count);

        memset(emb2, 0, sizeof(emb2));
        ASSERT_OK(backbone_vk_forward_from(v, (unsigned)start, act, 3, p2, emb2));
        ASSERT_TRUE(memcmp(p, p2, sizeof(p)) == 0);
        for (unsigned i = 0; i < 3; i++)
                ASSERT_TRUE(memcmp(emb + i * BACKBONE_EMBED_DIM, emb2 + i * BACKBONE_EMBED_DIM,
                                   BACKBONE_EMBED_DIM * sizeof(float)) == 0);

        /* inside a residual block is no cut: block_14_add still reads block 13's output */
        ASSERT_ERROR(backbone_vk_forward_from(v, (unsigned)bb_graph_find(g, "block_14_expand_relu"), act, 3,
                                              p2, NULL),
                     EINVAL);
        ASSERT_ERROR(backbone_vk_forward_from(v, 0, act, 3, p2, NULL), EINVAL);

        VkTensor *wt = NULL, *bt = NULL;
        ASSERT_OK(backbone_vk_weights(v, (unsigned)bb_graph_find(g, "block_16_project"), &wt, &bt));
        ASSERT_EQ(wt->count, 960 * 320);
        ASSERT_EQ(bt->count, 320);
        ASSERT_ERROR(backbone_vk_weights(v, (unsigned)start, &wt, &bt), ENOENT);

        ASSERT_TRUE(asprintf(&w, "%s/backbone.safetensors", dir) > 0);
        (void)unlink(w);
        (void)rmdir(dir);
}

static int count_progress(size_t done, size_t total, void *userdata)
{
        size_t *calls = userdata;
        ASSERT_TRUE(done <= total);
        (*calls)++;
        return *calls >= 100 ? -1 : 0;
}

/* The daemon's entry point: files in, a broken one among them. */
TEST(embed_files)
{
        VkEngine *e = vkt_engine();
        _cleanup_free_ char *dir = test_tmpdir(), *cmd = NULL;
        _cleanup_(backbone_freep) Backbone *bb = bbt_load(dir);
        _cleanup_(backbone_vk_freep) BackboneVk *v = NULL;
        char *paths[4];
        float emb_vk[4 * BACKBONE_EMBED_DIM], emb_ref[4 * BACKBONE_EMBED_DIM], p_vk[20], p_ref[20];
        int st_vk[4], st_ref[4];
        size_t calls = 0;

        ASSERT_TRUE(
                asprintf(&cmd,
                         "cd '%s' && vips zone z.v 300 200 && vips linear z.v z2.v 100 128 && vips bandjoin "
                         "'z2.v z2.v z2.v' z3.v && vips cast z3.v a.jpg uchar && vips gaussnoise n.v 240 "
                         "320 && "
                         "vips cast n.v b.png uchar && head -c 500 a.jpg > broken.jpg && vips sines s.v 250 "
                         "250 && "
                         "vips linear s.v s2.v 100 128 && vips bandjoin 's2.v s2.v s2.v' sx.v && vips cast "
                         "sx.v c.jpg "
                         "uchar",
                         dir) > 0);
        if (system(cmd) != 0)
                TEST_FAIL("Cannot make test images with vips");
        static const char *const names[4] = {"a.jpg", "broken.jpg", "b.png", "c.jpg"};
        for (unsigned i = 0; i < 4; i++)
                ASSERT_TRUE(asprintf(&paths[i], "%s/%s", dir, names[i]) > 0);

        ASSERT_OK(backbone_vk_new(e, bb, 2, BACKBONE_VK_KEEP_NONE, &v));
        ASSERT_OK(backbone_embed_files(bb, v, (const char *const *)paths, 4, emb_vk, p_vk, st_vk,
                                       count_progress, &calls));
        ASSERT_EQ(calls, 2);
        ASSERT_OK(backbone_embed_files(bb, NULL, (const char *const *)paths, 4, emb_ref, p_ref, st_ref, NULL,
                                       NULL));
        for (unsigned i = 0; i < 4; i++) {
                ASSERT_EQ(st_vk[i] < 0, i == 1);
                ASSERT_EQ(st_ref[i] < 0, i == 1);
                for (unsigned c = 0; c < 5; c++)
                        ASSERT_NEAR(p_vk[i * 5 + c], p_ref[i * 5 + c], PROB_TOL);
        }
        ASSERT_TRUE(vkt_nmse(emb_vk, emb_ref, 4 * BACKBONE_EMBED_DIM) <= FEAT_NMSE);
        ASSERT_EQ(p_vk[5] + p_vk[9], 0); /* the broken one stays zero */

        calls = 99; /* the callback cancels */
        ASSERT_ERROR(backbone_embed_files(bb, v, (const char *const *)paths, 4, NULL, p_vk, st_vk,
                                          count_progress, &calls),
                     ECANCELED);
        for (unsigned i = 0; i < 4; i++)
                free(paths[i]);
        free(cmd);
        ASSERT_TRUE(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
        (void)!system(cmd);
}

TEST_MAIN()
