/* SPDX-License-Identifier: MIT */
/* Which stored images still lack an embedding for a backbone. An image whose
 * embedding could not be computed gets a marker row (feature set
 * STORE_EMBEDDING_FAILED) so it is not tried again with the same weights. */
#include "store-internal.h"

int store_embedding_missing(Store *s, const char *backbone, const char *done_set, const char *after,
                            size_t limit, char ***ret, size_t *ret_n, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int r;

        r = store_query(s, error, &st,
                        "SELECT md5 FROM images i WHERE i.md5 > ? AND i.state = 'ok' AND NOT EXISTS ("
                        " SELECT 1 FROM embeddings e WHERE e.backbone = ? AND e.md5 = i.md5"
                        "  AND e.feature_set IN (?, '" STORE_EMBEDDING_FAILED "'))"
                        " ORDER BY i.md5 LIMIT ?",
                        "ttti", strempty(after), backbone, done_set, (int64_t)limit);
        if (r < 0)
                return r;
        while ((r = store_step(s, error, st)) > 0) {
                char *md5 = store_column_strdup(st, 0);
                if (!md5)
                        return -ENOMEM;
                r = strv_push(&l, md5);
                if (r < 0)
                        return r;
                n++;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

int store_embedding_counts(Store *s, const char *backbone, const char *done_set, uint64_t *ret_done,
                           uint64_t *ret_missing, Error *error)
{
        int64_t done = 0, missing = 0;
        int r = 0;

        if (ret_done)
                r = store_query_i64(s, error, &done,
                                    "SELECT count(*) FROM embeddings e JOIN images i ON i.md5 = e.md5"
                                    " WHERE i.state = 'ok' AND e.backbone = ? AND e.feature_set = ?",
                                    "tt", backbone, done_set);
        if (r >= 0 && ret_missing)
                r = store_query_i64(s, error, &missing,
                                    "SELECT count(*) FROM images i WHERE i.state = 'ok' AND NOT EXISTS ("
                                    " SELECT 1 FROM embeddings e WHERE e.backbone = ? AND e.md5 = i.md5"
                                    "  AND e.feature_set IN (?, '" STORE_EMBEDDING_FAILED "'))",
                                    "tt", backbone, done_set);
        if (r < 0)
                return r;
        if (ret_done)
                *ret_done = (uint64_t)done;
        if (ret_missing)
                *ret_missing = (uint64_t)missing;
        return 0;
}

int store_embedding_failed(Store *s, const char *backbone, const char *md5, int errno_failed, Error *error)
{
        float e = (float)errno_failed;
        return store_embedding_put(s, backbone, STORE_EMBEDDING_FAILED, md5, &e, 1, error);
}
