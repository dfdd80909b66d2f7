/* SPDX-License-Identifier: MIT */
/* Moving a crop: a rename on one file system, a synced copy across two
 * (/dev/shm when it is another one), and which paths a vote may move at all.
 * What must survive bad input: paths outside the cache's two folders, with
 * "..", another post's md5 or a different suffix are refused; a missing
 * source fails with -ENOENT and leaves the destination alone; a source over
 * the size limit is not copied. */
#include <sys/stat.h>
#include <unistd.h>

#include "fluff/util.h"
#include "vote/vote.h"
#include "tests.h"

static void write_text(const char *path, const char *text)
{
        ASSERT_OK(write_file_atomic(path, text, strlen(text), 0600));
}

static void check_moved(const char *src, const char *dst, const char *text)
{
        _cleanup_free_ char *data = NULL;
        size_t size;

        ASSERT_ERROR(access(src, F_OK) < 0 ? -errno : 0, ENOENT);
        ASSERT_OK(read_file_full(dst, 1024, &data, &size));
        ASSERT_EQ(size, strlen(text));
        ASSERT_TRUE(memcmp(data, text, size) == 0);
}

static void move_between(const char *a, const char *b)
{
        _cleanup_free_ char *src = NULL, *dst = NULL;

        ASSERT_TRUE(asprintf(&src, "%s/0123456789abcdef0123456789abcdef.jpg", a) > 0);
        ASSERT_TRUE(asprintf(&dst, "%s/0123456789abcdef0123456789abcdef.jpg", b) > 0);
        write_text(src, "crop one");
        ASSERT_OK(file_move(src, dst, 1024));
        check_moved(src, dst, "crop one");

        /* an existing destination is replaced whole */
        write_text(src, "crop two, longer");
        ASSERT_OK(file_move(src, dst, 1024));
        check_moved(src, dst, "crop two, longer");

        ASSERT_ERROR(file_move(src, dst, 1024), ENOENT);
        check_moved(src, dst, "crop two, longer");
        ASSERT_OK(unlink(dst));
}

TEST(same_file_system)
{
        _cleanup_free_ char *dir = test_tmpdir(), *a = NULL, *b = NULL;

        ASSERT_TRUE(asprintf(&a, "%s/cache", dir) > 0 && asprintf(&b, "%s/data", dir) > 0);
        ASSERT_OK(mkdir_parents(a, 0700));
        ASSERT_OK(mkdir_parents(b, 0700));
        move_between(a, b);
}

TEST(across_file_systems)
{
        _cleanup_free_ char *dir = test_tmpdir(), *shm = strdup("/dev/shm/fluff-test-XXXXXX"), *src = NULL,
                            *dst = NULL;
        struct stat x, y;

        if (stat("/dev/shm", &x) < 0 || stat(dir, &y) < 0 || x.st_dev == y.st_dev)
                TEST_SKIP("no second file system at /dev/shm");
        ASSERT_TRUE(mkdtemp(shm));
        move_between(shm, dir);

        /* the copy is bounded: an oversized source stays where it is */
        ASSERT_TRUE(asprintf(&src, "%s/big.jpg", shm) > 0 && asprintf(&dst, "%s/big.jpg", dir) > 0);
        write_text(src, "more than eight bytes");
        ASSERT_ERROR(file_move(src, dst, 8), EFBIG);
        ASSERT_OK(access(src, F_OK));
        ASSERT_ERROR(access(dst, F_OK) < 0 ? -errno : 0, ENOENT);
        ASSERT_OK(unlink(src));
        ASSERT_OK(rmdir(shm));
}

TEST(crop_is_ours)
{
        const char *md5 = "0123456789abcdef0123456789abcdef", *cache = "/home/u/.cache/fluff";

        ASSERT_TRUE(vote_crop_is_ours(
                cache, md5, "/home/u/.cache/fluff/predictions/0123456789abcdef0123456789abcdef.jpg"));
        ASSERT_TRUE(vote_crop_is_ours(
                cache, md5, "/home/u/.cache/fluff/watches/0123456789abcdef0123456789abcdef.jpg"));
        ASSERT_FALSE(vote_crop_is_ours(cache, md5, NULL));
        ASSERT_FALSE(vote_crop_is_ours(cache, md5,
                                         "/home/u/.cache/fluff/other/0123456789abcdef0123456789abcdef.jpg"));
        ASSERT_FALSE(vote_crop_is_ours(
                cache, md5, "/home/u/.cache/fluff/predictions/../0123456789abcdef0123456789abcdef.jpg"));
        ASSERT_FALSE(vote_crop_is_ours(
                cache, md5, "/home/u/.cache/fluffy/predictions/0123456789abcdef0123456789abcdef.jpg"));
        ASSERT_FALSE(vote_crop_is_ours(
                cache, md5, "/home/u/.cache/fluff/predictions/fedcba9876543210fedcba9876543210.jpg"));
        ASSERT_FALSE(vote_crop_is_ours(
                cache, md5, "/home/u/.cache/fluff/predictions/0123456789abcdef0123456789abcdef.png"));
        ASSERT_FALSE(vote_crop_is_ours(
                cache, md5, "/home/u/.cache/fluff/predictions/0123456789abcdef0123456789abcdef.jpg.tmp.x"));
        ASSERT_FALSE(vote_crop_is_ours(
                cache, md5, "/home/u/.cache/fluff/predictions/sub/0123456789abcdef0123456789abcdef.jpg"));
        ASSERT_FALSE(vote_crop_is_ours(cache, "../../etc/passwd",
                                         "/home/u/.cache/fluff/predictions/../../etc/passwd.jpg"));
        ASSERT_FALSE(vote_crop_is_ours(
                cache, "0123456789ABCDEF0123456789ABCDEF",
                "/home/u/.cache/fluff/predictions/0123456789ABCDEF0123456789ABCDEF.jpg"));
}

TEST_MAIN()
