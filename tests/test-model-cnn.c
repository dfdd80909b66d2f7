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
#include <time.h>
/* util.h (through cnn.h) first: glib redefines MIN/MAX */
#include "cnn.h"

#include <vips/vips.h>

#include "../daemon/model/cnn-net.h"
#include "metrics.h"
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
        PreprocShape ps = {.n = B,
                           .src_h = a->stored,
                           .src_w = a->stored,
                           .crop_h = a->input,
                           .crop_w = a->input,
                           .crop_y = margin / 2,
                           .crop_x = margin / 2,
                           .out_h = a->input,
                           .out_w = a->input,
                           .flags = w->augment ? PREPROC_RANDOM_CROP | PREPROC_RANDOM_FLIP : 0,
                           .seed = w->seed,
                           .scale = {1 / 127.5f, 1 / 127.5f, 1 / 127.5f},
                           .offset = {-1, -1, -1}};
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
        float *gwm = grads + p[2 * L].offset, *gwx = grads + p[2 * L + 1].offset,
              *gb = grads + p[2 * L + 2].offset;
        for (uint32_t b = 0; b < B; b++) {
                double z =
                        prm[p[2 * L + 2].offset] + vkt_dot(fm + b * C, wm, C) + vkt_dot(fx + b * C, wx, C);
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
                ref_act_bwd(VK_ACTIVATION_RELU, (size_t)B * cnn_layer_pixels(a, l) * a->channels[l], act[l],
                            d, d);
                ref_conv2d_bwd_weight(&s, l ? act[l - 1] : x, d, grads + p[2 * l].offset,
                                      grads + p[2 * l + 1].offset);
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
        _cleanup_free_ float *y = malloc(B * 4), *g_vk = NULL, *g_c = NULL, *f_vk = NULL, *f_c = NULL,
                             *z = malloc(B * 4);
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
        fprintf(stderr, "  input %u/%u, %u layers, batch %u%s: loss %.6f on the device, %.6f in C\n",
                a->input, a->stored, a->n_layers, B, augment ? ", augmented" : "", loss, want);
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
        check_against_reference(&(CnnArch){.input = 13, .stored = 13, .n_layers = 2, .channels = {5, 7}}, 3,
                                false, 1);
        check_against_reference(&(CnnArch){.input = 13, .stored = 17, .n_layers = 3, .channels = {3, 9, 6}},
                                5, true, 2);
        check_against_reference(&(CnnArch){.input = 9, .stored = 11, .n_layers = 1, .channels = {1}}, 1,
                                true, 3);
        check_against_reference(
                &(CnnArch){.input = 20, .stored = 24, .n_layers = 4, .channels = {8, 16, 16, 12}}, 7, true,
                4);
}

/* A textured background with distractor blobs; for targets a red-and-white
 * bullseye somewhere: only the pixels tell the classes apart. */
static void draw(uint8_t *img, uint32_t side, bool target)
{
        uint8_t base[3] = {(uint8_t)(vkt_u32() % 200), (uint8_t)(vkt_u32() % 200),
                           (uint8_t)(vkt_u32() % 200)};
        for (uint32_t i = 0; i < side * side; i++)
                for (int ch = 0; ch < 3; ch++)
                        img[i * 3 + ch] = (uint8_t)(base[ch] + vkt_u32() % 56);
        for (int k = 0; k < 2 + (int)(target ? 0 : 1); k++) {
                float cx = vkt_uniform(0, side), cy = vkt_uniform(0, side), r = vkt_uniform(2, 5);
                uint8_t col[3] = {(uint8_t)(vkt_u32() % 150), (uint8_t)(80 + vkt_u32() % 170),
                                  (uint8_t)(vkt_u32() % 255)};
                for (uint32_t y = 0; y < side; y++)
                        for (uint32_t x = 0; x < side; x++)
                                if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r)
                                        memcpy(img + (y * side + x) * 3, col, 3);
        }
        if (!target)
                return;
        float r = vkt_uniform(4, 6), cx = vkt_uniform(r, side - r), cy = vkt_uniform(r, side - r);
        for (uint32_t y = 0; y < side; y++)
                for (uint32_t x = 0; x < side; x++) {
                        float d = sqrtf((x - cx) * (x - cx) + (y - cy) * (y - cy));
                        if (d < r) {
                                bool red = ((int)(d / r * 4)) % 2 == 0;
                                img[(y * side + x) * 3] = red ? 215 : 245;
                                img[(y * side + x) * 3 + 1] = red ? 25 : 245;
                                img[(y * side + x) * 3 + 2] = red ? 35 : 240;
                        }
                }
}

