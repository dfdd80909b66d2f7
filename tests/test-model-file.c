/* SPDX-License-Identifier: MIT */
/* Model file round trip and refusal of damaged files, prediction and its tag
 * pushes. Must survive: every truncation length, a header length past the
 * end or absurdly large, malformed JSON, a wrong dtype, offsets outside the
 * data, overlapping tensors, NaN weights, metadata that is not a string. */
#include <fcntl.h>
#include <sys/stat.h>

#include "model.h"
#include "vk-test.h"

#define D 24
#define V 40
#define N 300

static ModelDataset *make_dataset(void)
{
        static const ModelFeatureSet sets[] = {{"a", 0, 16}, {"b", 16, 8}};
        ModelDataset *ds;
        float x[D];

        ASSERT_OK(model_dataset_new(D, V, sets, 2, &ds));
        vkt_seed(9);
        for (int i = 0; i < N; i++) {
                uint32_t tags[4];
                size_t nt = 0;
                for (uint32_t t = vkt_u32() % 10; t < V && nt < 4; t += 1 + vkt_u32() % 12)
                        tags[nt++] = t;
                for (int j = 0; j < D; j++)
                        x[j] = vkt_normal();
                double g = 0;
                for (size_t k = 0; k < nt; k++)
                        g += tags[k] < 5 ? 1.5 : tags[k] >= 35 ? -1.5 : 0;
                ASSERT_OK(model_dataset_add(ds, x, tags, nt,
                                            x[0] + x[1] + g + 0.3 * vkt_normal() > 0 ? 1 : -1));
        }
        return ds;
}

static Model *trained(ModelDataset *ds)
{
        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;
        o.folds = 0; /* the head alone: cross-validation is test-model-cv's */
        Model *m;
        /* a file to round-trip, not a good model: a few epochs, however slow
         * the machine (a sanitizer build beside other tests missed a 5 s budget) */
        o.max_epochs = 5;
        o.time_budget_s = 300;
        o.vocabulary = "{\"tags\":[\"a\",\"b\"],\"quote\":\"\\\" and \\u00e9\"}";
        o.backbone = "mobilenetv2-nsfwjs-4.4.0";
        ASSERT_OK(model_train(vkt_engine(), ds, &o, &m, NULL, NULL));
        return m;
}

static char tmpdir[] = "/tmp/fluff-test-model-XXXXXX";

static const char *path_in_tmp(const char *name)
{
        static char p[256];
        snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
        return p;
}

static void predict(const Model *m, const ModelDataset *ds, float *prob, ModelExplanation *ex)
{
        ASSERT_OK(model_predict(m, vkt_engine(), ds->features, ds->tag_offsets, ds->tags, ds->n, prob, ex));
}

TEST(save_load_identical)
{
        _cleanup_(model_dataset_freep) ModelDataset *ds = make_dataset();
        _cleanup_(model_freep) Model *m = trained(ds), *l = NULL;
        static float p1[N], p2[N];
        static ModelExplanation t1[N], t2[N];
        Error error = {};
        struct stat st;

        ASSERT_TRUE(mkdtemp(tmpdir) != NULL);
        ASSERT_OK(model_save(m, path_in_tmp("model.safetensors")));
        ASSERT_OK(stat(path_in_tmp("model.safetensors"), &st));
        ASSERT_OK(model_load(path_in_tmp("model.safetensors"), &l, &error));
        ASSERT_TRUE(!error_is_set(&error));
        predict(m, ds, p1, t1);
        predict(l, ds, p2, t2);
        ASSERT_TRUE(memcmp(p1, p2, sizeof(p1)) == 0);
        ASSERT_TRUE(memcmp(t1, t2, sizeof(t1)) == 0);
        ASSERT_STREQ(l->vocabulary, m->vocabulary);
        ASSERT_STREQ(l->backbone, "mobilenetv2-nsfwjs-4.4.0");
        ASSERT_STREQ(l->created, m->created);
        ASSERT_STREQ(l->fluff_version, FLUFF_VERSION);
        ASSERT_TRUE(l->threshold == (float)m->threshold || fabs(l->threshold - m->threshold) < 1e-8);
        ASSERT_NEAR(l->metrics.roc_auc, m->metrics.roc_auc, 1e-12);
        ASSERT_EQ(l->metrics.n_pos, m->metrics.n_pos);
        ASSERT_EQ(l->n_sets, 2u);
        ASSERT_EQ(l->set_mask, m->set_mask);
        ASSERT_STREQ(l->sets[1].name, "b");
        ASSERT_EQ(l->sets[1].offset, 16u);
        fprintf(stderr, "  %lld bytes, val AUC %.3f, threshold %.3f\n", (long long)st.st_size,
                l->metrics.roc_auc, l->threshold);

        _cleanup_free_ char *desc = NULL;
        ASSERT_OK(model_describe_json(l, &desc));
        fprintf(stderr, "  %s\n", desc);
        ASSERT_TRUE(strstr(desc, "\"roc_auc\":") &&
                    strstr(desc, "\"backbone\":\"mobilenetv2-nsfwjs-4.4.0\"") &&
                    strstr(desc, "\"name\":\"b\"") && !strstr(desc, "quote"));

        /* Pushes: the liked tags 0…4 push up, the disliked 35…39 down, on average. */
        double up = 0, down = 0;
        unsigned nu = 0, nd = 0;
        for (size_t i = 0; i < N; i++)
                for (int k = 0; k < 2 * MODEL_EXPLAIN_TAGS; k++) {
                        const ModelTagPush *t =
                                k < MODEL_EXPLAIN_TAGS ? &t1[i].up[k] : &t1[i].down[k - MODEL_EXPLAIN_TAGS];
                        if (t->tag == UINT32_MAX)
                                continue;
                        ASSERT_TRUE(t->tag < V);
                        if (t->tag < 5) {
                                up += t->push;
                                nu++;
                        } else if (t->tag >= 35) {
                                down += t->push;
                                nd++;
                        }
                }
        fprintf(stderr, "  mean push of liked tags %+.3f (%u), of disliked tags %+.3f (%u)\n", up / nu, nu,
                down / nd, nd);
        ASSERT_TRUE(nu > 0 && nd > 0 && up / nu > 0 && down / nd < 0);

        /* Unknown tags (≥ vocab, from posts newer than the vocabulary) are ignored. */
        uint32_t offs[2] = {0, 3}, tags[3] = {1, V + 5, UINT32_MAX - 1}, tags_known[1] = {1};
        uint32_t offs1[2] = {0, 1};
        float a, b;
        ASSERT_OK(model_predict(m, vkt_engine(), ds->features, offs, tags, 1, &a, NULL));
        ASSERT_OK(model_predict(m, vkt_engine(), ds->features, offs1, tags_known, 1, &b, NULL));
        ASSERT_TRUE(a == b);
}

