/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the store tests: posts that look like what the e621 client
 * produces, and a fresh database in a temporary folder. */

#include <stdio.h>

#include "post.h"
#include "store.h"
#include "tests.h"

static inline Post *test_post(uint64_t id)
{
        Post *p = calloc(1, sizeof *p);
        ASSERT_TRUE(p);
        p->id = id;
        ASSERT_TRUE(asprintf(&p->md5, "%032" PRIx64, id * 2654435761u) > 0);
        p->ext = strdup("jpg");
        p->rating = "sqe"[id % 3];
        p->created_at = 1600000000 + (int64_t)id;
        p->width = 1000 + (unsigned)id % 500;
        p->height = 800;
        p->file_size = 123456;
        ASSERT_TRUE(asprintf(&p->file_url, "http://127.0.0.1:1/data/%s.jpg", p->md5) > 0);
        ASSERT_TRUE(asprintf(&p->sample_url, "http://127.0.0.1:1/data/sample/%s.jpg", p->md5) > 0);
        p->sample_width = 850;
        p->sample_height = 680;
        p->score_up = 10;
        p->score_down = -2;
        p->score_total = 8;
        p->fav_count = 5;
        ASSERT_OK(post_add_tag(p, "solo", "general"));
        char artist[32];
        snprintf(artist, sizeof artist, "artist_%" PRIu64, id % 7);
        ASSERT_OK(post_add_tag(p, artist, "artist"));
        return p;
}

static inline void test_upsert(Store *s, uint64_t id)
{
        _cleanup_post_free_ Post *p = test_post(id);
        ASSERT_OK(store_post_upsert(s, p, NULL));
}

static inline Store *test_store(char **ret_dir, char **ret_path)
{
        char *dir = test_tmpdir(), *path = NULL;
        Error err = {};
        Store *s = NULL;
        ASSERT_TRUE(asprintf(&path, "%s/data/fluff/fluff.db", dir) > 0);
        if (store_open(path, &s, &err) < 0)
                TEST_FAIL("store_open: %s", err.message);
        *ret_dir = dir;
        if (ret_path)
                *ret_path = path;
        else
                free(path);
        return s;
}

static inline void test_rm_rf(const char *dir)
{
        char *cmd;
        ASSERT_TRUE(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
        ASSERT_EQ(system(cmd), 0);
        free(cmd);
}