#define NL 240

TEST(learns_a_pixel_only_pattern)
{
        static const CnnArch a = {.input = 24, .stored = 28, .n_layers = 3, .channels = {8, 16, 16}};
        size_t sz = (size_t)a.stored * a.stored * 3;
        _cleanup_free_ uint8_t *rgb = malloc(NL * sz);
        static uint8_t labels[NL], val_labels[NL];
        static uint32_t train[NL], val[NL], bad[1] = {NL};
        static float logits[NL], features[NL * 32];
        size_t n_train = 0, n_val = 0;
        _cleanup_(model_cnn_freep) ModelCnn *c = NULL;
        Error error = {};
        CnnTrainOptions o = CNN_TRAIN_OPTIONS_DEFAULT;

        ASSERT_TRUE(rgb);
        vkt_seed(42);
        for (uint32_t i = 0; i < NL; i++) {
                labels[i] = i % 3 == 0;
                draw(rgb + i * sz, a.stored, labels[i]);
                if (i % 4 == 0)
                        val[n_val++] = i;
                else
                        train[n_train++] = i;
        }
        o.time_budget_s = 40;
        o.patience = 10;
        o.max_epochs = 60;
        /* a split pointing past the images is refused */
        ASSERT_ERROR(cnn_train(vkt_engine(), &a, rgb, labels, NL, &(CnnSplit){train, bad, n_train, 1}, &o,
                               &c, NULL),
                     EINVAL);
        double t0 = (double)now_usec(CLOCK_MONOTONIC) / USEC_PER_SEC;
        ASSERT_OK(cnn_train(vkt_engine(), &a, rgb, labels, NL, &(CnnSplit){train, val, n_train, n_val}, &o,
                            &c, &error));
        fprintf(stderr, "  validation ROC AUC of the CNN alone: %.3f after %.1f s\n", c->val_auc,
                (double)now_usec(CLOCK_MONOTONIC) / USEC_PER_SEC - t0);
        ASSERT_TRUE(c->val_auc >= 0.9);

        /* the features the head gets, and the tower's own logits, reproduce its AUC */
        ASSERT_OK(cnn_features(vkt_engine(), c, rgb, NL, features, logits));
        static float vl[NL];
        for (size_t i = 0; i < n_val; i++) {
                vl[i] = logits[val[i]];
                val_labels[i] = labels[val[i]];
        }
        ASSERT_NEAR(metrics_roc_auc(vl, val_labels, n_val), c->val_auc, 1e-6);
        for (size_t i = 0; i < NL * 32; i++)
                ASSERT_TRUE(isfinite(features[i]) && features[i] >= 0);
}

/* ---- the model file ---- */

static Model *model_with_cnn(void)
{
        static const CnnArch a = {.input = 16, .stored = 20, .n_layers = 2, .channels = {4, 6}};
        Model *m;

        ASSERT_OK(model_new(12, 5, 3, 4, &m));
        m->sets[0] = (ModelFeatureSet){.name = CNN_FEATURE_SET, .offset = 0, .dim = 12};
        ASSERT_OK(model_set_string(&m->vocabulary, "{}"));
        ASSERT_OK(model_cnn_new(&a, &m->cnn));
        random_params(m->cnn, 5);
        m->cnn->val_auc = 0.75;
        return m;
}

