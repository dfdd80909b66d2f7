/* SPDX-License-Identifier: MIT */
/* fluff-bench-model: time to train the head on 2,000 cached embeddings
 * (synthetic, D = 2×(576+320+1280): mean and max pooled mid, late and final
 * MobileNetV2 features) to within 0.01 of the best validation ROC AUC, on
 * the Vulkan device; the same head in PyTorch on the CPU (Debian
 * python3-torch) on the same data as the reference, ratio printed. Not a
 * ctest test. "ratio" is the reference's time to within 0.01 over ours (each
 * on its own split and initial weights, so the AUCs differ a little);
 * "epoch_rate_ratio" compares throughput on the same data.  Usage: fluff-bench-model [--quick] [--no-torch]
 * [--budget=SECONDS] */
#include <math.h>
#include <time.h>

#include "model.h"

#define N_POSTS 2000
#define VOCAB 1500
#define TAGS_PER_POST 25

static const ModelFeatureSet sets[] = {
        {"block13_mean", 0, 576},   {"block13_max", 576, 576},  {"block16_mean", 1152, 320},
        {"block16_max", 1472, 320}, {"final_mean", 1792, 1280}, {"final_max", 3072, 1280},
};
#define DIM 4352

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (uint32_t)(rng >> 11);
}
static float uniform(void)
{
        return ((float)(rnd() & 0xffffff) + 0.5f) / 16777216.0f;
}
static float normal(void)
{
        return sqrtf(-2 * logf(uniform())) * cosf(6.2831853f * uniform());
}
static int cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        return x < y ? -1 : x > y;
}

typedef struct Curve {
        double t0, t[4096], auc[4096];
        unsigned n;
} Curve;

static double now(void)
{
        return (double)now_usec(CLOCK_MONOTONIC) / 1e6;
}

static int on_progress(ModelStage stage, unsigned epoch, double loss, double val_auc, double left, void *ud)
{
        Curve *c = ud;
        if (epoch > 0 && c->n < 4096 && stage == MODEL_STAGE_HEAD) {
                c->t[c->n] = now() - c->t0;
                c->auc[c->n++] = val_auc;
        }
        return 0;
}

static void within(const double *t, const double *auc, unsigned n, double *ret_best, double *ret_t)
{
        double best = 0;
        for (unsigned i = 0; i < n; i++)
                best = fmax(best, auc[i]);
        *ret_best = best;
        *ret_t = NAN;
        for (unsigned i = 0; i < n; i++)
                if (auc[i] >= best - 0.01) {
                        *ret_t = t[i];
                        return;
                }
}

