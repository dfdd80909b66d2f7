/* SPDX-License-Identifier: MIT */
/* The importer on the real nsfwjs package and on broken copies of it. What
 * must survive bad input: a missing, truncated or altered package gives a
 * clear error naming the problem, and the previous weight file is untouched. */
#include <sys/stat.h>

#include "backbone-internal.h"
#include "backbone/bb-test.h"
#include "jsobj.h"

static char *pkg_tgz, *tmp, *good, *good_bytes;
static size_t good_size;

static void run(const char *fmt, ...) _printf_(1, 2);
static void run(const char *fmt, ...)
{
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        va_start(ap, fmt);
        ASSERT_TRUE(vasprintf(&cmd, fmt, ap) >= 0);
        va_end(ap);
        if (system(cmd) != 0)
                TEST_FAIL("Command failed: %s", cmd);
}

/* Imports src over the good weight file and expects failure with msg_part. */
static void expect_fail(const char *src, const char *msg_part)
{
        _cleanup_free_ char *id = NULL, *after = NULL;
        Error err = {};
        size_t size;

        int r = backbone_import(src, good, &id, &err);
        if (r >= 0)
                TEST_FAIL("Import of broken \"%s\" succeeded", src);
        ASSERT_TRUE(error_is_set(&err));
        ASSERT_TRUE(!id);
        fprintf(stderr, "  expected error: %s\n", err.message);
        if (!strstr(err.message, msg_part))
                TEST_FAIL("Error \"%s\" does not mention \"%s\"", err.message, msg_part);
        ASSERT_OK(read_file_full(good, 1u << 30, &after, &size));
        ASSERT_EQ(size, good_size);
        ASSERT_TRUE(memcmp(after, good_bytes, size) == 0);
}

TEST(js_literal)
{
        static const char js[] =
                "x={a:!0,b:!1,c:.5,d:-.03,e:1e-5,\"f\":'x\"y\\x41',g:[1,2,],h:void 0,i:5.,j:-0}";
        _cleanup_free_ char *json = NULL;
        Error e = {};

        ASSERT_OK(jsobj_extract_json(js, strlen(js), "a", &json, &e));
        ASSERT_STREQ(json,
                     "{\"a\":true,\"b\":false,\"c\":0.5,\"d\":-0.03,\"e\":1e-5,\"f\":\"x\\\"y\\u0041\","
                     "\"g\":[1,2],\"h\":null,\"i\":5.0,\"j\":-0}");
        /* code, not data, is refused rather than guessed at */
        static const char bad[] = "{a:foo()}";
        free(TAKE_PTR(json));
        ASSERT_ERROR(jsobj_extract_json(bad, strlen(bad), "a", &json, &e), EBADMSG);
        ASSERT_TRUE(strstr(e.message, "unsupported value"));
        static const char cut[] = "{a:[1,2";
        ASSERT_ERROR(jsobj_extract_json(cut, strlen(cut), "a", &json, &e), EBADMSG);
}

TEST(base64)
{
        _cleanup_free_ uint8_t *d = NULL;
        size_t n;

        ASSERT_OK(base64_decode("Zm9vYmFy", 8, &d, &n));
        ASSERT_EQ(n, 6);
        ASSERT_TRUE(memcmp(d, "foobar", 6) == 0);
        free(TAKE_PTR(d));
        ASSERT_OK(base64_decode("Zm9vYg==", 8, &d, &n));
        ASSERT_EQ(n, 4);
        free(TAKE_PTR(d));
        ASSERT_ERROR(base64_decode("Zm9vY", 5, &d, &n), EBADMSG); /* cut mid-quantum */
        ASSERT_ERROR(base64_decode("Zm9v!mFy", 8, &d, &n), EBADMSG);
        ASSERT_ERROR(base64_decode("Zm=vYmFy", 8, &d, &n), EBADMSG);
}