/* The same with the cross-fitted twin: the head's one feature is their logit. */
static Model *model_with_twins(void)
{
        Model *m = model_with_cnn(), *t;

        ASSERT_OK(model_new(CNN_HEAD_DIM, 5, 3, 4, &t));
        t->sets[0] = (ModelFeatureSet){.name = CNN_FEATURE_SET, .offset = 0, .dim = CNN_HEAD_DIM};
        ASSERT_OK(model_set_string(&t->vocabulary, "{}"));
        t->cnn = TAKE_PTR(m->cnn);
        ASSERT_OK(model_cnn_new(&t->cnn->arch, &t->cnn_b));
        random_params(t->cnn_b, 6);
        t->cnn_b->val_auc = 0.65;
        /* the stack takes their logit as an input of its own */
        t->combine = (ModelCombine){.kind = "stack", .w_cnn = 2.0, .bias = -0.5};
        snprintf(t->combine.cal.method, sizeof(t->combine.cal.method), "platt");
        t->combine.cal.a = 1;
        t->head_a = 1;
        model_free(m);
        return t;
}

static uint8_t *save_to_memory(const Model *m, size_t *ret_size)
{
        char path[] = "/tmp/fluff-test-cnn-XXXXXX";
        char *data;
        int fd = mkstemp(path);

        ASSERT_TRUE(fd >= 0);
        close(fd);
        ASSERT_OK(model_save(m, path));
        ASSERT_OK(read_file_full(path, SIZE_MAX, &data, ret_size));
        ASSERT_OK(unlink(path));
        return (uint8_t *)data;
}

/* Rewrites the file's JSON header with edit() applied (the data stay). */
static uint8_t *edit_header(const uint8_t *data, size_t size, void (*edit)(json_object *hdr),
                            size_t *ret_size)
{
        uint64_t hlen = 0;
        for (int i = 0; i < 8; i++)
                hlen |= (uint64_t)data[i] << (8 * i);
        _cleanup_free_ char *h = strndup((const char *)data + 8, hlen);
        json_object *hdr = json_tokener_parse(h);
        ASSERT_TRUE(hdr);
        edit(hdr);
        const char *nh = json_object_to_json_string_ext(hdr, JSON_C_TO_STRING_PLAIN);
        size_t nlen = (strlen(nh) + 7) / 8 * 8, rest = size - 8 - hlen;
        uint8_t *out = malloc(8 + nlen + rest);
        ASSERT_TRUE(out);
        for (int i = 0; i < 8; i++)
                out[i] = (uint8_t)((uint64_t)nlen >> (8 * i));
        memset(out + 8, ' ', nlen);
        memcpy(out + 8, nh, strlen(nh));
        memcpy(out + 8 + nlen, data + 8 + hlen, rest);
        json_object_put(hdr);
        *ret_size = 8 + nlen + rest;
        return out;
}

static void drop_bias(json_object *hdr)
{
        json_object_object_del(hdr, "cnn.conv1.bias");
}

static void drop_description(json_object *hdr)
{
        json_object_object_del(json_object_object_get(hdr, "__metadata__"), "cnn");
}

static void wrong_channels(json_object *hdr)
{
        json_object_object_add(json_object_object_get(hdr, "__metadata__"), "cnn",
                               json_object_new_string("{\"input\":16,\"stored\":20,\"channels\":[4,7]}"));
}

static void bad_description(json_object *hdr)
{
        json_object_object_add(json_object_object_get(hdr, "__metadata__"), "cnn",
                               json_object_new_string("{\"input\":16,\"stored\":8,\"channels\":[4,6]}"));
}

static void wrong_shape(json_object *hdr)
{
        json_object *shape = json_object_object_get(json_object_object_get(hdr, "cnn.fc.max"), "shape");
        json_object_array_put_idx(shape, 0, json_object_new_int(5));
}

static void outside(json_object *hdr)
{
        json_object *offs =
                json_object_object_get(json_object_object_get(hdr, "cnn.fc.bias"), "data_offsets");
        json_object_array_put_idx(offs, 1, json_object_new_int64(INT64_C(1) << 40));
}

