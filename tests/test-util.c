/* SPDX-License-Identifier: MIT */
#include <sched.h>
#include <sys/stat.h>
#include <time.h>

#include "fluff/util.h"
#include "tests.h"

/* fluffd sizes its pools (and lavapipe's) by the CPUs it may use, not those
 * online: pinned to one CPU, it counts one. */
TEST(cpus_available)
{
        cpu_set_t all, one;

        ASSERT_OK(sched_getaffinity(0, sizeof(all), &all));
        ASSERT_EQ(cpus_available(), (unsigned)CPU_COUNT(&all));
        CPU_ZERO(&one);
        for (int c = 0; c < CPU_SETSIZE; c++)
                if (CPU_ISSET(c, &all)) {
                        CPU_SET(c, &one);
                        break;
                }
        ASSERT_OK(sched_setaffinity(0, sizeof(one), &one));
        ASSERT_EQ(cpus_available(), 1u);
        ASSERT_OK(sched_setaffinity(0, sizeof(all), &all));
}

TEST(parse_duration)
{
        uint64_t v;

        ASSERT_OK(parse_duration_s("90", &v));
        ASSERT_EQ(v, 90);
        ASSERT_OK(parse_duration_s("90s", &v));
        ASSERT_EQ(v, 90);
        ASSERT_OK(parse_duration_s("10m", &v));
        ASSERT_EQ(v, 600);
        ASSERT_OK(parse_duration_s("2h", &v));
        ASSERT_EQ(v, 7200);
        ASSERT_OK(parse_duration_s("1h30m", &v));
        ASSERT_EQ(v, 5400);
        ASSERT_ERROR(parse_duration_s("", &v), EINVAL);
        ASSERT_ERROR(parse_duration_s("m", &v), EINVAL);
        ASSERT_ERROR(parse_duration_s("10x", &v), EINVAL);
        ASSERT_ERROR(parse_duration_s("-5", &v), EINVAL);
        ASSERT_ERROR(parse_duration_s("99999999999999999999", &v), ERANGE);
}

TEST(safe_ato)
{
        unsigned u;
        int i;
        double d;

        ASSERT_OK(safe_atou("42", &u));
        ASSERT_EQ(u, 42);
        ASSERT_ERROR(safe_atou("-1", &u), EINVAL);
        ASSERT_ERROR(safe_atou("4x", &u), EINVAL);
        ASSERT_ERROR(safe_atou("99999999999", &u), ERANGE);
        ASSERT_OK(safe_atoi("-7", &i));
        ASSERT_EQ(i, -7);
        ASSERT_ERROR(safe_atoi(" 7", &i), EINVAL);
        ASSERT_OK(safe_atod("0.25", &d));
        ASSERT_NEAR(d, 0.25, 0);
        ASSERT_ERROR(safe_atod("nan", &d), EINVAL);
}

TEST(hex_digest)
{
        ASSERT_TRUE(is_hex_digest("0123456789abcdef0123456789abcdef", 32));
        ASSERT_FALSE(is_hex_digest("0123456789ABCDEF0123456789abcdef", 32));
        ASSERT_FALSE(is_hex_digest("../../../../etc/passwd0123456789", 32));
        ASSERT_FALSE(is_hex_digest("0123456789abcdef0123456789abcde", 32));
        ASSERT_FALSE(is_hex_digest(NULL, 32));
}

TEST(strv)
{
        _cleanup_strv_free_ char **l = NULL;

        ASSERT_OK(strv_push(&l, strdup("a")));
        ASSERT_OK(strv_push(&l, strdup("b")));
        ASSERT_EQ(strv_length(l), 2);
        ASSERT_TRUE(strv_contains(l, "b"));
        ASSERT_FALSE(strv_contains(l, "c"));

        _cleanup_free_ char *ab = strv_join(l, " "), *none = strv_join(NULL, " ");
        char *one[] = {"rating:s", NULL};
        _cleanup_free_ char *single = strv_join(one, ", ");
        ASSERT_STREQ(ab, "a b");
        ASSERT_STREQ(none, "");
        ASSERT_STREQ(single, "rating:s");
}

TEST(write_file_atomic)
{
        _cleanup_free_ char *dir = test_tmpdir(), *path = NULL, *data = NULL;
        struct stat st;
        size_t size;

        ASSERT_TRUE(asprintf(&path, "%s/sub/dir/file", dir) > 0);
        ASSERT_OK(mkdir_parents(path, 0700));
        ASSERT_OK(rmdir(path) < 0 ? -errno : 0);
        ASSERT_OK(write_file_atomic(path, "secret\n", 7, 0600));
        ASSERT_OK(stat(path, &st) < 0 ? -errno : 0);
        ASSERT_EQ(st.st_mode & 0777, 0600);
        ASSERT_OK(read_file_full(path, 1024, &data, &size));
        ASSERT_EQ(size, 7);
        ASSERT_STREQ(data, "secret\n");
        ASSERT_ERROR(read_file_full(path, 3, &data, &size), EFBIG);
        /* replacing keeps no temporary files behind */
        ASSERT_OK(write_file_atomic(path, "x", 1, 0644));
        _cleanup_free_ char *cmd = NULL;
        ASSERT_TRUE(asprintf(&cmd, "test $(ls -A '%s/sub/dir' | wc -l) -eq 1 && rm -rf '%s'", dir, dir) > 0);
        ASSERT_EQ(system(cmd), 0);
}

TEST(xdg_dirs)
{
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

        ASSERT_OK(setenv("XDG_DATA_HOME", "/x/data", 1));
        ASSERT_OK(xdg_fluff_dir("DATA", NULL, &a));
        ASSERT_STREQ(a, "/x/data/fluff");
        ASSERT_OK(xdg_fluff_dir("DATA", "fluff.db", &c));
        ASSERT_STREQ(c, "/x/data/fluff/fluff.db");
        ASSERT_ERROR(xdg_fluff_dir("STATE", NULL, &d), EINVAL);
        /* relative values are invalid per the XDG spec and fall back to $HOME */
        ASSERT_OK(setenv("XDG_CACHE_HOME", "relative", 1));
        ASSERT_OK(setenv("HOME", "/home/u", 1));
        ASSERT_OK(xdg_fluff_dir("CACHE", "predictions", &b));
        ASSERT_STREQ(b, "/home/u/.cache/fluff/predictions");
        ASSERT_OK(setenv("HOME", "home", 1)); /* relative: no usable home */
        ASSERT_ERROR(xdg_fluff_dir("CACHE", NULL, &d), ENXIO);
}

TEST_MAIN()
