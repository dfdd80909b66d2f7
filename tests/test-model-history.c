/* SPDX-License-Identifier: MIT */
/* The model history's files in a real folder: installing is one rename that
 * leaves a loadable file in place at every step, a rollback installs an older
 * file again, removing one keeps the installed copy, and what a killed
 * training or install left behind is cleaned up without touching anything
 * else. And the install decision, with its reason. */
#include <math.h>
#include <sys/stat.h>

#include "model-history.h"
#include "tests.h"

static void test_rm_rf(const char *dir)
{
        char *cmd;
        ASSERT_TRUE(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
        ASSERT_EQ(system(cmd), 0);
        free(cmd);
}

static void put(const char *path, const char *text)
{
        ASSERT_OK(write_file_atomic(path, text, strlen(text), 0600));
}

static char *slurp(const char *path)
{
        char *data = NULL;
        size_t size;
        ASSERT_OK(read_file_full(path, 1 << 20, &data, &size));
        return data;
}

static void assert_text(const char *path, const char *want)
{
        _cleanup_free_ char *text = slurp(path);
        ASSERT_STREQ(text, want);
}

static bool exists(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0;
}

static char *trained(const char *dir, uint64_t id, const char *text)
{
        _cleanup_free_ char *fresh = NULL;
        char *path = NULL;
        ASSERT_OK(model_history_new_path(dir, &fresh));
        ASSERT_TRUE(exists(fresh));
        put(fresh, text);
        ASSERT_OK(model_history_adopt(dir, fresh, id));
        ASSERT_FALSE(exists(fresh));
        ASSERT_OK(model_history_path(dir, id, &path));
        return path;
}

TEST(install_rollback_remove)
{
        _cleanup_free_ char *tmp = test_tmpdir(), *dir = NULL, *installed = NULL;
        _cleanup_free_ char *p1 = NULL, *p2 = NULL, *p = NULL;
        uint64_t *ids = NULL;
        size_t n;

        ASSERT_TRUE(asprintf(&dir, "%s/models", tmp) > 0);
        ASSERT_OK(model_history_installed_path(dir, &installed));
        ASSERT_OK(model_history_scan(dir, &ids, &n)); /* no folder yet: an empty history */
        ASSERT_EQ(n, 0);
        free(ids);
        ASSERT_ERROR(model_history_install(dir, 1), ENOENT);

        p1 = trained(dir, 1, "model one");
        ASSERT_OK(model_history_install(dir, 1));
        assert_text(installed, "model one");

        p2 = trained(dir, 2, "model two");
        /* a second file for an id that has one is refused, not overwritten */
        {
                _cleanup_free_ char *again = NULL;
                ASSERT_OK(model_history_new_path(dir, &again));
                ASSERT_ERROR(model_history_adopt(dir, again, 2), EEXIST);
                (void)unlink(again);
        }
        ASSERT_OK(model_history_install(dir, 2));
        assert_text(installed, "model two");

        /* a rollback */
        ASSERT_OK(model_history_install(dir, 1));
        assert_text(installed, "model one");

        ASSERT_OK(model_history_scan(dir, &ids, &n));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(ids[0], 1);
        ASSERT_EQ(ids[1], 2);
        free(ids);

        /* removing the history file leaves the installed copy loadable */
        ASSERT_OK(model_history_remove(dir, 1));
        ASSERT_OK(model_history_remove(dir, 1));
        ASSERT_FALSE(exists(p1));
        assert_text(installed, "model one");
        ASSERT_TRUE(exists(p2));
        ASSERT_ERROR(model_history_path(dir, 0, &p), EINVAL);
        test_rm_rf(tmp);
}

TEST(clean_after_a_kill)
{
        _cleanup_free_ char *tmp = test_tmpdir(), *dir = NULL, *p = NULL, *installed = NULL;
        _cleanup_free_ char *fresh = NULL, *half = NULL, *other = NULL, *inst_tmp = NULL;
        uint64_t keep[] = {3};

        ASSERT_TRUE(asprintf(&dir, "%s/models", tmp) > 0);
        free(trained(dir, 3, "kept"));
        free(trained(dir, 7, "pruned from the store already"));
        ASSERT_OK(model_history_install(dir, 3));
        ASSERT_OK(model_history_installed_path(dir, &installed));
        /* a training killed while writing, an atomic write killed before its
         * rename, an install killed before its rename, and a file of the user's */
        ASSERT_OK(model_history_new_path(dir, &fresh));
        ASSERT_TRUE(asprintf(&half, "%s/history/9.safetensors.tmp.AbC123", dir) > 0);
        put(half, "half");
        ASSERT_TRUE(asprintf(&inst_tmp, "%s.tmp.9.1234", installed) > 0);
        put(inst_tmp, "half");
        ASSERT_TRUE(asprintf(&other, "%s/history/notes.txt", dir) > 0);
        put(other, "mine");

        ASSERT_EQ(model_history_clean(dir, keep, 1), 4);
        ASSERT_FALSE(exists(fresh));
        ASSERT_FALSE(exists(half));
        ASSERT_FALSE(exists(inst_tmp));
        ASSERT_TRUE(exists(other));
        ASSERT_OK(model_history_path(dir, 7, &p));
        ASSERT_FALSE(exists(p));
        free(p);
        ASSERT_OK(model_history_path(dir, 3, &p));
        ASSERT_TRUE(exists(p));
        assert_text(installed, "kept");
        ASSERT_EQ(model_history_clean(dir, keep, 1), 0);
        test_rm_rf(tmp);
}

TEST(decide)
{
        _cleanup_free_ char *reason = NULL;

        ASSERT_EQ(model_history_decide(0.70, NAN, 0.02, false, false, &reason), 1); /* the first model */
        ASSERT_TRUE(reason == NULL);
        ASSERT_EQ(model_history_decide(0.86, 0.87, 0.02, false, false, &reason), 1); /* within the margin */
        ASSERT_EQ(model_history_decide(0.90, 0.87, 0.0, false, false, &reason), 1);
        ASSERT_EQ(model_history_decide(0.84, 0.87, 0.02, false, false, &reason), 0);
        ASSERT_STREQ(reason,
                     "its cross-validated ROC AUC 0.840 is worse than the installed model's 0.870 by more "
                     "than 0.020");
        free(reason);
        ASSERT_EQ(model_history_decide(NAN, 0.87, 0.02, false, false, &reason), 0);
        ASSERT_TRUE(reason != NULL);
        free(reason);
        /* an ablation stays aside even when better, unless installed on purpose */
        ASSERT_EQ(model_history_decide(0.95, 0.87, 0.02, true, false, &reason), 0);
        ASSERT_TRUE(strstr(reason, "ablation") != NULL);
        free(reason);
        reason = NULL;
        ASSERT_EQ(model_history_decide(0.5, 0.87, 0.02, true, true, &reason), 1);
        ASSERT_TRUE(reason == NULL);
        ASSERT_EQ(model_history_decide(0.5, 0.87, 0.02, false, false, NULL), 0);
        ASSERT_ERROR(model_history_decide(0.5, 0.87, -0.1, false, false, NULL), EINVAL);
        ASSERT_ERROR(model_history_decide(0.5, 0.87, NAN, false, false, NULL), EINVAL);
}

TEST(info_cross_validated)
{
        ASSERT_TRUE(model_history_info_cross_validated(
                "{\"towers\":\"both\",\"quality\":{\"version\":1,\"folds\":5}}"));
        /* a model trained before cross-validation, or on too few posts for folds */
        ASSERT_FALSE(model_history_info_cross_validated("{\"towers\":\"both\",\"quality\":null}"));
        ASSERT_FALSE(model_history_info_cross_validated("{\"towers\":\"both\"}"));
        ASSERT_FALSE(model_history_info_cross_validated("{\"quality\":5}"));
        ASSERT_FALSE(model_history_info_cross_validated("not json"));
        ASSERT_FALSE(model_history_info_cross_validated("[1]"));
        ASSERT_FALSE(model_history_info_cross_validated(NULL));
}

TEST_MAIN()