static void drop_twin_bias(json_object *hdr)
{
        json_object_object_del(hdr, CNN_B_TENSOR_PREFIX "fc.bias");
}

static void drop_twin_description(json_object *hdr)
{
        json_object_object_del(json_object_object_get(hdr, "__metadata__"), CNN_B_METADATA);
}

static void twin_channels(json_object *hdr)
{
        json_object_object_add(json_object_object_get(hdr, "__metadata__"), CNN_B_METADATA,
                               json_object_new_string("{\"input\":16,\"stored\":20,\"channels\":[4,7]}"));
}

/* Removes every tensor whose name starts with prefix. */
static void drop_prefixed(json_object *hdr, const char *prefix)
{
        char *keys[2 * CNN_PARAMS_MAX];
        size_t n = 0;
        json_object_object_foreach(hdr, key, val)
        {
                (void)val;
                if (strncmp(key, prefix, strlen(prefix)) == 0 && n < ELEMENTSOF(keys))
                        ASSERT_TRUE((keys[n++] = strdup(key)));
        }
        for (size_t i = 0; i < n; i++) {
                json_object_object_del(hdr, keys[i]);
                free(keys[i]);
        }
}

static void drop_first(json_object *hdr)
{
        json_object_object_del(json_object_object_get(hdr, "__metadata__"), "cnn");
        drop_prefixed(hdr, CNN_TENSOR_PREFIX);
}

/* Both networks gone, the combination's weight for their logit left. */
static void weight_without_twins(json_object *hdr)
{
        drop_first(hdr);
        drop_twin_description(hdr);
        drop_prefixed(hdr, CNN_B_TENSOR_PREFIX);
}

static void refused(const uint8_t *data, size_t size, const char *what)
{
        _cleanup_(model_freep) Model *l = NULL;
        Error error = {};

        ASSERT_ERROR(model_load_from_memory(data, size, &l, &error), EBADMSG);
        ASSERT_TRUE(error_is_set(&error));
        fprintf(stderr, "  %s: \"%s\"\n", what, error.message);
        ASSERT_TRUE(strstr(error.message, "CNN") != NULL);
}