int main(int argc, char *argv[])
{
        bool quick = false, torch = true;
        double budget, budget_arg = 0;
        int r;

        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--quick"))
                        quick = true;
                else if (streq(argv[i], "--no-torch"))
                        torch = false;
                else if (strneq(argv[i], "--budget=", 9))
                        budget_arg = atof(argv[i] + 9);
        }
        budget = budget_arg > 0 ? budget_arg : quick ? 20 : 60;

        /* A taste from a few directions of the mid-depth features plus tags. */
        _cleanup_(model_dataset_freep) ModelDataset *ds = NULL;
        r = model_dataset_new(DIM, VOCAB, sets, ELEMENTSOF(sets), &ds);
        if (r < 0)
                return EXIT_FAILURE;
        /* Embeddings are low-rank: every feature mixes 32 latent factors, and the
         * taste follows two of them (plus tags), as a liked subject would. */
        static float x[DIM], w[DIM][32], tagw[VOCAB];
        for (int j = 0; j < DIM; j++)
                for (int k = 0; k < 32; k++)
                        w[j][k] = normal() / sqrtf(32);
        for (int t = 0; t < VOCAB; t++)
                tagw[t] = rnd() % 10 == 0 ? normal() : 0;
        for (int i = 0; i < N_POSTS; i++) {
                uint32_t tags[TAGS_PER_POST];
                size_t nt = 0;
                double g = 0;
                float z[32];
                for (int k = 0; k < 32; k++)
                        z[k] = normal();
                for (int j = 0; j < DIM; j++) {
                        float a = 0.5f * normal() + 0.2f * (j % 7);
                        for (int k = 0; k < 32; k++)
                                a += w[j][k] * z[k];
                        x[j] = fmaxf(0, a) * (1 + (j % 5)); /* post-ReLU, varied scales */
                }
                double s = (z[0] + z[1]) / sqrt(2.0);
                while (nt < TAGS_PER_POST) {
                        /* popular tags more often: a rough Zipf */
                        uint32_t t = (uint32_t)(VOCAB * powf(uniform(), 2.5f));
                        bool dup = false;
                        for (size_t k = 0; k < nt; k++)
                                dup |= tags[k] == t;
                        if (!dup)
                                tags[nt++] = t;
                }
                qsort(tags, nt, sizeof(uint32_t), cmp_u32);
                for (size_t k = 0; k < nt; k++)
                        g += tagw[tags[k]];
                double score = s + g / 2 + 0.5 * normal();
                r = model_dataset_add(ds, x, tags, nt, score > 0.3 ? 1 : -1);
                if (r < 0)
                        return EXIT_FAILURE;
        }
        size_t likes, dislikes;
        model_dataset_counts(ds, &likes, &dislikes);

        _cleanup_(vk_engine_freep) VkEngine *e = NULL;
        r = vk_engine_new(&e);
        if (r < 0) {
                fprintf(stderr, "No Vulkan device: %s\n", VK_NO_DEVICE_HINT);
                return 77;
        }
        Curve c = {};
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        o.folds = 0; /* the head alone: cross-validation is test-model-cv's */
        o.time_budget_s = budget;
        o.patience = 1000000; /* the whole budget, to see the curve */
        o.select_feature_sets = false;
        o.progress = on_progress;
        o.userdata = &c;
        _cleanup_(model_freep) Model *m = NULL;
        c.t0 = now();
        r = model_train(e, ds, &o, &m, NULL, NULL);
        if (r < 0) {
                fprintf(stderr, "Training failed: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        double best, t_within;
        within(c.t, c.auc, c.n, &best, &t_within);
        fprintf(stderr, "vulkan (%s): %u epochs in %.1f s, best val AUC %.4f, within 0.01 after %.2f s\n",
                vk_engine_device_name(e), c.n, c.n ? c.t[c.n - 1] : 0, best, t_within);

        /* Predict: 320 posts (a prediction run), probabilities and each
         * one's explanation; the model's upload to the device included. */
        static float prob[320];
        static ModelExplanation explain[320];
        double tp = now();
        r = model_predict(m, e, ds->features, ds->tag_offsets, ds->tags, 320, prob, explain);
        if (r < 0)
                return EXIT_FAILURE;
        tp = now() - tp;
        fprintf(stderr, "predict: 320 posts in %.3f s (%.0f posts/s)\n", tp, 320 / tp);

        double ref_t = NAN, ref_best = NAN, ref_epochs = NAN;
        if (torch) {
                /* the same data to the reference, as raw little-endian arrays */
                char dir[] = "/tmp/fluff-bench-model-XXXXXX", path[256], cmd[1024];
                if (!mkdtemp(dir))
                        return EXIT_FAILURE;
                snprintf(path, sizeof(path), "%s/data.bin", dir);
                FILE *f = fopen(path, "we");
                if (!f)
                        return EXIT_FAILURE;
                uint32_t hdr[4] = {(uint32_t)ds->n, DIM, VOCAB, (uint32_t)ds->n_tags};
                fwrite(hdr, sizeof(hdr), 1, f);
                fwrite(ds->features, sizeof(float), ds->n * DIM, f);
                fwrite(ds->labels, 1, ds->n, f);
                fwrite(ds->tag_offsets, sizeof(uint32_t), ds->n + 1, f);
                fwrite(ds->tags, sizeof(uint32_t), ds->n_tags, f);
                fclose(f);
                if (getenv("FLUFF_BENCH_DATA")) /* keep a copy, for profiling the reference */
                        (void)rename(path, getenv("FLUFF_BENCH_DATA")),
                                (void)link(getenv("FLUFF_BENCH_DATA"), path);
                snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/model-train-torch.py %s %g", FLUFF_BENCH_DIR,
                         path, budget);
                FILE *p = popen(cmd, "r");
                if (p) {
                        if (fscanf(p, "%lf %lf %lf", &ref_epochs, &ref_best, &ref_t) != 3)
                                ref_t = NAN;
                        (void)pclose(p);
                }
                (void)unlink(path);
                (void)rmdir(dir);
                fprintf(stderr, "pytorch CPU: %.0f epochs, best val AUC %.4f, within 0.01 after %.2f s\n",
                        ref_epochs, ref_best, ref_t);
        }
        printf("{\"case\":\"model_train\",\"posts\":%zu,\"likes\":%zu,\"dim\":%d,\"vocab\":%d,"
               "\"budget_s\":%g,\"device\":\"%s\",\"epochs\":%u,\"best_val_auc\":%.4f,"
               "\"seconds_to_within_0.01\":%.2f,\"torch_best_val_auc\":%.4f,"
               "\"torch_seconds_to_within_0.01\":%.2f,\"ratio\":%.3f,\"epochs_per_s\":%.2f,"
               "\"torch_epochs_per_s\":%.2f,\"epoch_rate_ratio\":%.2f,\"predict_320_s\":%.3f}\n",
               ds->n, likes, DIM, VOCAB, budget, vk_engine_device_name(e), c.n, best, t_within, ref_best,
               ref_t, ref_t / t_within, c.n / budget, ref_epochs / budget, c.n / ref_epochs, tp);
        return 0;
}
