/* SPDX-License-Identifier: MIT */
/* A small driver for the backbone tests, the reference check and the linear
 * probe; the daemon calls the same library functions.
 *
 *   bb-tool import SRC DEST                  prints the backbone id
 *   bb-tool classify WEIGHTS IMAGE...        class probabilities per image
 *   bb-tool pixels OUT.rgb IMAGE...          decoded 224×224×3 uint8 RGB, back to back
 *   bb-tool dump WEIGHTS PIXELS.rgb OUT.json probabilities and embeddings as JSON
 *   bb-tool embed WEIGHTS OUT.f32 IMAGE...   embeddings, BACKBONE_EMBED_DIM floats per image
 *   bb-tool layers WEIGHTS OUT.f32 L1,L2,.. IMAGE...
 *                                            per image and layer (Keras output names, as
 *                                            "block_6_add"): the mean over h×w of every channel,
 *                                            the max, and the means of the four quadrants (2×2),
 *                                            6·c floats; prints "layer h w c" per layer first
 *   bb-tool bench WEIGHTS vulkan|ref BATCH SECONDS [SUBMIT_BATCH]
 *                                            embedding throughput as one JSON line, with the
 *                                            most device memory the engine held */
#include <errno.h>
#include <math.h>
#include <time.h>

#include "backbone-internal.h"
#include "backbone-vk.h"
#include "backbone.h"

static int cmd_import(char **argv)
{
        _cleanup_free_ char *id = NULL;
        Error err = {};
        int r = backbone_import(argv[0], argv[1], &id, &err);
        if (r < 0) {
                fprintf(stderr, "import failed: %s\n", error_message(&err, r));
                return 1;
        }
        printf("%s\n", id);
        return 0;
}

static int load(const char *path, Backbone **bb)
{
        Error err = {};
        int r = backbone_load(path, bb, &err);
        if (r < 0)
                fprintf(stderr, "load failed: %s\n", error_message(&err, r));
        return r;
}

static int cmd_classify(int argc, char **argv)
{
        _cleanup_(backbone_freep) Backbone *bb = NULL;
        _cleanup_free_ float *px = malloc(BACKBONE_INPUT_FLOATS * sizeof(float));
        float p[BACKBONE_N_CLASSES];

        if (!px || load(argv[0], &bb) < 0)
                return 1;
        for (int i = 1; i < argc; i++) {
                int r = backbone_image_load(argv[i], px);
                if (r >= 0)
                        r = backbone_classify_ref(bb, px, 1, p);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
                        return 1;
                }
                printf("%s", argv[i]);
                for (unsigned c = 0; c < BACKBONE_N_CLASSES; c++)
                        printf(" %s=%.5f", backbone_class_names[c], p[c]);
                printf("\n");
        }
        return 0;
}

static int cmd_pixels(int argc, char **argv)
{
        _cleanup_fclose_ FILE *f = fopen(argv[0], "we");
        _cleanup_free_ uint8_t *rgb = malloc(BACKBONE_INPUT_FLOATS);

        if (!f || !rgb)
                return 1;
        for (int i = 1; i < argc; i++) {
                int r = backbone_image_load_rgb8(argv[i], rgb);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
                        return 1;
                }
                if (fwrite(rgb, 1, BACKBONE_INPUT_FLOATS, f) != BACKBONE_INPUT_FLOATS)
                        return 1;
        }
        return fflush(f) == 0 ? 0 : 1;
}

static void print_array(FILE *f, const float *x, size_t n)
{
        fputc('[', f);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%.9g", i ? "," : "", x[i]);
        fputc(']', f);
}