TEST(file_round_trip_and_damage)
{
        _cleanup_(model_freep) Model *m = model_with_cnn(), *l = NULL;
        _cleanup_free_ char *info = NULL;
        Error error = {};
        size_t size, n2;

        _cleanup_free_ uint8_t *data = save_to_memory(m, &size);
        ASSERT_OK(model_load_from_memory(data, size, &l, &error));
        ASSERT_TRUE(l->cnn != NULL);
        ASSERT_TRUE(memcmp(&l->cnn->arch, &m->cnn->arch, sizeof(CnnArch)) == 0);
        ASSERT_EQ(l->cnn->n_params, m->cnn->n_params);
        ASSERT_TRUE(memcmp(l->cnn->params, m->cnn->params, m->cnn->n_params * sizeof(float)) == 0);
        ASSERT_NEAR(l->cnn->val_auc, 0.75, 1e-9);
        ASSERT_OK(model_describe_json(l, &info));
        ASSERT_TRUE(strstr(info, "\"image_tower\":\"" CNN_IMAGE_TOWER "\"") != NULL);
        ASSERT_TRUE(memmem(data, size, "\"image_tower\":\"" CNN_IMAGE_TOWER "\"", 33) != NULL);

        /* a model without a CNN still loads, and says it has no image tower */
        l = model_free(l);
        m->cnn = model_cnn_free(m->cnn);
        free(info);
        _cleanup_free_ uint8_t *plain = save_to_memory(m, &n2);
        ASSERT_OK(model_load_from_memory(plain, n2, &l, NULL));
        ASSERT_TRUE(l->cnn == NULL);
        ASSERT_OK(model_describe_json(l, &info));
        ASSERT_TRUE(strstr(info, "\"image_tower\":\"none\"") != NULL);

        /* damaged CNN parts */
        void (*edits[])(json_object *) = {drop_bias,       drop_description, wrong_channels,
                                          bad_description, wrong_shape,      outside};
        const char *names[] = {"a tensor missing", "no description", "channels disagree",
                               "stored < input",   "a wrong shape",  "a range outside the file"};
        for (size_t i = 0; i < ELEMENTSOF(edits); i++) {
                size_t en;
                _cleanup_free_ uint8_t *e = edit_header(data, size, edits[i], &en);
                refused(e, en, names[i]);
        }
        /* the cross-fitted pair: both networks come back; the head's one
         * feature is their logit. Damaged: refused, naming the CNN. */
        _cleanup_(model_freep) Model *tw = model_with_twins(), *tl = NULL;
        size_t tn;
        _cleanup_free_ uint8_t *twins = save_to_memory(tw, &tn);
        ASSERT_OK(model_load_from_memory(twins, tn, &tl, &error));
        ASSERT_TRUE(tl->cnn && tl->cnn_b);
        ASSERT_EQ(tl->dim, CNN_HEAD_DIM);
        ASSERT_TRUE(memcmp(tl->cnn->params, tw->cnn->params, tw->cnn->n_params * sizeof(float)) == 0);
        ASSERT_TRUE(memcmp(tl->cnn_b->params, tw->cnn_b->params, tw->cnn_b->n_params * sizeof(float)) == 0);
        ASSERT_NEAR(tl->cnn_b->val_auc, 0.65, 1e-9);
        ASSERT_NEAR(tl->combine.w_cnn, 2.0, 1e-12);
        ASSERT_STREQ(model_towers(tl), "image"); /* no tag tower here: the CNN alone */
        /* scored on the device: the logit (the post's one feature) enters the
         * combination as it is, and is the image's part of the explanation */
        static const float z[3] = {-1.5f, 0.f, 2.25f};
        static const uint32_t offs[4] = {0, 0, 0, 0};
        float prob[3];
        ModelExplanation ex[3];
        ASSERT_OK(model_predict(tl, vkt_engine(), z, offs, NULL, 3, prob, ex));
        for (int i = 0; i < 3; i++) {
                ASSERT_NEAR(prob[i], 1 / (1 + exp(-(2.0 * z[i] - 0.5))), 1e-6);
                ASSERT_NEAR(ex[i].image, 2.0 * z[i], 1e-6);
                ASSERT_NEAR(ex[i].logit, ex[i].bias + ex[i].image + ex[i].tags, 1e-5);
        }
        free(info);
        ASSERT_OK(model_describe_json(tl, &info));
        json_object *desc = json_tokener_parse(info), *auc;
        ASSERT_TRUE(desc && json_object_object_get_ex(desc, "cnn_val_auc", &auc));
        ASSERT_NEAR(json_object_get_double(auc), 0.70, 1e-9); /* the mean of 0.75 and 0.65 */
        json_object_put(desc);
        void (*tedits[])(json_object *) = {drop_twin_bias, drop_twin_description, twin_channels, drop_first,
                                           weight_without_twins};
        const char *tnames[] = {"the twin's tensor missing", "the twin undescribed",
                                "the twins' architectures differ", "the twin without the first",
                                "a weight for CNNs the file lacks"};
        for (size_t i = 0; i < ELEMENTSOF(tedits); i++) {
                size_t en;
                _cleanup_free_ uint8_t *e = edit_header(twins, tn, tedits[i], &en);
                refused(e, en, tnames[i]);
        }
        /* a head of the old width beside two networks: their logit is one feature */
        _cleanup_(model_freep) Model *wide = model_with_cnn();
        ASSERT_OK(model_cnn_new(&wide->cnn->arch, &wide->cnn_b));
        _cleanup_free_ uint8_t *wd = save_to_memory(wide, &tn);
        refused(wd, tn, "two networks, a head of their features' width");

        /* a NaN in the last CNN tensor (the last 4 bytes of the file) */
        _cleanup_free_ uint8_t *nan_data = malloc(size);
        ASSERT_TRUE(nan_data);
        memcpy(nan_data, data, size);
        float nan = NAN;
        memcpy(nan_data + size - 4, &nan, 4);
        refused(nan_data, size, "a NaN weight");
        /* every truncation inside the CNN's bytes */
        for (size_t cut = size - 4 * 30; cut < size; cut += 7) {
                _cleanup_(model_freep) Model *t = NULL;
                ASSERT_ERROR(model_load_from_memory(data, cut, &t, NULL), EBADMSG);
        }
}

