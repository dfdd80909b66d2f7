/* SPDX-License-Identifier: MIT */
/* The database file itself: creation, migrations, foreign files, batches.
 * What must survive bad input: a file that is not SQLite, a corrupt one or
 * one from a newer Fluff gives a clear error and is left untouched; an error
 * inside a batch loses nothing committed before it. */
#include <inttypes.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "store-internal.h"
#include "store-test-util.h"

static int64_t raw_i64(const char *path, const char *sql)
{
        sqlite3 *db;
        sqlite3_stmt *st;
        ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

static void raw_exec(const char *path, const char *sql)
{
        sqlite3 *db;
        ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
}

TEST(create_from_nothing)
{
        _cleanup_free_ char *dir = NULL, *path = NULL;
        Store *s = test_store(&dir, &path);
        struct stat st;

        /* the folder chain was made, private */
        _cleanup_free_ char *folder = NULL;
        ASSERT_TRUE(asprintf(&folder, "%s/data/fluff", dir) > 0);
        ASSERT_EQ(stat(folder, &st), 0);
        ASSERT_EQ(st.st_mode & 0777, 0700);
        ASSERT_EQ(stat(path, &st), 0);
        ASSERT_EQ(st.st_mode & 0077, 0);
        ASSERT_OK(store_check_integrity(s, NULL));
        store_free(s);

        ASSERT_EQ(raw_i64(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
        sqlite3 *db;
        sqlite3_stmt *q;
        ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
        ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
        ASSERT_STREQ((const char *)sqlite3_column_text(q, 0), "wal");
        sqlite3_finalize(q);
        sqlite3_close(db);

        /* reopening an up-to-date file changes nothing */
        ASSERT_OK(store_open(path, &s, NULL));
        ASSERT_OK(store_check_integrity(s, NULL));
        store_free(s);
        test_rm_rf(dir);
}

TEST(migrate_from_each_older_version)
{
        for (unsigned from = 0; from < STORE_SCHEMA_VERSION; from++) {
                _cleanup_free_ char *dir = test_tmpdir(), *path = NULL;
                Error err = {};
                Store *s = NULL;
                ASSERT_TRUE(asprintf(&path, "%s/fluff.db", dir) > 0);
                ASSERT_OK(store_open_version(path, from, &s, &err));
                if (from >= 1) {
                        /* data written by the old schema must come through */
                        uint64_t gen;
                        test_upsert(s, 42);
                        ASSERT_OK(store_sync_begin(s, &gen, NULL));
                        ASSERT_OK(store_label_seen(s, 42, LABEL_SOURCE_UPVOTE, gen, NULL));
                        ASSERT_OK(store_image_ok(s, "0123456789abcdef0123456789abcdef", 42, 1000, NULL));
                }
                store_free(s);
                ASSERT_EQ(raw_i64(path, "PRAGMA user_version"), from);

                if (store_open(path, &s, &err) < 0)
                        TEST_FAIL("migrating from %u: %s", from, err.message);
                ASSERT_EQ(raw_i64(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
                ASSERT_OK(store_check_integrity(s, NULL));
                if (from >= 1) {
                        int v;
                        ASSERT_OK(store_post_label(s, 42, &v, NULL, NULL));
                        ASSERT_EQ(v, 1);
                        ASSERT_TRUE(store_image_is_ok(s, "0123456789abcdef0123456789abcdef"));
                } else
                        test_upsert(s, 42);
                /* the newest tables work */
                uint64_t id;
                ASSERT_OK(store_outbox_add(s, 42, 1, 1, &id, NULL));
                ASSERT_OK(store_watch_add(s, "wolf", 0.8, 10, &id, NULL));
                StoreModel m = {.state = STORE_MODEL_INSTALLED,
                                .trigger = "manual",
                                .towers = "both",
                                .info = "{}",
                                .auc = 0.8};
                StoreLabelled l = {.post_id = 42, .label = 1};
                ASSERT_OK(store_model_add(s, &m, &l, 1, &id, NULL));
                ASSERT_OK(store_model_installed(s, &id, NULL));
                store_free(s);
                test_rm_rf(dir);
        }
}

TEST(newer_version_is_left_untouched)
{
        _cleanup_free_ char *dir = NULL, *path = NULL, *before = NULL, *after = NULL;
        Error err = {};
        size_t nb, na;
        Store *s = test_store(&dir, &path);
        test_upsert(s, 1);
        store_free(s);
        raw_exec(path, "PRAGMA user_version = 99; PRAGMA journal_mode = DELETE");
        ASSERT_OK(read_file_full(path, 1 << 24, &before, &nb));

        ASSERT_ERROR(store_open(path, &s, &err), EPROTONOSUPPORT);
        fprintf(stderr, "  %s\n", err.message);
        ASSERT_TRUE(strstr(err.message, path) && strstr(err.message, "newer"));
        ASSERT_OK(read_file_full(path, 1 << 24, &after, &na));
        ASSERT_EQ(na, nb);
        ASSERT_TRUE(memcmp(before, after, nb) == 0);
        ASSERT_EQ(raw_i64(path, "PRAGMA user_version"), 99);
        test_rm_rf(dir);
}

TEST(not_a_database)
{
        _cleanup_free_ char *dir = test_tmpdir(), *path = NULL, *after = NULL;
        Error err = {};
        Store *s = NULL;
        ASSERT_TRUE(asprintf(&path, "%s/fluff.db", dir) > 0);
        char junk[8192];
        for (size_t i = 0; i < sizeof junk; i++)
                junk[i] = (char)(i * 131 + 7);
        ASSERT_OK(write_file_atomic(path, junk, sizeof junk, 0600));
        ASSERT_ERROR(store_open(path, &s, &err), EBADMSG);
        fprintf(stderr, "  %s\n", err.message);
        ASSERT_TRUE(strstr(err.message, path) && strstr(err.message, "not a SQLite database"));
        size_t n;
        ASSERT_OK(read_file_full(path, 1 << 20, &after, &n));
        ASSERT_TRUE(n == sizeof junk && memcmp(after, junk, n) == 0);

        /* a text file, e.g. a config written to the wrong name */
        err = (Error){};
        const char text[] = "site = https://e621.net\nrate_limit = 1\n";
        ASSERT_OK(write_file_atomic(path, text, sizeof text - 1, 0600));
        ASSERT_ERROR(store_open(path, &s, &err), EBADMSG);
        test_rm_rf(dir);
}

static void corrupt_and_open(size_t from_eighth)
{
        _cleanup_free_ char *dir = NULL, *path = NULL, *data = NULL;
        Error err = {};
        Store *s = test_store(&dir, &path);
        ASSERT_OK(store_begin(s, NULL));
        for (uint64_t id = 1; id <= 600; id++)
                test_upsert(s, id);
        ASSERT_OK(store_commit(s, NULL));
        store_free(s);
        raw_exec(path, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE");

        /* scribble over part of the file: table and index pages */
        size_t n;
        ASSERT_OK(read_file_full(path, 1 << 26, &data, &n));
        ASSERT_TRUE(n > 65536);
        for (size_t i = MAX(n / 8 * from_eighth, 8192); i < n - 4096; i += 97)
                data[i] = (char)(data[i] ^ 0x5a);
        ASSERT_OK(write_file_atomic(path, data, n, 0600));

        int r = store_open(path, &s, &err);
        if (r >= 0) {
                Error check = {};
                r = store_check_integrity(s, &check);
                fprintf(stderr, "  integrity check: %s\n", check.message);
                store_free(s);
        } else
                fprintf(stderr, "  open: %s\n", err.message);
        ASSERT_EQ(r, -EBADMSG);
        test_rm_rf(dir);
}

TEST(corrupt_database)
{
        corrupt_and_open(0); /* the schema itself: refused on open */
        corrupt_and_open(5); /* only data pages: found by the integrity check */
}

TEST(batch_rollback_keeps_earlier_commits)
{
        _cleanup_free_ char *dir = NULL;
        Store *s = test_store(&dir, NULL);
        uint64_t gen;

        ASSERT_OK(store_sync_begin(s, &gen, NULL));
        ASSERT_OK(store_begin(s, NULL));
        test_upsert(s, 1);
        ASSERT_OK(store_label_seen(s, 1, LABEL_SOURCE_FAVOURITE, gen, NULL));
        ASSERT_OK(store_commit(s, NULL));

        ASSERT_OK(store_begin(s, NULL));
        ASSERT_ERROR(store_begin(s, NULL), EBUSY);
        test_upsert(s, 2);
        ASSERT_OK(store_label_seen(s, 2, LABEL_SOURCE_FAVOURITE, gen, NULL));
        /* a malformed post in the page: the whole page is rolled back */
        _cleanup_post_free_ Post *bad = test_post(3);
        free(bad->md5);
        bad->md5 = strdup("../../etc/passwd00000000000000000");
        Error bad_error = {};
        ASSERT_ERROR(store_post_upsert(s, bad, &bad_error), EINVAL);
        ASSERT_TRUE(strlen(bad_error.message) > 0);
        /* a label for a post that was never stored */
        ASSERT_ERROR(store_label_seen(s, 999, LABEL_SOURCE_UPVOTE, gen, NULL), ENOENT);
        ASSERT_OK(store_rollback(s, NULL));
        ASSERT_OK(store_rollback(s, NULL));

        ASSERT_TRUE(store_post_exists(s, 1));
        ASSERT_FALSE(store_post_exists(s, 2));
        ASSERT_FALSE(store_post_exists(s, 3));
        StoreCounts c;
        ASSERT_OK(store_counts(s, &c, NULL));
        ASSERT_EQ(c.liked, 1);
        ASSERT_EQ(c.posts, 1);
        ASSERT_OK(store_check_integrity(s, NULL));

        /* a batch left open when the store is freed (a crash) is not committed */
        ASSERT_OK(store_begin(s, NULL));
        test_upsert(s, 4);
        store_free(s);
        _cleanup_free_ char *path = NULL;
        ASSERT_TRUE(asprintf(&path, "%s/data/fluff/fluff.db", dir) > 0);
        ASSERT_OK(store_open(path, &s, NULL));
        ASSERT_FALSE(store_post_exists(s, 4));
        ASSERT_TRUE(store_post_exists(s, 1));
        store_free(s);
        test_rm_rf(dir);
}

TEST(state)
{
        _cleanup_free_ char *dir = NULL, *v = NULL;
        Store *s = test_store(&dir, NULL);
        uint64_t u;

        ASSERT_ERROR(store_state_get(s, "cursor.fav", &v, NULL), ENOENT);
        ASSERT_OK(store_state_set(s, "cursor.fav", "b12345", NULL));
        ASSERT_OK(store_state_get(s, "cursor.fav", &v, NULL));
        ASSERT_STREQ(v, "b12345");
        ASSERT_OK(store_state_set_u64(s, "n", UINT64_C(18446744073709551615), NULL));
        ASSERT_OK(store_state_get_u64(s, "n", &u, NULL));
        ASSERT_EQ(u == UINT64_MAX, 1);
        ASSERT_ERROR(store_state_get_u64(s, "cursor.fav", &u, NULL), EINVAL);
        ASSERT_OK(store_state_set(s, "cursor.fav", NULL, NULL));
        ASSERT_ERROR(store_state_get(s, "cursor.fav", &v, NULL), ENOENT);
        ASSERT_ERROR(store_state_set(s, "", "x", NULL), EINVAL);
        store_free(s);
        test_rm_rf(dir);
}

TEST(errno_mapping)
{
        ASSERT_EQ(sqlite_to_errno(SQLITE_OK), 0);
        ASSERT_EQ(sqlite_to_errno(SQLITE_BUSY), -EBUSY);
        ASSERT_EQ(sqlite_to_errno(SQLITE_FULL), -ENOSPC);
        ASSERT_EQ(sqlite_to_errno(SQLITE_NOTADB), -EBADMSG);
        ASSERT_EQ(sqlite_to_errno(SQLITE_CORRUPT), -EBADMSG);
        ASSERT_EQ(sqlite_to_errno(SQLITE_CONSTRAINT_UNIQUE), -EEXIST);
        ASSERT_EQ(sqlite_to_errno(SQLITE_CONSTRAINT_FOREIGNKEY), -EINVAL);
        ASSERT_EQ(sqlite_to_errno(SQLITE_READONLY), -EROFS);
        ASSERT_EQ(sqlite_to_errno(SQLITE_IOERR_WRITE), -EIO);
}

TEST(full_disk_names_the_folder)
{
        /* SQLite's own limit stands in for a full disk: the same SQLITE_FULL. */
        _cleanup_free_ char *dir = NULL, *folder = NULL;
        Store *s = test_store(&dir, NULL);
        ASSERT_TRUE(asprintf(&folder, "%s/data/fluff", dir) > 0); /* where test_store puts it */
        int64_t pages = 0;
        sqlite3_stmt *st = NULL;
        ASSERT_EQ(sqlite3_prepare_v2(s->db, "PRAGMA page_count", -1, &st, NULL), SQLITE_OK);
        ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
        pages = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA max_page_count = %" PRId64, pages);
        ASSERT_OK(store_exec(s, NULL, sql));
        Error full = {};
        ASSERT_ERROR(store_exec(s, &full,
                                "CREATE TABLE filler(x); INSERT INTO filler VALUES (zeroblob(1000000))"),
                     ENOSPC);
        ASSERT_TRUE(strstr(full.message, "no space left in ") != NULL);
        ASSERT_TRUE(strstr(full.message, folder) != NULL);
        ASSERT_TRUE(strstr(full.message, "/fluff.db") == NULL); /* the folder, not the file */
        store_free(s);
        test_rm_rf(dir);
}

TEST(unwritable_folder)
{
        if (geteuid() == 0) {
                /* not TEST_SKIP: that would skip the whole file */
                fprintf(stderr, "  (root ignores folder permissions: not checked)\n");
                return;
        }
        _cleanup_free_ char *dir = test_tmpdir(), *path = NULL;
        Error err = {};
        Store *s = NULL;
        ASSERT_EQ(chmod(dir, 0500), 0);
        ASSERT_TRUE(asprintf(&path, "%s/sub/fluff.db", dir) > 0);
        ASSERT_TRUE(store_open(path, &s, &err) < 0);
        ASSERT_TRUE(strstr(err.message, path));
        ASSERT_EQ(chmod(dir, 0700), 0);
        test_rm_rf(dir);
}

TEST_MAIN()
