/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <sys/stat.h>

#include "schema.h"
#include "store-internal.h"
#include "fluff/text.h"

Store *store_free(Store *s)
{
        if (!s)
                return NULL;
        store_cache_clear(s);
        if (s->db) {
                if (s->in_batch)
                        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                (void)sqlite3_close_v2(s->db);
        }
        free(s->path);
        free(s);
        return NULL;
}

const char *store_path(Store *s)
{
        return s->path;
}

int store_default_path(char **ret)
{
        return xdg_fluff_dir("DATA", "fluff.db", ret);
}

static int open_error(Error *error, int r, const char *path, const char *what)
{
        /* the first message set is kept: what names the cause */
        return error_setf(error, r, "Cannot open the database \"%s\": %s", path, what);
}

static int migrate(Store *s, Error *error, unsigned from, unsigned to)
{
        for (unsigned v = from + 1; v <= to; v++) {
                Error step = {};
                char pragma[64];
                int r;

                /* each step in its own transaction: a crash leaves the file at
                 * the last whole version, never half migrated */
                r = store_exec(s, error, "BEGIN IMMEDIATE");
                if (r < 0)
                        return r;
                r = store_exec(s, &step, store_migrations[v]);
                if (r >= 0) {
                        (void)snprintf(pragma, sizeof pragma, "PRAGMA user_version = %u", v);
                        r = store_exec(s, &step, pragma);
                }
                if (r >= 0)
                        r = store_exec(s, &step, "COMMIT");
                if (r < 0) {
                        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                        /* cut on a character boundary: the message names the database too */
                        const char *m = error_message(&step, r);
                        return error_setf(error, r, "migration to version %u failed: %.*s", v,
                                          (int)utf8_prefix_len(m, 440), m);
                }
                log_debug("store: migrated \"%s\" to schema version %u", s->path, v);
        }
        return 0;
}

int store_open_version(const char *path, unsigned version, Store **ret, Error *error)
{
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_free_ char *dir = NULL;
        Error e = {}; /* the step's message, quoted after the path */
        int64_t have = 0;
        int r, rc;

        if (isempty(path) || version > STORE_SCHEMA_VERSION)
                return -EINVAL;

        dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                r = mkdir_parents(dir, 0700);
                if (r < 0)
                        return open_error(error, r, path, strerror(-r));
        }

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->path = strdup(path);
        if (!s->path)
                return -ENOMEM;
        rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
        if (rc != SQLITE_OK) {
                r = store_sql_error(s, NULL, rc, "open");
                return open_error(error, r, path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        }
        (void)sqlite3_extended_result_codes(s->db, 1);
        (void)sqlite3_busy_timeout(s->db, 5000);

        /* Read before writing anything: a file that is not SQLite, or from a
         * newer Fluff, must be left exactly as it is. */
        r = store_query_i64(s, &e, &have, "PRAGMA user_version", NULL);
        if (r >= 0)
                r = store_exec(s, &e, "SELECT count(*) FROM sqlite_master");
        if (r == -EBADMSG)
                return open_error(error, r, path, "it is not a SQLite database, or it is corrupt");
        if (r < 0)
                return open_error(error, r, path, e.message);
        if (have < 0 || have > STORE_SCHEMA_VERSION) {
                char what[160];
                (void)snprintf(what, sizeof what,
                               "it was written by a newer Fluff (schema version %" PRId64
                               ", this one knows up to %d); it was left untouched",
                               have, STORE_SCHEMA_VERSION);
                return open_error(error, -EPROTONOSUPPORT, path, what);
        }

        r = store_exec(s, &e, "PRAGMA journal_mode = WAL");
        if (r >= 0)
                /* WAL + NORMAL: a crash of the process loses nothing committed */
                r = store_exec(s, &e, "PRAGMA synchronous = NORMAL");
        if (r >= 0)
                r = store_exec(s, &e, "PRAGMA foreign_keys = ON");
        if (r >= 0 && (unsigned)have < version)
                r = migrate(s, &e, (unsigned)have, version);
        if (r < 0)
                return open_error(error, r, path, e.message);
        (void)chmod(path, 0600);

        *ret = TAKE_PTR(s);
        return 0;
}

int store_open(const char *path, Store **ret, Error *error)
{
        return store_open_version(path, STORE_SCHEMA_VERSION, ret, error);
}

