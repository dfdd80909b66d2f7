/* SPDX-License-Identifier: MIT */
/* The small CNN (daemon/model/cnn*.c): one training step on the device —
 * augmentation window, convolutions, mean+max pooling, linear, BCE and every
 * gradient — against a plain C reference on odd shapes; the features it
 * gives the head; training from scratch learns a pixel-only pattern; the
 * model file keeps its tensors exactly. Must survive: files whose CNN
 * tensors are missing, misshapen, non-finite or undescribed (refused with a
 * reason naming the CNN), files without any CNN (still load), a batch larger
 * than the network was made for and a split pointing past the images
 * (-EINVAL). */
#include <json-c/json.h>

#include "../daemon/model/cnn-net.h"
#include "cnn.h"
#include "ref-conv.h"
#include "vk-test.h"

static void random_params(ModelCnn *c, uint64_t seed)
{
        CnnParam p[CNN_PARAMS_MAX];
        size_t n = cnn_param_layout(&c->arch, p);

        vkt_seed(seed);
        for (size_t k = 0; k < n; k++)
                for (size_t i = 0; i < cnn_param_count(&p[k]); i++)
                        c->params[p[k].offset + i] = p[k].cols ? vkt_normal() * sqrtf(2.0f / p[k].rows)
                                                               : vkt_uniform(-0.2f, 0.2f);
}

static double softplus(double x)
{
        return fmax(x, 0) + log1p(exp(-fabs(x)));
}

/* The reference: loss, gradients (params layout) and features of one batch. */
static double ref_step(const ModelCnn *c, const uint8_t *rgb, const float *y, uint32_t B, const CnnWindow *w,
                       float pw, float *grads, float *features)
{
        const CnnArch *a = &c->arch;
        CnnParam p[CNN_PARAMS_MAX];
        size_t np = cnn_param_layout(a, p);
        unsigned L = a->n_layers;
        uint32_t C = a->channels[L - 1], P = cnn_layer_pixels(a, L - 1), margin = a->stored - a->input;
        float *act[CNN_LAYERS_MAX], *x = calloc((size_t)B * a->input * a->input * 3, sizeof(float));
        float *fm = calloc(B * C, 4), *fx = calloc(B * C, 4), *dz = calloc(B, 4), *dfm = calloc(B * C, 4),
              *dfx = calloc(B * C, 4), *d2 = calloc((size_t)B * P * C, 4);
        uint32_t *am = calloc(B * C, 4);
        const float *prm = c->params;
        PreprocShape ps = {.n = B, .src_h = a->stored, .src_w = a->stored, .crop_h = a->input, .crop_w = a->input,
                           .crop_y = margin / 2, .crop_x = margin / 2, .out_h = a->input, .out_w = a->input,
                           .flags = w->augment ? PREPROC_RANDOM_CROP | PREPROC_RANDOM_FLIP : 0, .seed = w->seed,
                           .scale = {1 / 127.5f, 1 / 127.5f, 1 / 127.5f}, .offset = {-1, -1, -1}};
        double loss = 0;

        ASSERT_TRUE(x && fm && fx && dz && dfm && dfx && d2 && am);
        ref_preprocess(&ps, rgb, x);
        for (unsigned l = 0; l < L; l++) {
                ConvShape s;
                cnn_layer_shape(a, l, B, &s);
                act[l] = calloc((size_t)B * cnn_layer_pixels(a, l) * a->channels[l], sizeof(float));
                ASSERT_TRUE(act[l]);
                ref_conv2d_fwd(&s, VK_ACTIVATION_RELU, l ? act[l - 1] : x, prm + p[2 * l].offset,
                               prm + p[2 * l + 1].offset, act[l]);
        }
        ref_gpool_fwd(POOL_AVG, B, P, C, act[L - 1], fm, NULL);
        ref_gpool_fwd(POOL_MAX, B, P, C, act[L - 1], fx, am);
        memset(grads, 0, c->n_params * sizeof(float));
        const float *wm = prm + p[2 * L].offset, *wx = prm + p[2 * L + 1].offset;
        float *gwm = grads + p[2 * L].offset, *gwx = grads + p[2 * L + 1].offset, *gb = grads + p[2 * L + 2].offset;
        for (uint32_t b = 0; b < B; b++) {
                double z = prm[p[2 * L + 2].offset] + vkt_dot(fm + b * C, wm, C) + vkt_dot(fx + b * C, wx, C);
                loss += pw * y[b] * softplus(-z) + (1 - y[b]) * softplus(z);
                dz[b] = (float)(((pw * y[b] + 1 - y[b]) / (1 + exp(-z)) - pw * y[b]) / B);
                gb[0] += dz[b];
                for (uint32_t j = 0; j < C; j++) {
                        gwm[j] += fm[b * C + j] * dz[b];
                        gwx[j] += fx[b * C + j] * dz[b];
                        dfm[b * C + j] = dz[b] * wm[j];
                        dfx[b * C + j] = dz[b] * wx[j];
                }
                memcpy(features + (size_t)b * 2 * C, fm + b * C, C * 4);
                memcpy(features + (size_t)b * 2 * C + C, fx + b * C, C * 4);
        }
        float *d = calloc((size_t)B * P * C, 4);
        ASSERT_TRUE(d);
        ref_gpool_bwd(POOL_AVG, B, P, C, dfm, NULL, d);
        ref_gpool_bwd(POOL_MAX, B, P, C, dfx, am, d2);
        for (size_t i = 0; i < (size_t)B * P * C; i++)
                d[i] += d2[i];
        for (unsigned l = L; l-- > 0;) {
                ConvShape s;
                cnn_layer_shape(a, l, B, &s);
                ref_act_bwd(VK_ACTIVATION_RELU, (size_t)B * cnn_layer_pixels(a, l) * a->channels[l], act[l], d, d);
                ref_conv2d_bwd_weight(&s, l ? act[l - 1] : x, d, grads + p[2 * l].offset, grads + p[2 * l + 1].offset);
                if (l > 0) {
                        float *dp = calloc((size_t)B * cnn_layer_pixels(a, l - 1) * a->channels[l - 1], 4);
                        ASSERT_TRUE(dp);
                        ref_conv2d_bwd_data(&s, d, prm + p[2 * l].offset, dp);
                        free(d);
                        d = dp;
                }
                free(act[l]);
        }
        (void)np;
        free(d);
        free(x), free(fm), free(fx), free(dz), free(dfm), free(dfx), free(d2), free(am);
        return loss / B;
}