static int cmd_dump(char **argv)
{
        _cleanup_(backbone_freep) Backbone *bb = NULL;
        _cleanup_free_ char *data = NULL;
        _cleanup_free_ float *probs = NULL, *emb = NULL, *px = NULL;
        size_t size;
        int r;

        if (load(argv[0], &bb) < 0)
                return 1;
        r = read_file_full(argv[1], 1u << 30, &data, &size);
        if (r < 0 || size == 0 || size % BACKBONE_INPUT_FLOATS != 0) {
                fprintf(stderr, "bad pixel file %s\n", argv[1]);
                return 1;
        }
        size_t n = size / BACKBONE_INPUT_FLOATS;
        probs = malloc(n * BACKBONE_N_CLASSES * sizeof(float));
        emb = malloc(n * BACKBONE_EMBED_DIM * sizeof(float));
        px = malloc(n * BACKBONE_INPUT_FLOATS * sizeof(float));
        if (!probs || !emb || !px)
                return 1;
        for (size_t i = 0; i < n; i++)
                backbone_pixels_from_rgb8((const uint8_t *)data + i * BACKBONE_INPUT_FLOATS,
                                          px + i * BACKBONE_INPUT_FLOATS);
        if (backbone_forward_ref(bb, px, n, probs, emb) < 0)
                return 1;
        _cleanup_fclose_ FILE *f = fopen(argv[2], "we");
        if (!f)
                return 1;
        fprintf(f, "{\"backbone_id\":\"%s\",\"probs\":[", backbone_id(bb));
        for (size_t i = 0; i < n; i++) {
                fputs(i ? "," : "", f);
                print_array(f, probs + i * BACKBONE_N_CLASSES, BACKBONE_N_CLASSES);
        }
        fputs("],\"features\":{", f);
        for (int s = 0; s < _BACKBONE_FEAT_MAX; s++) {
                const BackboneFeatureInfo *fi = backbone_feature_info((BackboneFeatureSet)s);
                fprintf(f, "%s\"%s\":{\"layer\":\"%s\",\"values\":[", s ? "," : "", fi->name, fi->layer);
                for (size_t i = 0; i < n; i++) {
                        fputs(i ? "," : "", f);
                        print_array(f, emb + i * BACKBONE_EMBED_DIM + fi->offset, fi->dim);
                }
                fputs("]}", f);
        }
        fputs("}}\n", f);
        return fflush(f) == 0 ? 0 : 1;
}

static int cmd_embed(int argc, char **argv)
{
        _cleanup_(backbone_freep) Backbone *bb = NULL;
        _cleanup_free_ float *px = malloc(BACKBONE_INPUT_FLOATS * sizeof(float));
        _cleanup_free_ float *emb = malloc((BACKBONE_EMBED_DIM + BACKBONE_N_CLASSES) * sizeof(float));
        _cleanup_fclose_ FILE *f = NULL;

        if (!px || !emb || load(argv[0], &bb) < 0)
                return 1;
        f = fopen(argv[1], "we");
        if (!f)
                return 1;
        for (int i = 2; i < argc; i++) {
                int r = backbone_image_load(argv[i], px);
                if (r >= 0)
                        r = backbone_forward_ref(bb, px, 1, emb + BACKBONE_EMBED_DIM, emb);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
                        return 1;
                }
                /* per image: the embedding, then the 5 class probabilities */
                if (fwrite(emb, sizeof(float), BACKBONE_EMBED_DIM + BACKBONE_N_CLASSES, f) !=
                    BACKBONE_EMBED_DIM + BACKBONE_N_CLASSES)
                        return 1;
        }
        return fflush(f) == 0 ? 0 : 1;
}

typedef struct LayerTap {
        char **names;
        size_t n;
        float *out; /* 6·c floats per layer, back to back in the order of names */
        size_t *offset;
        bool *seen;
} LayerTap;

static void pool_layer(const BbNode *n, const float *x, float *ret)
{
        const unsigned c = n->c;
        for (unsigned ch = 0; ch < c; ch++) {
                double sum = 0, q[4] = {};
                unsigned qn[4] = {};
                float m = -INFINITY;
                for (unsigned y = 0; y < n->h; y++)
                        for (unsigned xx = 0; xx < n->w; xx++) {
                                float v = x[((size_t)y * n->w + xx) * c + ch];
                                unsigned k = (y * 2 >= n->h) * 2 + (xx * 2 >= n->w);
                                sum += v;
                                m = MAX(m, v);
                                q[k] += v;
                                qn[k]++;
                        }
                ret[ch] = (float)(sum / ((double)n->h * n->w));
                ret[c + ch] = m;
                for (unsigned k = 0; k < 4; k++)
                        ret[(2 + k) * c + ch] = qn[k] ? (float)(q[k] / qn[k]) : 0.f;
        }
}

static void layer_tap(const BbNode *n, const float *act, void *userdata)
{
        LayerTap *t = userdata;
        for (size_t i = 0; i < t->n; i++)
                if (streq(n->out_name, t->names[i])) {
                        pool_layer(n, act, t->out + t->offset[i]);
                        t->seen[i] = true;
                }
}

