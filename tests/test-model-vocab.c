/* SPDX-License-Identifier: MIT */
/* The chain the Train and Predict jobs use: posts → vocabulary → dataset →
 * training → model file with the vocabulary inside → load → the tags that
 * pushed a score, by name. Must survive: tags the vocabulary never saw
 * (left out by vocab_encode_post, not an error). */
#include "model.h"
#include "vk-test.h"
#include "vocab.h"

#define N 400
#define D 16

static Post *make_post(uint64_t id, float *x, int *ret_label)
{
        Post *p = calloc(1, sizeof(Post));
        char name[32];
        double s = 0;

        ASSERT_TRUE(p);
        p->id = id;
        for (int j = 0; j < D; j++)
                x[j] = vkt_normal();
        s += x[0];
        for (int k = 0; k < 5; k++) {
                unsigned t = vkt_u32() % 40;
                snprintf(name, sizeof(name), "general_%u", t);
                ASSERT_OK(post_add_tag(p, name, "general"));
                s += t < 4 ? 1.5 : t >= 36 ? -1.5 : 0;
        }
        snprintf(name, sizeof(name), "artist_%u", (unsigned)(vkt_u32() % 8));
        ASSERT_OK(post_add_tag(p, name, "artist"));
        snprintf(name, sizeof(name), "once_%" PRIu64, id); /* below min_count: never in the vocabulary */
        ASSERT_OK(post_add_tag(p, name, "general"));
        *ret_label = s + 0.3 * vkt_normal() > 0 ? 1 : -1;
        return p;
}

TEST(posts_to_named_pushes)
{
        static Post *posts[N];
        static float x[N][D];
        static int labels[N];
        _cleanup_(vocab_freep) Vocab *v = NULL, *v2 = NULL;
        _cleanup_(model_dataset_freep) ModelDataset *ds = NULL;
        _cleanup_(model_freep) Model *m = NULL, *l = NULL;
        _cleanup_free_ char *json = NULL;
        Error error = {};
        char path[] = "/tmp/fluff-test-model-vocab-XXXXXX";
        uint32_t ids[64];
        size_t n_ids;

        vkt_seed(11);
        for (int i = 0; i < N; i++)
                posts[i] = make_post(i + 1, x[i], &labels[i]);
        ASSERT_OK(vocab_build(posts, N, 3, &v));
        ASSERT_OK(model_dataset_new(D, (uint32_t)vocab_size(v), NULL, 0, &ds));
        for (int i = 0; i < N; i++) {
                ASSERT_OK(vocab_encode_post(v, posts[i], ids, ELEMENTSOF(ids), &n_ids));
                ASSERT_TRUE(n_ids >= 2 && n_ids < posts[i]->n_tags); /* once_* is never known */
                ASSERT_OK(model_dataset_add(ds, x[i], ids, n_ids, labels[i]));
        }

        ModelTrainOptions o = MODEL_TRAIN_OPTIONS_DEFAULT;

        o.folds = 0; /* the head alone: cross-validation is test-model-cv's */
        /* the same work on any machine: a 2 s budget reached AUC 0.555 beside other tests */
        o.max_epochs = 30;
        o.ensemble = 1;
        o.time_budget_s = 300;
        ASSERT_OK(vocab_to_json(v, &json));
        o.vocabulary = json;
        o.backbone = "none";
        ASSERT_OK(model_train(vkt_engine(), ds, &o, &m, NULL, &error));
        fprintf(stderr, "  vocabulary of %zu tags; val AUC %.3f\n", vocab_size(v), m->metrics.roc_auc);
        ASSERT_TRUE(m->metrics.roc_auc > 0.8);

        int fd = mkstemp(path);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        ASSERT_OK(model_save(m, path));
        ASSERT_OK(model_load(path, &l, &error));
        (void)unlink(path);
        ASSERT_OK(vocab_from_json(l->vocabulary, strlen(l->vocabulary), &v2));
        ASSERT_EQ(vocab_size(v2), vocab_size(v));

        /* A new post with a liked and a disliked tag, one unknown tag, neutral features. */
        _cleanup_(post_freep) Post *p = calloc(1, sizeof(Post));
        ASSERT_TRUE(p);
        ASSERT_OK(post_add_tag(p, "general_1", "general"));
        ASSERT_OK(post_add_tag(p, "general_38", "general"));
        ASSERT_OK(post_add_tag(p, "general_20", "general"));
        ASSERT_OK(post_add_tag(p, "never_seen", "general"));
        ASSERT_OK(vocab_encode_post(v2, p, ids, ELEMENTSOF(ids), &n_ids));
        ASSERT_EQ(n_ids, 3u);
        float feat[D] = {}, prob;
        uint32_t offs[2] = {0, (uint32_t)n_ids};
        ModelExplanation ex;
        ASSERT_OK(model_predict(l, vkt_engine(), feat, offs, ids, 1, &prob, &ex));
        /* each known tag is in its direction's list (3 tags, 3 places each) */
        bool seen_1 = false, seen_38 = false;
        double lowest = INFINITY;
        const char *cat, *name, *weakest = NULL;
        for (int k = 0; k < MODEL_EXPLAIN_TAGS; k++)
                for (int dir = 0; dir < 2; dir++) {
                        const ModelTagPush *t = dir ? &ex.down[k] : &ex.up[k];
                        if (t->tag == UINT32_MAX)
                                continue;
                        ASSERT_OK(vocab_entry(v2, t->tag, &cat, &name, NULL));
                        fprintf(stderr, "  push %s: %s:%s %+.3f\n", dir ? "down" : "up", cat, name, t->push);
                        seen_1 |= streq(name, "general_1") && !dir;
                        seen_38 |= streq(name, "general_38") && dir;
                        if (fabsf(t->push) < lowest) {
                                lowest = fabsf(t->push);
                                weakest = name;
                        }
                }
        ASSERT_TRUE(seen_1 && seen_38);
        /* the neutral tag pushes least */
        ASSERT_STREQ(weakest, "general_20");
        for (int i = 0; i < N; i++)
                post_free(posts[i]);
}

TEST_MAIN()
