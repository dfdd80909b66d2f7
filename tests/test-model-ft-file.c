/* SPDX-License-Identifier: MIT */
/* The model file with a fine-tuned backbone layer: the layer's tensors and
 * description survive a round trip, a model without one still loads as
 * before, and a file whose layer does not fit its feature sets, or whose
 * layer tensors are missing or misshapen, is refused. */
#include <math.h>
#include <unistd.h>

#include "model.h"
#include "tests.h"

static Model *small_model(bool with_tail)
{
        Model *m;
        ASSERT_OK(model_new(24, 5, 2, 3, &m));
        m->n_sets = 2;
        m->sets[0] = (ModelFeatureSet){"b16_project", 0, 16};
        m->sets[1] = (ModelFeatureSet){"final", 16, 8};
        m->set_mask = 3;
        for (int i = 0; i < 24; i++) {
                m->mean[i] = 0.5f * (float)i;
                m->inv_std[i] = 1.0f;
        }
        if (with_tail) {
                ASSERT_OK(model_tail_new("final", "Conv_1", 7, 3, 4, &m->tail));
                for (int i = 0; i < 12; i++)
                        m->tail->weight[i] = (float)i / 7 - 1;
                for (int i = 0; i < 4; i++)
                        m->tail->bias[i] = (float)i / 3;
                m->tail->auc_head = 0.81;
                m->tail->auc_tuned = 0.86;
        }
        return m;
}

static int save_and_load(Model *m, Model **ret, Error *error)
{
        char dir[] = "/tmp/fluff-test-ft-file-XXXXXX", path[128];
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/model.safetensors", dir);
        ASSERT_OK(model_save(m, path));
        int r = model_load(path, ret, error);
        ASSERT_OK(unlink(path));
        ASSERT_OK(rmdir(dir));
        return r;
}

TEST(tail_round_trip)
{
        _cleanup_(model_freep) Model *m = small_model(true), *back = NULL;
        ASSERT_OK(save_and_load(m, &back, NULL));
        ASSERT_TRUE(back->tail != NULL);
        ASSERT_STREQ(back->tail->set, "final");
        ASSERT_STREQ(back->tail->node, "Conv_1");
        ASSERT_EQ(back->tail->hw, 7u);
        ASSERT_EQ(back->tail->cin, 3u);
        ASSERT_EQ(back->tail->cout, 4u);
        ASSERT_TRUE(memcmp(back->tail->weight, m->tail->weight, 12 * sizeof(float)) == 0);
        ASSERT_TRUE(memcmp(back->tail->bias, m->tail->bias, 4 * sizeof(float)) == 0);
        ASSERT_NEAR(back->tail->auc_head, 0.81, 1e-9);
        ASSERT_NEAR(back->tail->auc_tuned, 0.86, 1e-9);
        ASSERT_EQ(model_tail_set(back), 1);

        _cleanup_free_ char *json = NULL;
        ASSERT_OK(model_describe_json(back, &json));
        ASSERT_TRUE(strstr(json, "\"finetune\":{\"set\":\"final\"") != NULL);
}

TEST(no_tail_loads_as_before)
{
        _cleanup_(model_freep) Model *m = small_model(false), *back = NULL;
        ASSERT_OK(save_and_load(m, &back, NULL));
        ASSERT_TRUE(back->tail == NULL);
        ASSERT_EQ(model_tail_set(back), -ENOENT);
        _cleanup_free_ char *json = NULL;
        ASSERT_OK(model_describe_json(back, &json));
        ASSERT_TRUE(strstr(json, "\"finetune\":null") != NULL);
}

TEST(misfit_tail_refused)
{
        /* a layer of 4 outputs cannot compute the 16 floats of "b16_project" */
        _cleanup_(model_freep) Model *m = small_model(true), *back = NULL;
        Error error = {};
        strcpy(m->tail->set, "b16_project");
        ASSERT_EQ(save_and_load(m, &back, &error), -EBADMSG);
        ASSERT_TRUE(strstr(error.message, "fine-tuned layer"));
        strcpy(m->tail->set, "nowhere");
        ASSERT_EQ(save_and_load(m, &back, NULL), -EBADMSG);
        ASSERT_TRUE(back == NULL);
}

static void expect_edit_refused(const Model *m, const char *from, const char *to)
{
        char dir[] = "/tmp/fluff-test-ft-file-XXXXXX", path[128];
        _cleanup_free_ char *data = NULL;
        Error error = {};
        _cleanup_(model_freep) Model *back = NULL;
        size_t size;

        ASSERT_TRUE(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/model.safetensors", dir);
        ASSERT_OK(model_save(m, path));
        ASSERT_OK(read_file_full(path, 1 << 20, &data, &size));
        ASSERT_OK(unlink(path));
        ASSERT_OK(rmdir(dir));
        char *at = memmem(data, size, from, strlen(from));
        ASSERT_TRUE(at != NULL && strlen(from) == strlen(to));
        memcpy(at, to, strlen(to));
        ASSERT_EQ(model_load_from_memory((const uint8_t *)data, size, &back, &error), -EBADMSG);
        ASSERT_TRUE(error_is_set(&error));
        fprintf(stderr, "  %s → %s: %s\n", from, to, error.message);
}

TEST(damaged_tail_refused)
{
        _cleanup_(model_freep) Model *m = small_model(true);
        /* the description disagrees with the tensor's shape */
        expect_edit_refused(m, "\\\"cin\\\":3", "\\\"cin\\\":2");
        /* the tensors are gone or renamed: the count and names no longer match */
        expect_edit_refused(m, "\"finetune.weight\"", "\"finetune.weighs\"");
        expect_edit_refused(m, "\"finetune.bias\"", "\"finetune.bian\"");
        /* a non-finite weight */
        m->tail->weight[5] = NAN;
        _cleanup_(model_freep) Model *back = NULL;
        ASSERT_EQ(save_and_load(m, &back, NULL), -EBADMSG);
}

TEST_MAIN()