TEST(import_real_package)
{
        _cleanup_free_ char *id = NULL, *id2 = NULL, *unpacked = NULL, *second = NULL;
        Error err = {};
        _cleanup_(backbone_freep) Backbone *bb = NULL;

        pkg_tgz = bbt_fetch_package();
        tmp = test_tmpdir();
        ASSERT_TRUE(asprintf(&good, "%s/models/backbone.safetensors", tmp) > 0);

        int r = backbone_import(pkg_tgz, good, &id, &err);
        if (r < 0)
                TEST_FAIL("import failed: %s", err.message);
        ASSERT_TRUE(is_hex_digest(id, 64));
        ASSERT_OK(read_file_full(good, 1u << 30, &good_bytes, &good_size));
        /* 2.26 M backbone + head parameters as float32, plus the header */
        ASSERT_TRUE(good_size > 9000000 && good_size < 12000000);

        /* the unpacked folder is the same source, so the same id */
        ASSERT_TRUE(asprintf(&unpacked, "%s/unpacked", tmp) > 0);
        ASSERT_TRUE(asprintf(&second, "%s/second.safetensors", tmp) > 0);
        run("mkdir -p '%s' && tar -xzf '%s' -C '%s'", unpacked, pkg_tgz, unpacked);
        ASSERT_OK(backbone_import(unpacked, second, &id2, NULL));
        ASSERT_STREQ(id, id2);

        ASSERT_OK(backbone_load(good, &bb, NULL));
        ASSERT_STREQ(backbone_id(bb), id);
        ASSERT_STREQ(backbone_source_version(bb), "4.4.0");
        const BbGraph *g = backbone_graph(bb);
        /* input, stem, 17 inverted-residual blocks, top conv, pool, 3 dense */
        unsigned convs = 0, dws = 0, adds = 0, dense = 0;
        for (unsigned i = 0; i < g->n_nodes; i++) {
                convs += g->nodes[i].op == BB_OP_CONV;
                dws += g->nodes[i].op == BB_OP_DWCONV;
                adds += g->nodes[i].op == BB_OP_ADD;
                dense += g->nodes[i].op == BB_OP_DENSE;
        }
        ASSERT_EQ(convs, 35);
        ASSERT_EQ(dws, 17);
        ASSERT_EQ(adds, 10);
        ASSERT_EQ(dense, 3);
        /* Conv1_pad ((0,1),(0,1)) folded into the stride-2 stem */
        const BbNode *stem = &g->nodes[bb_graph_find(g, "Conv1")];
        ASSERT_EQ(stem->pad[0], 0);
        ASSERT_EQ(stem->pad[1], 1);
        ASSERT_EQ(stem->h, 112);
        ASSERT_EQ(stem->act, BB_ACT_RELU6);
        ASSERT_EQ(stem->block, BB_BLOCK_STEM);
        int b13 = bb_graph_find(g, "block_13_expand_relu");
        ASSERT_TRUE(b13 > 0);
        ASSERT_EQ(g->nodes[b13].block, 13);
        ASSERT_EQ(g->nodes[b13].c, 576);
        /* TF "same" on the stride-1 depthwise: one pixel each side */
        const BbNode *dw = &g->nodes[bb_graph_find(g, "block_2_depthwise")];
        ASSERT_EQ(dw->op, BB_OP_DWCONV);
        ASSERT_TRUE(dw->tf_same);
        ASSERT_EQ(dw->pad[0] + dw->pad[1], 2);
        ASSERT_EQ(g->nodes[g->n_nodes - 1].act, BB_ACT_SOFTMAX);
}

TEST(forward_sane)
{
        _cleanup_(backbone_freep) Backbone *bb = NULL;
        _cleanup_free_ float *px = malloc(2 * BACKBONE_INPUT_FLOATS * sizeof(float));
        _cleanup_free_ float *emb = malloc(2 * BACKBONE_EMBED_DIM * sizeof(float));
        float p[2 * BACKBONE_N_CLASSES];

        if (!good)
                TEST_SKIP("no imported weights");
        ASSERT_OK(backbone_load(good, &bb, NULL));
        for (size_t i = 0; i < BACKBONE_INPUT_FLOATS; i++) {
                px[i] = 0.5f;                                                       /* flat grey */
                px[BACKBONE_INPUT_FLOATS + i] = (float)((i * 7919) % 256) / 255.0f; /* noise */
        }
        ASSERT_OK(backbone_forward_ref(bb, px, 2, p, emb));
        for (unsigned img = 0; img < 2; img++) {
                double sum = 0;
                for (unsigned c = 0; c < BACKBONE_N_CLASSES; c++) {
                        ASSERT_TRUE(p[img * 5 + c] >= 0 && p[img * 5 + c] <= 1);
                        sum += p[img * 5 + c];
                }
                ASSERT_NEAR(sum, 1.0, 1e-5);
                const float *e = emb + img * BACKBONE_EMBED_DIM;
                for (int f = 0; f < _BACKBONE_FEAT_MAX; f++) {
                        const BackboneFeatureInfo *fi = backbone_feature_info((BackboneFeatureSet)f);
                        for (unsigned c = 0; c < fi->c; c++) {
                                float mean = e[fi->offset + c], max = e[fi->offset + fi->c + c];
                                ASSERT_TRUE(isfinite(mean) && isfinite(max));
                                ASSERT_TRUE(max >= mean - 1e-5f);
                        }
                }
        }
        /* different pictures, different embeddings */
        double d = 0;
        for (unsigned i = 0; i < BACKBONE_EMBED_DIM; i++)
                d += fabs(emb[i] - emb[BACKBONE_EMBED_DIM + i]);
        ASSERT_TRUE(d > 1.0);
}