static int cmd_layers(int argc, char **argv)
{
        _cleanup_(backbone_freep) Backbone *bb = NULL;
        _cleanup_free_ float *px = malloc(BACKBONE_INPUT_FLOATS * sizeof(float));
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ size_t *offset = NULL;
        _cleanup_free_ bool *seen = NULL;
        _cleanup_free_ float *out = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t n, total = 0;

        if (!px || load(argv[0], &bb) < 0)
                return 1;
        for (const char *p = argv[2]; *p;) {
                size_t len = strcspn(p, ",");
                if (len > 0 && strv_push(&names, strndup(p, len)) < 0)
                        return 1;
                p += len + (p[len] == ',');
        }
        if (!names)
                return 1;
        n = strv_length(names);
        offset = calloc(n, sizeof(size_t));
        seen = calloc(n, sizeof(bool));
        if (!offset || !seen)
                return 1;
        const BbGraph *g = backbone_graph(bb);
        for (size_t i = 0; i < n; i++) {
                const BbNode *found = NULL;
                for (unsigned j = 0; j < g->n_nodes; j++)
                        if (streq(g->nodes[j].out_name, names[i]))
                                found = &g->nodes[j];
                if (!found) {
                        fprintf(stderr, "no layer %s\n", names[i]);
                        return 1;
                }
                printf("%s %u %u %u\n", names[i], found->h, found->w, found->c);
                offset[i] = total;
                total += 6 * (size_t)found->c;
        }
        out = malloc(total * sizeof(float));
        f = fopen(argv[1], "we");
        if (!out || !f)
                return 1;
        LayerTap t = {names, n, out, offset, seen};
        for (int i = 3; i < argc; i++) {
                int r = backbone_image_load(argv[i], px);
                memset(seen, 0, n * sizeof(bool));
                if (r >= 0)
                        r = backbone_forward_ref_tap(bb, px, layer_tap, &t);
                for (size_t k = 0; r >= 0 && k < n; k++)
                        if (!seen[k])
                                r = -ENOENT;
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
                        return 1;
                }
                if (fwrite(out, sizeof(float), total, f) != total)
                        return 1;
        }
        return fflush(f) == 0 ? 0 : 1;
}

static double now_s(void)
{
        return (double)now_usec(CLOCK_MONOTONIC) / 1e6;
}

static int cmd_bench(char **argv)
{
        _cleanup_(backbone_freep) Backbone *bb = NULL;
        _cleanup_(vk_engine_freep) VkEngine *e = NULL;
        _cleanup_(backbone_vk_freep) BackboneVk *v = NULL;
        unsigned batch;
        double seconds;
        bool vk = streq(argv[1], "vulkan");
        int r;

        if (safe_atou(argv[2], &batch) < 0 || batch == 0 || safe_atod(argv[3], &seconds) < 0 ||
            load(argv[0], &bb) < 0)
                return 2;
        _cleanup_free_ uint8_t *rgb = malloc(batch * BACKBONE_INPUT_FLOATS);
        _cleanup_free_ float *px = malloc(batch * BACKBONE_INPUT_FLOATS * sizeof(float));
        _cleanup_free_ float *emb = malloc(batch * BACKBONE_EMBED_DIM * sizeof(float));
        if (!rgb || !px || !emb)
                return 1;
        for (size_t i = 0; i < batch * BACKBONE_INPUT_FLOATS; i++)
                rgb[i] = (uint8_t)((i * 2654435761u) >> 24);
        for (unsigned i = 0; i < batch; i++)
                backbone_pixels_from_rgb8(rgb + i * BACKBONE_INPUT_FLOATS, px + i * BACKBONE_INPUT_FLOATS);
        if (vk) {
                r = vk_engine_new(&e);
                if (r < 0) {
                        fprintf(stderr, "no Vulkan device: %s\n", strerror(-r));
                        return 77;
                }
                unsigned submit = batch;
                if (argv[4] && (safe_atou(argv[4], &submit) < 0 || submit == 0))
                        return 2;
                r = backbone_vk_new(e, bb, submit, BACKBONE_VK_KEEP_NONE, &v);
                if (r < 0)
                        return 1;
        }
        double setup = now_s(), t0 = 0;
        unsigned iters = 0;
        for (unsigned it = 0;; it++) {
                r = vk ? backbone_vk_forward(v, rgb, batch, NULL, emb)
                       : backbone_embed_ref(bb, px, batch, emb);
                if (r < 0) {
                        fprintf(stderr, "forward failed: %s\n", strerror(-r));
                        return 1;
                }
                if (it == 0) { /* the first batch builds pipelines and warms caches */
                        t0 = now_s();
                        setup = t0 - setup;
                        continue;
                }
                iters++;
                if (now_s() - t0 >= seconds)
                        break;
        }
        double dt = now_s() - t0;
        uint64_t device_bytes = 0;
        vk_engine_memory(e, NULL, &device_bytes);
        printf("{\"engine\":\"%s\",\"device\":\"%s\",\"batch\":%u,\"batches\":%u,\"seconds\":%.3f,"
               "\"first_batch_s\":%.3f,\"images_per_s\":%.3f,\"submit_batch\":%u,\"device_mb\":%.1f}\n",
               vk ? "vulkan" : "c-reference", vk ? vk_engine_device_name(e) : "CPU, 1 thread", batch, iters,
               dt, setup, iters * batch / dt, v ? backbone_vk_max_batch(v) : batch,
               (double)device_bytes / (1 << 20));
        return 0;
}

