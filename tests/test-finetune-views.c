/* SPDX-License-Identifier: MIT */
/* Fine-tuning's views with the real backbone on the Vulkan engine: the
 * plain view's embedding is the backbone's, and its cached activations run
 * through the tuned-layer code (ft-tail) give the backbone's "final" set back
 * (half-float rounding aside); augmented views differ from the plain one
 * and from each other and repeat for the same seed; a replaced layer on the
 * device changes exactly that set and is restored. Must survive: an image
 * that does not decode (-EIO and its index), a memory bound too small for one
 * view (-E2BIG), a deadline already past (the plain round only, or -ETIME
 * when the plain round itself must end by then). */
#include <time.h>
#include <unistd.h>

#include "backbone-internal.h"
#include "backbone/bb-test.h"
#include "ft-tail.h"
#include "half.h"
#include "views.h"
#include "vk-test.h"

/* after fluff/util.h: glib redefines MIN/MAX/CLAMP the same way */
#include <vips/vips.h>

#define N_IMAGES 5

static char *paths[N_IMAGES + 1];

static void write_images(const char *dir)
{
        _cleanup_free_ uint8_t *px = malloc(BACKBONE_INPUT_FLOATS);
        ASSERT_TRUE(px);
        ASSERT_OK(VIPS_INIT("test-finetune-views") == 0 ? 0 : -EIO);
        for (unsigned i = 0; i < N_IMAGES; i++) {
                /* a disc off-centre on stripes: crops and flips move it */
                vkt_seed(i + 3);
                unsigned cx = 40 + vkt_u32() % 60, cy = 50 + vkt_u32() % 100, rad = 25 + vkt_u32() % 30;
                for (unsigned y = 0; y < 224; y++)
                        for (unsigned x = 0; x < 224; x++)
                                for (unsigned c = 0; c < 3; c++) {
                                        unsigned dx = x - cx, dy = y - cy;
                                        bool in = dx * dx + dy * dy < rad * rad;
                                        px[(y * 224 + x) * 3 + c] =
                                                in ? (c == i % 3 ? 240 : 20)
                                                   : (uint8_t)(128 + 100 * ((x / (8 + i)) % 2) - 40 * c);
                                }
                /* PNG: lossless like the old PPM, and a type the image
                 * intake accepts (it checks the magic bytes, as for downloads) */
                ASSERT_TRUE(asprintf(&paths[i], "%s/%u.png", dir, i) > 0);
                VipsImage *im = vips_image_new_from_memory(px, BACKBONE_INPUT_FLOATS, 224, 224, 3,
                                                           VIPS_FORMAT_UCHAR);
                ASSERT_TRUE(im);
                int r = vips_pngsave(im, paths[i], NULL);
                g_object_unref(im);
                ASSERT_OK(r == 0 ? 0 : -EIO);
        }
}

static double set_nmse(const float *a, const float *b, BackboneFeatureSet f)
{
        const BackboneFeatureInfo *fi = backbone_feature_info(f);
        return vkt_nmse(a + fi->offset, b + fi->offset, fi->dim);
}

static const float *feat(const FtViews *v, size_t i, uint32_t view)
{
        return v->features + (i * v->n_views + view) * BACKBONE_EMBED_DIM;
}

