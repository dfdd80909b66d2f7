/* SPDX-License-Identifier: MIT */
/* Posts, their tags, skip reasons and labels. */
#include "store-internal.h"

static const char *const skip_reason_table[_SKIP_REASON_MAX] = {
        [SKIP_NONE] = "none",         [SKIP_DELETED] = "deleted",         [SKIP_NO_URL] = "no-url",
        [SKIP_ANIMATED] = "animated", [SKIP_UNSUPPORTED] = "unsupported", [SKIP_TOO_LARGE] = "too-large",
};

const char *skip_reason_to_string(SkipReason r)
{
        return r >= 0 && r < _SKIP_REASON_MAX ? skip_reason_table[r] : NULL;
}

SkipReason skip_reason_from_string(const char *s)
{
        for (int i = 0; s && i < _SKIP_REASON_MAX; i++)
                if (streq(s, skip_reason_table[i]))
                        return i;
        return _SKIP_REASON_INVALID;
}

static const char *const label_source_table[_LABEL_SOURCE_MAX] = {
        [LABEL_SOURCE_FAVOURITE] = "favourite",
        [LABEL_SOURCE_UPVOTE] = "upvote",
        [LABEL_SOURCE_DOWNVOTE] = "downvote",
        [LABEL_SOURCE_APP] = "app",
};

const char *label_source_to_string(LabelSource s)
{
        return s >= 0 && s < _LABEL_SOURCE_MAX ? label_source_table[s] : NULL;
}

LabelSource label_source_from_string(const char *s)
{
        for (int i = 0; s && i < _LABEL_SOURCE_MAX; i++)
                if (streq(s, label_source_table[i]))
                        return i;
        return _LABEL_SOURCE_INVALID;
}