TEST(broken_packages)
{
        _cleanup_free_ char *path = NULL, *dir = NULL;

        if (!good)
                TEST_SKIP("no good import to protect");

        expect_fail("/nonexistent/nsfwjs-4.4.0.tgz", "Cannot open package");

        ASSERT_TRUE(asprintf(&path, "%s/copy.tgz", tmp) > 0);
        run("head -c 12000000 '%s' > '%s'", pkg_tgz, path);
        expect_fail(path, "truncated");

        /* flip bytes inside the deflate stream */
        run("cp '%s' '%s' && printf 'XXXXXXXX' | dd of='%s' bs=1 seek=3000000 conv=notrunc status=none",
            pkg_tgz, path, path);
        expect_fail(path, "gzip");

        run("head -c 2000 /dev/urandom > '%s'", path);
        expect_fail(path, "Package");

        /* an unpacked copy, altered one way at a time */
        ASSERT_TRUE(asprintf(&dir, "%s/broken", tmp) > 0);
#define FRESH() run("rm -rf '%s' && cp -r '%s/unpacked' '%s'", dir, tmp, dir)
#define MODEL "%s/package/dist/models/mobilenet_v2/model.min.js"
#define SHARD "%s/package/dist/models/mobilenet_v2/group1-shard1of1.min.js"
        FRESH();
        run("rm '" SHARD "'", dir);
        expect_fail(dir, "has no file \"dist/models/mobilenet_v2/group1-shard1of1.min.js\"");

        FRESH(); /* cut 1000 base64 characters from the end of the weight string */
        run("python3 -c \"import sys; p=sys.argv[1]; s=open(p).read(); i=s.rindex('\\\"'); "
            "open(p,'w').write(s[:i-1000]+s[i:])\" '" SHARD "'",
            dir);
        expect_fail(dir, "weight data");

        FRESH();
        run("sed -i 's/shape:\\[1280,256\\]/shape:[1280,255]/' '" MODEL "'", dir);
        expect_fail(dir, "the manifest describes");

        FRESH(); /* same size, different shape */
        run("sed -i 's/shape:\\[1280,256\\]/shape:[256,1280]/' '" MODEL "'", dir);
        expect_fail(dir, "\"dense_1/kernel\" has a shape that does not match");

        FRESH();
        run("sed -i '0,/class_name:\"Add\"/s//class_name:\"Multiply\"/' '" MODEL "'", dir);
        expect_fail(dir, "Unknown layer type \"Multiply\"");

        FRESH();
        run("sed -i 's/modelTopology:{/modelTopology:{x:foo(),/' '" MODEL "'", dir);
        expect_fail(dir, "not a valid object literal");

        FRESH();
        run("sed -i 's/\"name\": \"nsfwjs\"/\"name\": \"other\"/' '%s/package/package.json'", dir);
        expect_fail(dir, "not nsfwjs");

        /* a bad weight file is refused on load, not run */
        _cleanup_free_ char *wf = NULL;
        Error err = {};
        Backbone *bb = NULL;
        ASSERT_TRUE(asprintf(&wf, "%s/cut.safetensors", tmp) > 0);
        run("head -c 5000000 '%s' > '%s'", good, wf);
        ASSERT_TRUE(backbone_load(wf, &bb, &err) < 0);
        ASSERT_TRUE(!bb);
        fprintf(stderr, "  expected load error: %s\n", err.message);

        run("rm -rf '%s'", tmp);
}

TEST_MAIN()