TEST(views)
{
        VkEngine *e = vkt_engine();
        _cleanup_free_ char *dir = test_tmpdir();
        _cleanup_(backbone_freep) Backbone *bb = bbt_load(dir);
        _cleanup_(ft_views_freep) FtViews *v = NULL, *again = NULL, *one = NULL;
        _cleanup_(backbone_vk_freep) BackboneVk *vk = NULL;
        _cleanup_free_ uint8_t *rgb = malloc(N_IMAGES * BACKBONE_INPUT_FLOATS);
        _cleanup_free_ float *plain = malloc(N_IMAGES * BACKBONE_EMBED_DIM * sizeof(float));
        const BackboneFeatureInfo *fin = backbone_feature_info(BACKBONE_FEAT_FINAL);
        size_t bad = SIZE_MAX;

        ASSERT_TRUE(rgb && plain);
        write_images(dir);
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        ASSERT_OK(ft_views_compute(e, bb, (const char *const *)paths, N_IMAGES, 3, SIZE_MAX, 7, UINT64_MAX,
                                   UINT64_MAX, NULL, &v, &bad));
        fprintf(stderr, "  %u views of %d images in %.2f s (%.2f s a round)\n", v->n_views, N_IMAGES,
                (double)(now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_SEC, v->seconds_per_round);
        ASSERT_EQ(v->n_views, 3u);
        ASSERT_EQ(v->hw, 49u);
        ASSERT_EQ(v->cin, 320u);
        ASSERT_EQ(v->cout, 1280u);
        ASSERT_STREQ(v->set, "final");

        /* view 0 is the plain backbone */
        for (unsigned i = 0; i < N_IMAGES; i++)
                ASSERT_OK(backbone_image_load_rgb8(paths[i], rgb + i * BACKBONE_INPUT_FLOATS));
        ASSERT_OK(backbone_vk_new(e, bb, 8, BACKBONE_VK_KEEP_NONE, &vk));
        ASSERT_OK(backbone_vk_forward(vk, rgb, N_IMAGES, NULL, plain));
        for (unsigned i = 0; i < N_IMAGES; i++)
                ASSERT_TRUE(vkt_nmse(feat(v, i, 0), plain + i * BACKBONE_EMBED_DIM, BACKBONE_EMBED_DIM) <
                            1e-12);

        /* the cached activations through the tuned-layer code give "final" back */
        _cleanup_(ft_tail_freep) FtTail *tail = NULL;
        size_t per = (size_t)v->hw * v->cin;
        _cleanup_free_ float *act = malloc(N_IMAGES * per * sizeof(float));
        _cleanup_free_ float *mean = malloc(N_IMAGES * v->cout * sizeof(float));
        _cleanup_free_ float *max = malloc(N_IMAGES * v->cout * sizeof(float));
        ASSERT_TRUE(act && mean && max);
        for (unsigned i = 0; i < N_IMAGES; i++)
                for (size_t k = 0; k < per; k++)
                        act[i * per + k] = half_to_float(v->act[(size_t)i * v->n_views * per + k]);
        ASSERT_OK(ft_tail_new(e, v->hw, v->cin, v->cout, N_IMAGES, &tail));
        ASSERT_OK(ft_tail_upload(tail, v->weight, v->bias));
        ASSERT_OK(ft_tail_forward(tail, act, N_IMAGES, mean, max));
        for (unsigned i = 0; i < N_IMAGES; i++) {
                const float *want = plain + i * BACKBONE_EMBED_DIM + fin->offset;
                double m = vkt_nmse(mean + i * v->cout, want, v->cout);
                double x = vkt_nmse(max + i * v->cout, want + v->cout, v->cout);
                fprintf(stderr,
                        "  image %u: tail from half-float activations vs backbone: NMSE mean %.1e, max "
                        "%.1e\n",
                        i, m, x);
                ASSERT_TRUE(m < 1e-5 && x < 1e-5);
        }

        /* augmented views are other crops: every set moves, and the two differ */
        for (unsigned i = 0; i < N_IMAGES; i++) {
                double d1 = set_nmse(feat(v, i, 1), feat(v, i, 0), BACKBONE_FEAT_B13_EXPAND);
                double d12 = set_nmse(feat(v, i, 2), feat(v, i, 1), BACKBONE_FEAT_B13_EXPAND);
                fprintf(stderr, "  image %u: view 1 vs plain NMSE %.2e, view 2 vs view 1 %.2e\n", i, d1,
                        d12);
                ASSERT_TRUE(d1 > 1e-4 && d12 > 1e-4);
        }
        /* the same seed, the same views */
        ASSERT_OK(ft_views_compute(e, bb, (const char *const *)paths, N_IMAGES, 3, SIZE_MAX, 7, UINT64_MAX,
                                   UINT64_MAX, NULL, &again, NULL));
        ASSERT_TRUE(memcmp(again->act, v->act, N_IMAGES * 3 * per * sizeof(uint16_t)) == 0);

        /* a replaced layer on the device changes "final" only, to what ft-tail computes */
        _cleanup_free_ float *w = malloc(per / v->hw * v->cout * sizeof(float));
        _cleanup_free_ float *tuned = malloc(N_IMAGES * BACKBONE_EMBED_DIM * sizeof(float));
        float *b = malloc(v->cout * sizeof(float));
        ASSERT_TRUE(w && tuned && b);
        for (size_t k = 0; k < (size_t)v->cin * v->cout; k++)
                w[k] = v->weight[k] * (k % 3 == 0 ? -1.0f : 1.5f);
        for (uint32_t k = 0; k < v->cout; k++)
                b[k] = v->bias[k] + 0.1f;
        ASSERT_OK(backbone_vk_set_weights(vk, v->node, w, b));
        ASSERT_OK(backbone_vk_forward(vk, rgb, N_IMAGES, NULL, tuned));
        ASSERT_OK(ft_tail_upload(tail, w, b));
        ASSERT_OK(ft_tail_forward(tail, act, N_IMAGES, mean, max));
        for (unsigned i = 0; i < N_IMAGES; i++) {
                const float *t = tuned + i * BACKBONE_EMBED_DIM, *p = plain + i * BACKBONE_EMBED_DIM;
                ASSERT_TRUE(set_nmse(t, p, BACKBONE_FEAT_B16_PROJECT) < 1e-12);
                ASSERT_TRUE(set_nmse(t, p, BACKBONE_FEAT_FINAL) > 1e-3);
                ASSERT_TRUE(vkt_nmse(mean + i * v->cout, t + fin->offset, v->cout) < 1e-5);
        }
        ASSERT_OK(backbone_vk_set_weights(vk, v->node, NULL, NULL));
        ASSERT_OK(backbone_vk_forward(vk, rgb, N_IMAGES, NULL, tuned));
        ASSERT_TRUE(vkt_nmse(tuned, plain, N_IMAGES * BACKBONE_EMBED_DIM) < 1e-12);
        ASSERT_EQ(backbone_vk_set_weights(vk, 0, w, b), -ENOENT); /* the input has no weights */
        free(b);

        /* a deadline already past: the plain round only */
        ASSERT_OK(ft_views_compute(e, bb, (const char *const *)paths, N_IMAGES, 3, SIZE_MAX, 7, 0,
                                   UINT64_MAX, NULL, &one, NULL));
        ASSERT_EQ(one->n_views, 1u);
        ASSERT_TRUE(memcmp(one->features, plain, BACKBONE_EMBED_DIM * sizeof(float)) == 0 ||
                    vkt_nmse(one->features, plain, BACKBONE_EMBED_DIM) < 1e-12);

        /* a memory bound of two views of every image (and a byte short of
         * three): two rounds, however much time is left */
        size_t per_view = (size_t)one->hw * one->cin * sizeof(uint16_t) + BACKBONE_EMBED_DIM * sizeof(float);
        FtViews *two = NULL;
        ASSERT_OK(ft_views_compute(e, bb, (const char *const *)paths, N_IMAGES, 3,
                                   3 * N_IMAGES * per_view - 1, 7, UINT64_MAX, UINT64_MAX, NULL, &two,
                                   NULL));
        ASSERT_EQ(two->n_views, 2u);
        two = ft_views_free(two);

        /* a broken image, a memory bound below one view, plain views that cannot finish in time */
        FtViews *none = NULL;
        ModelFinetuneData fd;
        /* the train job's budget leaves the views less than one plain round: not computed */
        ASSERT_EQ(ft_prepare(e, bb, (const char *const *)paths, N_IMAGES, 2 * FT_MIN_BUDGET_S,
                             N_IMAGES * per_view - 1, 7, NULL, &none, &fd),
                  -E2BIG);
        ASSERT_TRUE(none == NULL);
        ASSERT_EQ(ft_views_compute(e, bb, (const char *const *)paths, N_IMAGES, 3, SIZE_MAX, 7, 0, 0, NULL,
                                   &none, NULL),
                  -ETIME);
        ASSERT_EQ(ft_views_compute(e, bb, (const char *const *)paths, N_IMAGES, 3, 1000, 7, UINT64_MAX,
                                   UINT64_MAX, NULL, &none, NULL),
                  -E2BIG);
        FILE *f = fopen(paths[3], "we");
        ASSERT_TRUE(f);
        fputs("P6\n224 224\n255\nshort", f);
        fclose(f);
        ASSERT_EQ(ft_views_compute(e, bb, (const char *const *)paths, N_IMAGES, 2, SIZE_MAX, 7, UINT64_MAX,
                                   UINT64_MAX, NULL, &none, &bad),
                  -EIO);
        ASSERT_EQ(bad, (size_t)3);
        ASSERT_TRUE(none == NULL);
        for (unsigned i = 0; i < N_IMAGES; i++) {
                unlink(paths[i]);
                free(paths[i]);
        }
}

TEST_MAIN()