/* ---- crops on disk: real JPEGs through libvips ---- */

#define NJ 60
#define SIDE 40

static void write_jpeg(const uint8_t *rgb, const char *path)
{
        VipsImage *im =
                vips_image_new_from_memory(rgb, (size_t)SIDE * SIDE * 3, SIDE, SIDE, 3, VIPS_FORMAT_UCHAR);
        ASSERT_TRUE(im);
        ASSERT_OK(vips_jpegsave(im, path, "Q", 95, NULL));
        g_object_unref(im);
}

TEST(crops_from_files)
{
        static const CnnArch a = {.input = 16, .stored = 20, .n_layers = 2, .channels = {6, 8}};
        char dir[] = "/tmp/fluff-test-cnn-crops-XXXXXX";
        static char *paths[NJ + 2];
        static uint8_t img[SIDE * SIDE * 3];
        _cleanup_(model_dataset_freep) ModelDataset *ds = NULL;
        _cleanup_(model_cnn_freep) ModelCnn *c = NULL, *c_b = NULL;
        Error error = {};
        ModelFeatureSet set = {.name = CNN_FEATURE_SET, .offset = 0, .dim = CNN_HEAD_DIM};
        static uint8_t half[NJ];
        static float za[NJ + 2], zb[NJ + 2];
        size_t F = cnn_feature_dim(&a);
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        o.folds = 0; /* the head alone: cross-validation is test-model-cv's */
        static float zeros[16], features[(NJ + 2) * 16], again[(NJ + 2) * 16], logits[NJ + 2];
        static int status[NJ + 2];

        ASSERT_TRUE(VIPS_INIT("test") == 0);
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        vkt_seed(7);
        ASSERT_OK(model_dataset_new(set.dim, 1, &set, 1, &ds));
        for (int i = 0; i < NJ; i++) {
                ASSERT_TRUE(asprintf(&paths[i], "%s/%02d.jpg", dir, i) > 0);
                draw(img, SIDE, i % 2 == 0);
                write_jpeg(img, paths[i]);
                ASSERT_OK(model_dataset_add(ds, zeros, NULL, 0, i % 2 == 0 ? 1 : -1));
        }
        /* a file that is not an image, and one that is not there */
        ASSERT_TRUE(asprintf(&paths[NJ], "%s/corrupt.jpg", dir) > 0);
        static const char junk[] = "\xff\xd8\xff\xe0 not really a JPEG";
        ASSERT_OK(write_file_atomic(paths[NJ], junk, sizeof(junk) - 1, 0644));
        ASSERT_TRUE(asprintf(&paths[NJ + 1], "%s/missing.jpg", dir) > 0);

        _cleanup_free_ uint8_t *rgb = malloc((NJ + 2) * (size_t)a.stored * a.stored * 3);
        ASSERT_TRUE(rgb);
        ASSERT_OK(cnn_images_load((const char *const *)paths, NJ + 2, a.stored, rgb, status));
        for (int i = 0; i < NJ; i++)
                ASSERT_EQ(status[i], 0);
        ASSERT_EQ(status[NJ], -EBADMSG);
        ASSERT_EQ(status[NJ + 1], -ENOENT);
        ASSERT_ERROR(cnn_images_load((const char *const *)paths, 1, CNN_INPUT_MAX + 1, rgb, status), EINVAL);

        /* the whole tower for a run: two networks, one per stratified half;
         * every post's feature is the logit of the network that did not
         * train on it (issue 14: the folds must never see in-sample CNN
         * output) */
        o.seed = 3;
        ASSERT_OK(cnn_train_dataset(vkt_engine(), &a, ds, (const char *const *)paths, &o, 3.0, &c, &c_b,
                                    &error));
        ASSERT_TRUE(c && c_b);
        ASSERT_OK(cnn_crossfit_halves(ds->labels, NJ, o.seed, half));
        size_t per[2][2] = {};
        for (int i = 0; i < NJ; i++)
                per[half[i]][ds->labels[i]]++;
        ASSERT_EQ(per[0][0], per[1][0]);
        ASSERT_EQ(per[0][1], per[1][1]);
        ASSERT_OK(cnn_features(vkt_engine(), c, rgb, NJ, NULL, za));
        ASSERT_OK(cnn_features(vkt_engine(), c_b, rgb, NJ, NULL, zb));
        size_t differ = 0;
        for (int i = 0; i < NJ; i++) {
                ASSERT_TRUE(ds->features[i] == (half[i] == 0 ? zb[i] : za[i]));
                differ += za[i] != zb[i];
        }
        ASSERT_TRUE(differ > NJ / 2); /* two networks, not one twice */
        fprintf(stderr, "  two CNNs on %d JPEG crops: ROC AUC on the half each did not see %.3f, %.3f\n", NJ,
                c->val_auc, c_b->val_auc);

        /* prediction's path gives the same features, zeros for the bad files */
        ASSERT_OK(cnn_features_of_files(vkt_engine(), c, (const char *const *)paths, NJ + 2, features,
                                        status));
        ASSERT_EQ(status[NJ], -EBADMSG);
        ASSERT_EQ(status[NJ + 1], -ENOENT);
        for (uint32_t j = 0; j < 2 * F; j++)
                ASSERT_TRUE(features[NJ * F + j] == 0);
        ASSERT_OK(cnn_features(vkt_engine(), c, rgb, NJ, again, NULL));
        vkt_compare("features from files and from memory", features, again, NJ * F, 1e-12);

        /* a model's feature for a new post: the mean of the two logits */
        _cleanup_(model_freep) Model *m = NULL;
        ASSERT_OK(model_new(CNN_HEAD_DIM, 1, 3, 4, &m));
        m->cnn = TAKE_PTR(c);
        m->cnn_b = TAKE_PTR(c_b);
        ASSERT_OK(model_cnn_features_of_files(vkt_engine(), m, (const char *const *)paths, NJ + 2, logits,
                                              status));
        ASSERT_EQ(status[NJ], -EBADMSG);
        for (int i = 0; i < NJ; i++)
                ASSERT_NEAR(logits[i], 0.5f * (za[i] + zb[i]), 1e-5);
        ASSERT_TRUE(logits[NJ] == 0 && logits[NJ + 1] == 0);

        /* a crop that does not decode stops the run with its name, rather than training on zeros */
        _cleanup_(model_dataset_freep) ModelDataset *ds2 = NULL;
        _cleanup_(model_cnn_freep) ModelCnn *c2 = NULL, *c2_b = NULL;
        ASSERT_OK(model_dataset_new(set.dim, 1, &set, 1, &ds2));
        for (int i = 0; i < NJ; i++)
                ASSERT_OK(model_dataset_add(ds2, zeros, NULL, 0, i % 2 == 0 ? 1 : -1));
        char *saved = paths[5];
        paths[5] = paths[NJ];
        error = (Error){};
        ASSERT_ERROR(cnn_train_dataset(vkt_engine(), &a, ds2, (const char *const *)paths, &o, 3.0, &c2,
                                       &c2_b, &error),
                     EBADMSG);
        ASSERT_TRUE(strstr(error.message, "corrupt.jpg"));
        paths[5] = saved;

        for (int i = 0; i < NJ + 2; i++) {
                (void)unlink(paths[i]);
                free(paths[i]);
        }
        ASSERT_OK(rmdir(dir));
}

TEST_MAIN()