static void check_against_reference(const CnnArch *a, uint32_t B, bool augment, uint64_t seed)
{
        _cleanup_(model_cnn_freep) ModelCnn *c = NULL;
        _cleanup_(cnn_net_freep) CnnNet *net = NULL;
        size_t sz = (size_t)a->stored * a->stored * 3, F = cnn_feature_dim(a);
        _cleanup_free_ uint8_t *rgb = malloc(B * sz);
        _cleanup_free_ float *y = malloc(B * 4), *g_vk = NULL, *g_c = NULL, *f_vk = NULL,
                             *f_c = NULL, *z = malloc(B * 4);
        CnnWindow w = {.augment = augment, .seed = (uint32_t)seed * 77};
        float loss;
        char what[1024];

        ASSERT_OK(model_cnn_new(a, &c));
        random_params(c, seed);
        g_c = calloc(c->n_params, 4);
        g_vk = calloc(c->n_params, 4);
        f_vk = calloc(B * F, 4);
        f_c = calloc(B * F, 4);
        ASSERT_TRUE(rgb && y && g_vk && g_c && f_vk && f_c && z);
        for (size_t i = 0; i < B * sz; i++)
                rgb[i] = (uint8_t)(vkt_u32() & 0xff);
        for (uint32_t b = 0; b < B; b++)
                y[b] = (float)(b % 3 == 0);
        double want = ref_step(c, rgb, y, B, &w, 1.7f, g_c, f_c);

        /* made for B + 2: a smaller batch than the tensors must work too */
        ASSERT_OK(cnn_net_new(vkt_engine(), a, B + 2, &net));
        ASSERT_OK(cnn_net_upload(net, c->params));
        ASSERT_ERROR(cnn_net_step(net, rgb, y, B + 3, &w, 1.7f, NULL, &loss, NULL), EINVAL);
        ASSERT_OK(cnn_net_forward(net, rgb, B, &w, f_vk, z));
        snprintf(what, sizeof(what), "features, input %u, %u layers, batch %u", a->input, a->n_layers, B);
        vkt_compare(what, f_vk, f_c, B * F, 1e-10);
        ASSERT_OK(cnn_net_step(net, rgb, y, B, &w, 1.7f, NULL, &loss, g_vk));
        fprintf(stderr, "  input %u/%u, %u layers, batch %u%s: loss %.6f on the device, %.6f in C\n", a->input,
                a->stored, a->n_layers, B, augment ? ", augmented" : "", loss, want);
        ASSERT_NEAR(loss, want, 1e-4 * (1 + fabs(want)));
        CnnParam p[CNN_PARAMS_MAX];
        size_t n = cnn_param_layout(a, p);
        for (size_t k = 0; k < n; k++) {
                snprintf(what, sizeof(what), "gradient of %s", p[k].name);
                vkt_compare(what, g_vk + p[k].offset, g_c + p[k].offset, cnn_param_count(&p[k]), 1e-8);
        }
}

TEST(step_matches_reference_on_odd_shapes)
{
        /* odd sides (13 → 7 → 4), margins for the random window, 1 to 3 layers, odd channels */
        check_against_reference(&(CnnArch){.input = 13, .stored = 13, .n_layers = 2, .channels = {5, 7}}, 3, false, 1);
        check_against_reference(&(CnnArch){.input = 13, .stored = 17, .n_layers = 3, .channels = {3, 9, 6}}, 5, true,
                                2);
        check_against_reference(&(CnnArch){.input = 9, .stored = 11, .n_layers = 1, .channels = {1}}, 1, true, 3);
        check_against_reference(&(CnnArch){.input = 20, .stored = 24, .n_layers = 4, .channels = {8, 16, 16, 12}},
                                7, true, 4);
}

TEST_MAIN()