/* The dispatch classes of MobileNetV2 the profile adds up. */
enum { CL_PRE, CL_STEM, CL_EXPAND, CL_DW, CL_PROJECT, CL_ADD, CL_TOP, CL_POOL, CL_HEAD, CL_MAX };
static const char *const class_name[CL_MAX] = {"preprocess",          "stem 3x3",    "1x1 expand",
                                               "depthwise 3x3",       "1x1 project", "residual add",
                                               "1x1 top (320->1280)", "pooling",     "dense head"};

static int node_class(const BbGraph *g, unsigned i, double *ret_flop)
{
        const BbNode *n = &g->nodes[i];
        double px = (double)n->h * n->w;

        *ret_flop = 0;
        switch (n->op) {
        case BB_OP_INPUT:
                return CL_PRE;
        case BB_OP_DWCONV:
                *ret_flop = 2.0 * px * n->c * n->k * n->k;
                return CL_DW;
        case BB_OP_CONV:
                *ret_flop = 2.0 * px * n->c * n->cin * n->k * n->k;
                if (n->k > 1)
                        return CL_STEM;
                if (n->block == BB_BLOCK_TOP)
                        return CL_TOP;
                return n->c > n->cin ? CL_EXPAND : CL_PROJECT;
        case BB_OP_DENSE:
                *ret_flop = 2.0 * n->c * n->cin;
                return CL_HEAD;
        case BB_OP_ADD:
                return CL_ADD;
        case BB_OP_GAP:
                return CL_POOL;
        default:
                return -EINVAL;
        }
}

/* Time per dispatch class, one submit per node (bb-tool profile W BATCH ROUNDS):
 * the least of ROUNDS per node, wall and CPU time (all threads), as a table
 * and one JSON line. GFLOPS over CPU time are per core: on a loaded machine
 * they move far less than the wall-time ones. */