static void expect_refused(const uint8_t *data, size_t size, const char *what)
{
        Model *m = NULL;
        Error error = {};
        int r = model_load_from_memory(data, size, &m, &error);
        if (r != -EBADMSG)
                TEST_FAIL("%s: expected -EBADMSG, got %d", what, r);
        ASSERT_TRUE(m == NULL);
        ASSERT_TRUE(error_is_set(&error));
}

static void replace_once(char *hdr, size_t len, const char *from, const char *to)
{
        /* same length, so offsets stay put */
        ASSERT_EQ(strlen(from), strlen(to));
        char *p = memmem(hdr, len, from, strlen(from));
        ASSERT_TRUE(p != NULL);
        memcpy(p, to, strlen(to));
}

TEST(corrupt_files_refused)
{
        _cleanup_free_ char *data = NULL;
        Error error = {};
        size_t size;
        Model *m = NULL;

        ASSERT_OK(read_file_full(path_in_tmp("model.safetensors"), 1 << 26, &data, &size));
        ASSERT_OK(model_load_from_memory((uint8_t *)data, size, &m, NULL));
        m = model_free(m);
        uint64_t hlen = 0;
        for (int i = 0; i < 8; i++)
                hlen |= (uint64_t)(uint8_t)data[i] << (8 * i);

        /* every truncation, sampled densely near the header and the end */
        for (size_t cut = 0; cut < size; cut += cut < 8 + hlen + 64 || cut > size - 64 ? 1 : 97)
                expect_refused((uint8_t *)data, cut, "truncated");

        _cleanup_free_ uint8_t *c = malloc(size + 16);
        ASSERT_TRUE(c);
#define MUTATE(what, ...)                                                                                   \
        do {                                                                                                \
                memcpy(c, data, size);                                                                      \
                __VA_ARGS__;                                                                                \
                expect_refused(c, size, what);                                                              \
        } while (0)
        MUTATE("header length past the end", c[0] = 0xff, c[1] = 0xff, c[2] = 0xff);
        MUTATE("header length huge", c[7] = 0x7f);
        MUTATE("header length zero", memset(c, 0, 8));
        MUTATE("not JSON", c[8] = 'x');
        MUTATE("wrong dtype", replace_once((char *)c + 8, hlen, "\"F32\"", "\"F16\""));
        MUTATE("not our format", replace_once((char *)c + 8, hlen, "fluff-head-1", "fluff-head-9"));
        MUTATE("offset outside",
               replace_once((char *)c + 8, hlen, "\"data_offsets\":[0,", "\"data_offsets\":[9,"));
        MUTATE("NUL in header", c[8 + hlen / 2] = 0);
        MUTATE("NaN weight", memcpy(c + size - 4, &(float){NAN}, 4));
        MUTATE("inf weight", memcpy(c + 8 + hlen, &(float){INFINITY}, 4));
        MUTATE("threshold not a probability",
               replace_once((char *)c + 8, hlen, "\"threshold\":\"0.", "\"threshold\":\"7."));
        if (data[8 + hlen - 1] == ' ') /* padding present */
                MUTATE("trailing garbage in header", c[8 + hlen - 1] = '}');
        MUTATE("feature sets not tiling",
               replace_once((char *)c + 8, hlen, "\\\"offset\\\":16", "\\\"offset\\\":15"));
        /* extra bytes after the data */
        memcpy(c, data, size);
        memset(c + size, 0, 16);
        expect_refused(c, size + 16, "trailing data");

        /* the file system path: a missing file is not a corrupt one */
        ASSERT_ERROR(model_load(path_in_tmp("missing"), &m, &error), ENOENT);
        /* a truncated file on disk is refused, and an atomic save replaces it */
        ASSERT_OK(write_file_atomic(path_in_tmp("model.safetensors"), data, size / 2, 0644));
        ASSERT_ERROR(model_load(path_in_tmp("model.safetensors"), &m, &error), EBADMSG);
        fprintf(stderr, "  truncated file: %s\n", error.message);
        (void)unlink(path_in_tmp("model.safetensors"));
        (void)rmdir(tmpdir);
}

TEST_MAIN()