int store_begin(Store *s, Error *error)
{
        if (s->in_batch)
                return error_setf(error, -EBUSY, "A batch is already open");
        int r = store_exec(s, error, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        s->in_batch = true;
        return 0;
}

int store_commit(Store *s, Error *error)
{
        if (!s->in_batch)
                return error_setf(error, -EINVAL, "No batch is open");
        int r = store_exec(s, error, "COMMIT");
        if (r < 0)
                return r;
        s->in_batch = false;
        return 0;
}

int store_rollback(Store *s, Error *error)
{
        if (!s->in_batch)
                return 0;
        s->in_batch = false;
        int rc = sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        /* SQLite may have rolled back by itself after a disk-full error */
        if (rc != SQLITE_OK && sqlite3_get_autocommit(s->db) == 0)
                return store_sql_error(s, error, rc, "Failed to roll back");
        return 0;
}

int store_check_integrity(Store *s, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_prepare(s, error, "PRAGMA integrity_check", &st);
        if (r < 0)
                return r;
        r = store_step(s, error, st);
        if (r < 0)
                return r;
        const char *t = r > 0 ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (!t || !streq(t, "ok")) {
                char line[ERROR_MESSAGE_MAX];
                (void)snprintf(line, sizeof line, "%s", t ? t : "no answer");
                for (char *c = line; *c; c++) /* one line, for logs and D-Bus errors */
                        if (*c == '\n')
                                *c = ' ';
                return error_setf(error, -EBADMSG, "integrity check: %s", line);
        }
        _cleanup_stmt_ sqlite3_stmt *fk = NULL;
        r = store_prepare(s, error, "PRAGMA foreign_key_check", &fk);
        if (r < 0)
                return r;
        r = store_step(s, error, fk);
        if (r < 0)
                return r;
        if (r > 0)
                return error_setf(error, -EBADMSG, "integrity check: a row of \"%s\" points nowhere",
                                  (const char *)sqlite3_column_text(fk, 0));
        return 0;
}

/* ---- key/value state ---- */

int store_state_get(Store *s, const char *key, char **ret_value, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        if (isempty(key))
                return -EINVAL;
        r = store_query(s, error, &st, "SELECT value FROM sync_state WHERE key = ?", "t", key);
        if (r >= 0)
                r = store_step(s, error, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        char *v = store_column_strdup(st, 0);
        if (!v)
                return -ENOMEM;
        *ret_value = v;
        return 0;
}

int store_state_get_u64(Store *s, const char *key, uint64_t *ret_value, Error *error)
{
        _cleanup_free_ char *v = NULL;
        uint64_t u;
        int r = store_state_get(s, key, &v, error);
        if (r < 0)
                return r;
        r = safe_atou64(v, &u);
        if (r < 0)
                return error_setf(error, r, "state \"%s\" is not a number", key);
        *ret_value = u;
        return 0;
}

int store_state_set(Store *s, const char *key, const char *value, Error *error)
{
        int r;
        if (isempty(key))
                return -EINVAL;
        if (value)
                r = store_run(s, error,
                              "INSERT INTO sync_state (key, value) VALUES (?, ?)"
                              " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                              "tt", key, value);
        else
                r = store_run(s, error, "DELETE FROM sync_state WHERE key = ?", "t", key);
        return r < 0 ? r : 0;
}

int store_state_set_u64(Store *s, const char *key, uint64_t value, Error *error)
{
        char buf[32];
        (void)snprintf(buf, sizeof buf, "%" PRIu64, value);
        return store_state_set(s, key, buf, error);
}

/* ---- sync generations ---- */

#define STATE_GENERATION "sync.generation"
#define STATE_OPEN "sync.open_generation"
#define STATE_STARTED "sync.started_usec"

int store_sync_begin(Store *s, uint64_t *ret_generation, Error *error)
{
        uint64_t gen = 0;
        int r;

        r = store_state_get_u64(s, STATE_OPEN, &gen, error);
        if (r >= 0) {
                /* A resumed sync is a new attempt: transient image failures of
                 * the run that stopped are due again, not only at the next
                 * generation. */
                r = store_run(s, error,
                              "UPDATE images SET generation = ? WHERE state = 'failed' AND transient"
                              " AND generation >= ?",
                              "uu", gen - 1, gen);
                if (r < 0)
                        return r;
                *ret_generation = gen;
                return 0;
        }
        if (r != -ENOENT)
                return r;
        r = store_state_get_u64(s, STATE_GENERATION, &gen, error);
        if (r < 0 && r != -ENOENT)
                return r;
        gen++;
        r = store_savepoint(s, error);
        if (r < 0)
                return r;
        r = store_state_set_u64(s, STATE_GENERATION, gen, error);
        if (r >= 0)
                r = store_state_set_u64(s, STATE_OPEN, gen, error);
        if (r >= 0)
                r = store_state_set_u64(s, STATE_STARTED, store_now(), error);
        r = store_savepoint_end(s, error, r);
        if (r < 0)
                return r;
        *ret_generation = gen;
        return 0;
}

int store_sync_end(Store *s, uint64_t generation, bool complete, Error *error)
{
        uint64_t open = 0, started = 0;
        int r;

        r = store_state_get_u64(s, STATE_OPEN, &open, error);
        if (r == -ENOENT || (r >= 0 && open != generation))
                return error_setf(error, -ESTALE, "sync generation %" PRIu64 " is not open", generation);
        if (r < 0)
                return r;
        if (!complete)
                return 0;
        r = store_state_get_u64(s, STATE_STARTED, &started, error);
        if (r < 0 && r != -ENOENT)
                return r;

        r = store_savepoint(s, error);
        if (r < 0)
                return r;
        /* The site's lists, walked in full after the vote reached the site,
         * now say the same as the app label: let them speak from now on, so
         * a later change made on the site is followed. */
        r = store_run(s, error,
                      "DELETE FROM labels WHERE source = 'app' AND post_id IN ("
                      "  SELECT o.post_id FROM vote_outbox o"
                      "  WHERE o.id = (SELECT MAX(id) FROM vote_outbox WHERE post_id = o.post_id)"
                      "    AND o.state = 'sent' AND o.sent_at < ?)",
                      "u", started);
        if (r >= 0)
                r = store_state_set(s, STATE_OPEN, NULL, error);
        return store_savepoint_end(s, error, r < 0 ? r : 0);
}

int store_sync_close(Store *s, uint64_t generation, Error *error)
{
        uint64_t open = 0;
        int r = store_state_get_u64(s, STATE_OPEN, &open, error);
        if (r == -ENOENT || (r >= 0 && open != generation))
                return error_setf(error, -ESTALE, "sync generation %" PRIu64 " is not open", generation);
        if (r < 0)
                return r;
        return store_state_set(s, STATE_OPEN, NULL, error);
}