static bool valid_rating(char r)
{
        return r == 's' || r == 'q' || r == 'e';
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* The tag's id, stored (or its category corrected) first when needed. */
static int tag_id(Store *s, Error *error, const PostTag *t, uint64_t *ret)
{
        const char *category = isempty(t->category) ? "general" : t->category;
        _cleanup_reset_ sqlite3_stmt *get = NULL;
        int r;

        r = store_prepare_cached(s, error, "SELECT id, category FROM tags WHERE name = ?", &get);
        if (r >= 0)
                r = store_bind(s, error, get, "t", t->name);
        if (r >= 0)
                r = store_step(s, error, get);
        if (r < 0)
                return r;
        if (r > 0 && streq((const char *)sqlite3_column_text(get, 1), category)) {
                *ret = (uint64_t)sqlite3_column_int64(get, 0);
                return 0;
        }
        sqlite3_resetp(&get);
        r = store_run(s, error,
                      "INSERT INTO tags (name, category) VALUES (?, ?)"
                      " ON CONFLICT (name) DO UPDATE SET category = excluded.category",
                      "tt", t->name, category);
        if (r >= 0)
                r = store_bind(s, error, get, "t", t->name);
        if (r >= 0)
                r = store_step(s, error, get);
        if (r == 0)
                r = error_setf(error, -EIO, "tag vanished while being stored");
        if (r < 0)
                return r;
        *ret = (uint64_t)sqlite3_column_int64(get, 0);
        return 0;
}

/* Links the post to exactly its tags. Most posts come back unchanged from
 * a sync, so only the difference is written: a rewrite of every link made
 * two thirds of a sync's time on the loop at 100,000 posts. */
static int upsert_tags(Store *s, Error *error, const Post *p)
{
        _cleanup_free_ uint64_t *want = NULL, *have = NULL;
        _cleanup_reset_ sqlite3_stmt *links = NULL;
        size_t n_want = 0, n_have = 0, i = 0, j = 0;
        int r;

        want = malloc(MAX(p->n_tags, (size_t)1) * sizeof(uint64_t));
        if (!want)
                return -ENOMEM;
        for (size_t k = 0; k < p->n_tags; k++) {
                if (isempty(p->tags[k].name))
                        continue;
                r = tag_id(s, error, &p->tags[k], &want[n_want]);
                if (r < 0)
                        return r;
                n_want++;
        }
        qsort(want, n_want, sizeof(uint64_t), cmp_u64);

        r = store_prepare_cached(s, error, "SELECT tag_id FROM post_tags WHERE post_id = ? ORDER BY tag_id",
                                 &links);
        if (r >= 0)
                r = store_bind(s, error, links, "u", p->id);
        if (r >= 0)
                r = store_step_ids(s, error, links, &have, &n_have);
        if (r < 0)
                return r;
        sqlite3_resetp(&links);

        while (i < n_want || j < n_have) {
                if (i < n_want && i > 0 && want[i] == want[i - 1]) {
                        i++; /* a tag named twice */
                        continue;
                }
                if (j < n_have && (i >= n_want || have[j] < want[i]))
                        r = store_run(s, error, "DELETE FROM post_tags WHERE post_id = ? AND tag_id = ?",
                                      "uu", p->id, have[j++]);
                else if (i < n_want && (j >= n_have || want[i] < have[j]))
                        r = store_run(s, error, "INSERT INTO post_tags (post_id, tag_id) VALUES (?, ?)",
                                      "uu", p->id, want[i++]);
                else {
                        i++; /* linked already */
                        j++;
                        continue;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int store_post_upsert(Store *s, const Post *p, Error *error)
{
        uint64_t now = store_now();
        char rating[2] = {p ? p->rating : 0, 0};
        int r;

        if (!p || p->id == 0 || p->id > INT64_MAX)
                return error_setf(error, -EINVAL, "a post needs an id");
        /* the md5 becomes a file name later: only well-formed ones are kept */
        if (p->md5 && !is_hex_digest(p->md5, 32))
                return error_setf(error, -EINVAL, "post %" PRIu64 " has a malformed md5", p->id);

        r = store_savepoint(s, error);
        if (r < 0)
                return r;
        r = store_run(
                s, error,
                "INSERT INTO posts (id, md5, ext, rating, created_at, width, height, file_size,"
                "  file_url, sample_url, sample_width, sample_height, preview_url, image_url,"
                "  score_up, score_down, score_total, fav_count, deleted, pending, flagged,"
                "  first_seen, last_seen)"
                " VALUES (?,?,?,?,?,?,?,?, ?,?,?,?,?,?, ?,?,?,?,?,?,?, ?,?)"
                " ON CONFLICT (id) DO UPDATE SET md5 = excluded.md5, ext = excluded.ext,"
                "  rating = excluded.rating, created_at = excluded.created_at, width = excluded.width,"
                "  height = excluded.height, file_size = excluded.file_size, file_url = excluded.file_url,"
                "  sample_url = excluded.sample_url, sample_width = excluded.sample_width,"
                "  sample_height = excluded.sample_height, preview_url = excluded.preview_url,"
                "  image_url = excluded.image_url, score_up = excluded.score_up,"
                "  score_down = excluded.score_down, score_total = excluded.score_total,"
                "  fav_count = excluded.fav_count, deleted = excluded.deleted,"
                "  pending = excluded.pending, flagged = excluded.flagged, last_seen = excluded.last_seen",
                "uttti"
                "iii"
                "ttiitt"
                "iiiiiii"
                "uu",
                p->id, p->md5, p->ext, valid_rating(p->rating) ? rating : NULL, p->created_at,
                (int64_t)p->width, (int64_t)p->height, (int64_t)p->file_size, p->file_url, p->sample_url,
                (int64_t)p->sample_width, (int64_t)p->sample_height, p->preview_url, post_image_url(p),
                (int64_t)p->score_up, (int64_t)p->score_down, (int64_t)p->score_total, (int64_t)p->fav_count,
                (int64_t)p->deleted, (int64_t)p->pending, (int64_t)p->flagged, now, now);
        if (r >= 0)
                r = upsert_tags(s, error, p);
        return store_savepoint_end(s, error, r < 0 ? r : 0);
}

bool store_post_exists(Store *s, uint64_t post_id)
{
        int64_t one;
        return store_query_i64(s, NULL, &one, "SELECT 1 FROM posts WHERE id = ?", "u", post_id) >= 0;
}

static int dup_column(sqlite3_stmt *st, int col, char **ret)
{
        if (sqlite3_column_type(st, col) == SQLITE_NULL)
                return 0;
        *ret = store_column_strdup(st, col);
        return *ret ? 0 : -ENOMEM;
}

int store_post_get(Store *s, uint64_t post_id, Post **ret, Error *error)
{
        _cleanup_reset_ sqlite3_stmt *st = NULL, *tags = NULL;
        _cleanup_post_free_ Post *p = NULL;
        int r;

        r = store_query_cached(s, error, &st,
                               "SELECT id, md5, ext, rating, created_at, width, height, file_size, file_url,"
                               " sample_url, sample_width, sample_height, preview_url, score_up, score_down,"
                               " score_total, fav_count, deleted, pending, flagged FROM posts WHERE id = ?",
                               "u", post_id);
        if (r >= 0)
                r = store_step(s, error, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->id = (uint64_t)sqlite3_column_int64(st, 0);
        if (dup_column(st, 1, &p->md5) < 0 || dup_column(st, 2, &p->ext) < 0 ||
            dup_column(st, 8, &p->file_url) < 0 || dup_column(st, 9, &p->sample_url) < 0 ||
            dup_column(st, 12, &p->preview_url) < 0)
                return -ENOMEM;
        const unsigned char *rating = sqlite3_column_text(st, 3);
        p->rating = rating ? (char)rating[0] : 0;
        p->created_at = sqlite3_column_int64(st, 4);
        p->width = (unsigned)sqlite3_column_int64(st, 5);
        p->height = (unsigned)sqlite3_column_int64(st, 6);
        p->file_size = (uint64_t)sqlite3_column_int64(st, 7);
        p->sample_width = (unsigned)sqlite3_column_int64(st, 10);
        p->sample_height = (unsigned)sqlite3_column_int64(st, 11);
        p->score_up = sqlite3_column_int(st, 13);
        p->score_down = sqlite3_column_int(st, 14);
        p->score_total = sqlite3_column_int(st, 15);
        p->fav_count = (unsigned)sqlite3_column_int64(st, 16);
        p->deleted = sqlite3_column_int(st, 17);
        p->pending = sqlite3_column_int(st, 18);
        p->flagged = sqlite3_column_int(st, 19);

        r = store_query_cached(s, error, &tags,
                               "SELECT t.name, t.category FROM post_tags pt JOIN tags t ON t.id = pt.tag_id"
                               " WHERE pt.post_id = ? ORDER BY t.category, t.name",
                               "u", post_id);
        if (r < 0)
                return r;
        while ((r = store_step(s, error, tags)) > 0) {
                r = post_add_tag(p, (const char *)sqlite3_column_text(tags, 0),
                                 (const char *)sqlite3_column_text(tags, 1));
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

int store_post_set_skip(Store *s, uint64_t post_id, SkipReason reason, Error *error)
{
        Error e = {};
        int r;

        if (reason < 0 || reason >= _SKIP_REASON_MAX)
                return -EINVAL;
        if (reason == SKIP_NONE)
                r = store_run(s, &e, "DELETE FROM skipped WHERE post_id = ?", "u", post_id);
        else
                r = store_run(
                        s, &e,
                        "INSERT INTO skipped (post_id, reason, since) VALUES (?, ?, ?)"
                        " ON CONFLICT (post_id) DO UPDATE SET reason = excluded.reason,"
                        "  since = CASE WHEN reason = excluded.reason THEN since ELSE excluded.since END",
                        "utu", post_id, skip_reason_to_string(reason), store_now());
        r = store_post_missing(s, error, r, &e, post_id);
        return r < 0 ? r : 0;
}

/* ---- labels ---- */

static int source_value(LabelSource src)
{
        return src == LABEL_SOURCE_DOWNVOTE ? -1 : 1;
}

int store_label_seen(Store *s, uint64_t post_id, LabelSource source, uint64_t generation, Error *error)
{
        Error e = {};
        if (source < 0 || source >= _LABEL_SOURCE_MAX || source == LABEL_SOURCE_APP || generation == 0)
                return error_setf(error, -EINVAL, "not a site label source or generation");
        int r = store_run(
                s, &e,
                "INSERT INTO labels (post_id, source, value, generation, set_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (post_id, source) DO UPDATE SET generation = excluded.generation",
                "utiuu", post_id, label_source_to_string(source), (int64_t)source_value(source), generation,
                store_now());
        r = store_post_missing(s, error, r, &e, post_id);
        return r < 0 ? r : 0;
}

bool store_label_known(Store *s, uint64_t post_id, LabelSource source)
{
        int64_t v;
        if (source < 0 || source >= _LABEL_SOURCE_MAX)
                return false;
        return store_query_i64(s, NULL, &v, "SELECT 1 FROM labels WHERE post_id = ? AND source = ?", "ut",
                               post_id, label_source_to_string(source)) >= 0;
}

int store_labels_drop_unseen(Store *s, LabelSource source, uint64_t generation, Error *error)
{
        if (source < 0 || source >= _LABEL_SOURCE_MAX || source == LABEL_SOURCE_APP || generation == 0)
                return error_setf(error, -EINVAL, "not a site label source or generation");
        return store_run(s, error, "DELETE FROM labels WHERE source = ? AND generation < ?", "tu",
                         label_source_to_string(source), generation);
}

int store_label_set_app(Store *s, uint64_t post_id, int value, Error *error)
{
        Error e = {};
        if (value < -1 || value > 1)
                return error_setf(error, -EINVAL, "a vote is +1, -1 or 0");
        int r = store_run(
                s, &e,
                "INSERT INTO labels (post_id, source, value, generation, set_at) VALUES (?, 'app', ?, 0, ?)"
                " ON CONFLICT (post_id, source) DO UPDATE SET value = excluded.value,"
                "  set_at = excluded.set_at",
                "uiu", post_id, (int64_t)value, store_now());
        r = store_post_missing(s, error, r, &e, post_id);
        return r < 0 ? r : 0;
}

int store_post_label(Store *s, uint64_t post_id, int *ret_value, bool *ret_conflict, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_query(s, error, &st, "SELECT value, conflict FROM post_labels WHERE post_id = ?", "u",
                            post_id);
        if (r >= 0)
                r = store_step(s, error, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        *ret_value = sqlite3_column_int(st, 0);
        if (ret_conflict)
                *ret_conflict = sqlite3_column_int(st, 1);
        return 0;
}

int store_post_label_sources(Store *s, uint64_t post_id, unsigned *ret_mask, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        unsigned mask = 0;
        int r = store_query(s, error, &st, "SELECT source FROM labels WHERE post_id = ?", "u", post_id);
        if (r < 0)
                return r;
        while ((r = store_step(s, error, st)) > 0) {
                LabelSource src = label_source_from_string((const char *)sqlite3_column_text(st, 0));
                if (src >= 0)
                        mask |= 1u << src;
        }
        if (r < 0)
                return r;
        *ret_mask = mask;
        return 0;
}

int store_dataset_list(Store *s, StoreLabelled **ret, size_t *ret_n, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ StoreLabelled *a = NULL;
        size_t n = 0, cap = 0;
        int r;

        r = store_prepare(s, error,
                          "SELECT d.post_id, p.md5, d.label, i.state = 'ok' FROM dataset d"
                          " JOIN posts p ON p.id = d.post_id LEFT JOIN images i ON i.md5 = p.md5"
                          " ORDER BY d.post_id",
                          &st);
        if (r < 0)
                return r;
        while ((r = store_step(s, error, st)) > 0) {
                if (STORE_ROWS_GROW(a, n, cap, 256) < 0)
                        return -ENOMEM;
                StoreLabelled *l = &a[n++];
                *l = (StoreLabelled){.post_id = (uint64_t)sqlite3_column_int64(st, 0),
                                     .label = sqlite3_column_int(st, 2),
                                     .has_image = sqlite3_column_int(st, 3) == 1};
                const unsigned char *md5 = sqlite3_column_text(st, 1);
                if (md5)
                        (void)snprintf(l->md5, sizeof l->md5, "%s", (const char *)md5);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        *ret_n = n;
        return 0;
}

static int count(Store *s, Error *error, uint64_t *ret, const char *sql)
{
        int64_t v = 0;
        int r = store_query_i64(s, error, &v, sql, NULL);
        if (r == -ENOENT)
                v = 0;
        else if (r < 0)
                return r;
        *ret = (uint64_t)v;
        return 0;
}

static int counts_read(Store *s, StoreCounts *ret, Error *error)
{
        StoreCounts c = {};
        _cleanup_stmt_ sqlite3_stmt *ls = NULL, *st = NULL, *ob = NULL;
        int r;

        if ((r = count(s, error, &c.posts, "SELECT count(*) FROM posts")) < 0)
                return r;

        /* One pass over the labels: fluffd counts after every batch of a
         * sync, and at 100,000 labelled posts seven passes (one per number)
         * took about a second of the loop's time. */
        r = store_prepare(
                s, error,
                "SELECT coalesce(sum(ds AND l.value > 0), 0), coalesce(sum(ds AND l.value < 0), 0),"
                "       coalesce(sum(l.conflict), 0), coalesce(sum(ds AND i.state = 'ok'), 0),"
                "       coalesce(sum(ds AND i.state = 'failed'), 0), coalesce(sum(ds AND i.md5 IS NULL), 0)"
                " FROM (SELECT l.post_id, l.value, l.conflict,"
                "              (l.value <> 0 AND NOT EXISTS (SELECT 1 FROM skipped k WHERE k.post_id = "
                "l.post_id))"
                "                AS ds"
                "       FROM post_labels l) l"
                " JOIN posts p ON p.id = l.post_id LEFT JOIN images i ON i.md5 = p.md5",
                &ls);
        if (r < 0)
                return r;
        r = store_step(s, error, ls);
        if (r < 0)
                return r;
        if (r > 0) {
                c.liked = (uint64_t)sqlite3_column_int64(ls, 0);
                c.disliked = (uint64_t)sqlite3_column_int64(ls, 1);
                c.conflicts = (uint64_t)sqlite3_column_int64(ls, 2);
                c.images_ok = (uint64_t)sqlite3_column_int64(ls, 3);
                c.images_failed = (uint64_t)sqlite3_column_int64(ls, 4);
                c.images_missing = (uint64_t)sqlite3_column_int64(ls, 5);
        }

        r = store_prepare(
                s, error,
                "SELECT reason, count(*) FROM skipped k"
                " WHERE EXISTS (SELECT 1 FROM labels l WHERE l.post_id = k.post_id) GROUP BY reason",
                &st);
        if (r < 0)
                return r;
        while ((r = store_step(s, error, st)) > 0) {
                SkipReason why = skip_reason_from_string((const char *)sqlite3_column_text(st, 0));
                uint64_t n = (uint64_t)sqlite3_column_int64(st, 1);
                if (why > SKIP_NONE)
                        c.skipped_by_reason[why] += n;
                c.skipped += n;
        }
        if (r < 0)
                return r;

        r = store_prepare(s, error, "SELECT state, count(*) FROM vote_outbox GROUP BY state", &ob);
        if (r < 0)
                return r;
        while ((r = store_step(s, error, ob)) > 0) {
                const char *state = (const char *)sqlite3_column_text(ob, 0);
                uint64_t n = (uint64_t)sqlite3_column_int64(ob, 1);
                if (streq(state, "pending"))
                        c.outbox_pending = n;
                else if (streq(state, "sent"))
                        c.outbox_sent = n;
                else if (streq(state, "failed"))
                        c.outbox_failed = n;
        }
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}

int store_counts(Store *s, StoreCounts *ret, Error *error)
{
        int r;

        /* One read transaction, so the numbers are of one moment: a writer
         * committing between two of the queries gave more labelled posts
         * than posts, and a count that changed twice for one change. */
        r = store_savepoint(s, error);
        if (r < 0)
                return r;
        r = counts_read(s, ret, error);
        return store_savepoint_end(s, error, r);
}