static int cmd_profile(char **argv)
{
        _cleanup_(backbone_freep) Backbone *bb = NULL;
        _cleanup_(vk_engine_freep) VkEngine *e = NULL;
        _cleanup_(backbone_vk_freep) BackboneVk *v = NULL;
        unsigned batch, rounds;
        int r;

        if (safe_atou(argv[1], &batch) < 0 || batch == 0 || safe_atou(argv[2], &rounds) < 0 || rounds == 0 ||
            load(argv[0], &bb) < 0)
                return 2;
        const BbGraph *g = &bb->graph;
        _cleanup_free_ double *t = calloc(4 * g->n_nodes, sizeof(double));
        if (!t)
                return 1;
        double *cpu = t + g->n_nodes, *best = cpu + g->n_nodes, *best_cpu = best + g->n_nodes;
        r = vk_engine_new(&e);
        if (r < 0) {
                fprintf(stderr, "no Vulkan device: %s\n", strerror(-r));
                return 77;
        }
        if (backbone_vk_new(e, bb, batch, BACKBONE_VK_KEEP_NONE, &v) < 0)
                return 1;
        batch = backbone_vk_max_batch(v); /* what one submit of the forward pass holds */
        _cleanup_free_ uint8_t *rgb = malloc((size_t)batch * BACKBONE_INPUT_FLOATS);
        if (!rgb)
                return 1;
        for (size_t i = 0; i < (size_t)batch * BACKBONE_INPUT_FLOATS; i++)
                rgb[i] = (uint8_t)((i * 2654435761u) >> 24);
        for (unsigned i = 0; i < g->n_nodes; i++)
                best[i] = best_cpu[i] = INFINITY;
        for (unsigned k = 0; k <= rounds; k++) { /* round 0 builds pipelines and warms caches */
                r = backbone_vk_profile(v, rgb, batch, t, cpu);
                if (r < 0) {
                        fprintf(stderr, "profile failed: %s\n", strerror(-r));
                        return 1;
                }
                for (unsigned i = 0; k > 0 && i < g->n_nodes; i++) {
                        best[i] = MIN(best[i], t[i]);
                        best_cpu[i] = MIN(best_cpu[i], cpu[i]);
                }
        }
        double sec[CL_MAX] = {}, csec[CL_MAX] = {}, flop[CL_MAX] = {}, total = 0, ctotal = 0, total_flop = 0;
        unsigned count[CL_MAX] = {};
        for (unsigned i = 0; i < g->n_nodes; i++) {
                double f;
                int c = node_class(g, i, &f);
                if (c < 0)
                        return 1;
                sec[c] += best[i];
                csec[c] += best_cpu[i];
                flop[c] += f * batch;
                count[c]++;
                total += best[i];
                ctotal += best_cpu[i];
                total_flop += f * batch;
        }
        /* BB_PROFILE_NODES=1: every node first, to see which layers of a class cost. */
        for (unsigned i = 0; getenv("BB_PROFILE_NODES") && i < g->n_nodes; i++) {
                const BbNode *nd = &g->nodes[i];
                double f;
                (void)node_class(g, i, &f);
                printf("%-28s %4ux%-4u %4u->%-4u k%u %8.2f ms CPU %7.2f GFLOPS/core\n", nd->name, nd->h, nd->w,
                       nd->cin, nd->c, nd->k, best_cpu[i] * 1e3, f * batch / best_cpu[i] / 1e9);
        }
        printf("%-20s %5s %7s %9s %9s %6s %8s %12s\n", "class", "nodes", "GFLOP", "wall ms", "CPU ms",
               "CPU %", "GFLOPS", "GFLOPS/core");
        for (int c = 0; c < CL_MAX; c++)
                printf("%-20s %5u %7.2f %9.1f %9.1f %5.1f%% %8.2f %12.2f\n", class_name[c], count[c],
                       flop[c] / 1e9, sec[c] * 1e3, csec[c] * 1e3, 100 * csec[c] / ctotal,
                       flop[c] / sec[c] / 1e9, flop[c] / csec[c] / 1e9);
        printf("%-20s %5u %7.2f %9.1f %9.1f %5.1f%% %8.2f %12.2f   (batch %u: %.1f images/s wall, %.1f per "
               "CPU-second)\n",
               "total", g->n_nodes, total_flop / 1e9, total * 1e3, ctotal * 1e3, 100.0,
               total_flop / total / 1e9, total_flop / ctotal / 1e9, batch, batch / total, batch / ctotal);
        printf("{\"device\":\"%s\",\"batch\":%u", vk_engine_device_name(e), batch);
        for (int c = 0; c < CL_MAX; c++)
                printf(",\"%s\":{\"wall_ms\":%.2f,\"cpu_ms\":%.2f,\"gflop\":%.3f}", class_name[c],
                       sec[c] * 1e3, csec[c] * 1e3, flop[c] / 1e9);
        printf("}\n");
        return 0;
}

int main(int argc, char **argv)
{
        log_parse_environment();
        if (argc >= 4 && streq(argv[1], "import"))
                return cmd_import(argv + 2);
        if (argc >= 4 && streq(argv[1], "classify"))
                return cmd_classify(argc - 2, argv + 2);
        if (argc >= 4 && streq(argv[1], "pixels"))
                return cmd_pixels(argc - 2, argv + 2);
        if (argc == 5 && streq(argv[1], "dump"))
                return cmd_dump(argv + 2);
        if (argc >= 5 && streq(argv[1], "embed"))
                return cmd_embed(argc - 2, argv + 2);
        if (argc >= 6 && streq(argv[1], "layers"))
                return cmd_layers(argc - 2, argv + 2);
        if ((argc == 6 || argc == 7) && streq(argv[1], "bench"))
                return cmd_bench(argv + 2);
        if (argc == 5 && streq(argv[1], "profile"))
                return cmd_profile(argv + 2);
        fprintf(stderr, "usage: bb-tool import|classify|pixels|dump|embed|layers|bench|profile ...\n");
        return 2;
}
