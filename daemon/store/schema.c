/* SPDX-License-Identifier: MIT */
/* The schema, one migration per version. A migration is never edited once
 * released: a change is a new migration, so every older file can be brought
 * forward step by step. */

#include "schema.h"

static const char migration_1[] =
        /* Everything sync needs: posts and their tags, labels with their
         * sources, skipped posts, image records, the blacklist, sync state. */
        "CREATE TABLE posts ("
        "  id INTEGER PRIMARY KEY CHECK (id > 0),"
        "  md5 TEXT CHECK (md5 IS NULL OR (length(md5) = 32 AND md5 NOT GLOB '*[^0-9a-f]*')),"
        "  ext TEXT, rating TEXT, created_at INTEGER,"
        "  width INTEGER, height INTEGER, file_size INTEGER,"
        "  file_url TEXT, sample_url TEXT, sample_width INTEGER, sample_height INTEGER, preview_url TEXT,"
        "  image_url TEXT,"
        "  score_up INTEGER, score_down INTEGER, score_total INTEGER, fav_count INTEGER,"
        "  deleted INTEGER NOT NULL DEFAULT 0, pending INTEGER NOT NULL DEFAULT 0,"
        "  flagged INTEGER NOT NULL DEFAULT 0,"
        "  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
        "CREATE INDEX posts_md5 ON posts(md5);"
        "CREATE TABLE tags ("
        "  id INTEGER PRIMARY KEY,"
        "  name TEXT NOT NULL UNIQUE,"
        "  category TEXT NOT NULL);"
        "CREATE TABLE post_tags ("
        "  post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,"
        "  tag_id INTEGER NOT NULL REFERENCES tags(id),"
        "  PRIMARY KEY (post_id, tag_id)) WITHOUT ROWID;"
        "CREATE INDEX post_tags_tag ON post_tags(tag_id);"
        "CREATE TABLE labels ("
        "  post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,"
        "  source TEXT NOT NULL CHECK (source IN ('favourite', 'upvote', 'downvote', 'app')),"
        "  value INTEGER NOT NULL CHECK (value BETWEEN -1 AND 1),"
        "  generation INTEGER NOT NULL DEFAULT 0,"
        "  set_at INTEGER NOT NULL,"
        "  PRIMARY KEY (post_id, source)) WITHOUT ROWID;"
        "CREATE INDEX labels_source ON labels(source, generation);"
        "CREATE TABLE skipped ("
        "  post_id INTEGER PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,"
        "  reason TEXT NOT NULL,"
        "  since INTEGER NOT NULL);"
        "CREATE TABLE images ("
        "  md5 TEXT PRIMARY KEY CHECK (length(md5) = 32 AND md5 NOT GLOB '*[^0-9a-f]*'),"
        "  post_id INTEGER REFERENCES posts(id) ON DELETE SET NULL,"
        "  state TEXT NOT NULL CHECK (state IN ('ok', 'failed')),"
        "  reason TEXT,"
        "  transient INTEGER NOT NULL DEFAULT 0,"
        "  size INTEGER,"
        "  attempts INTEGER NOT NULL DEFAULT 0,"
        "  generation INTEGER NOT NULL DEFAULT 0,"
        "  updated_at INTEGER NOT NULL);"
        "CREATE TABLE blacklist ("
        "  position INTEGER PRIMARY KEY,"
        "  rule TEXT NOT NULL);"
        "CREATE TABLE sync_state ("
        "  key TEXT PRIMARY KEY,"
        "  value TEXT NOT NULL);"
        /* The effective label of each labelled post: an app label decides;
         * otherwise the site sources, a conflict when they disagree. */
        "CREATE VIEW post_labels AS"
        "  SELECT post_id,"
        "    CASE WHEN has_app THEN app_value"
        "         WHEN pos AND NOT neg THEN 1"
        "         WHEN neg AND NOT pos THEN -1"
        "         ELSE 0 END AS value,"
        "    (NOT has_app AND pos AND neg) AS conflict"
        "  FROM (SELECT post_id,"
        "          MAX(source = 'app') AS has_app,"
        "          MAX(CASE WHEN source = 'app' THEN value END) AS app_value,"
        "          MAX(source <> 'app' AND value > 0) AS pos,"
        "          MAX(source <> 'app' AND value < 0) AS neg"
        "        FROM labels GROUP BY post_id);"
        "CREATE VIEW dataset AS"
        "  SELECT l.post_id, l.value AS label FROM post_labels l"
        "  WHERE l.value <> 0 AND NOT EXISTS (SELECT 1 FROM skipped k WHERE k.post_id = l.post_id);"
        "CREATE VIEW conflicts AS"
        "  SELECT post_id FROM post_labels WHERE conflict;";

static const char migration_2[] =
        /* What the model and the desktop side need: the vote outbox,
         * prediction runs, watches and cached embeddings. */
        "CREATE TABLE vote_outbox ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  post_id INTEGER NOT NULL REFERENCES posts(id),"
        "  score INTEGER NOT NULL CHECK (score BETWEEN -1 AND 1),"
        "  favourite INTEGER NOT NULL CHECK (favourite BETWEEN -1 AND 1),"
        "  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),"
        "  attempts INTEGER NOT NULL DEFAULT 0,"
        "  next_try INTEGER NOT NULL,"
        "  last_error TEXT,"
        "  created_at INTEGER NOT NULL,"
        "  sent_at INTEGER);"
        "CREATE INDEX vote_outbox_due ON vote_outbox(state, next_try);"
        "CREATE INDEX vote_outbox_post ON vote_outbox(post_id);"
        "CREATE TABLE prediction_runs ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  tags TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL);"
        "CREATE TABLE prediction_posts ("
        "  run_id INTEGER NOT NULL REFERENCES prediction_runs(id) ON DELETE CASCADE,"
        "  post_id INTEGER NOT NULL REFERENCES posts(id),"
        "  rank INTEGER NOT NULL,"
        "  score REAL NOT NULL,"
        "  label INTEGER NOT NULL,"
        "  top_tags TEXT,"
        "  image_path TEXT,"
        "  PRIMARY KEY (run_id, post_id));"
        "CREATE TABLE watches ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  tags TEXT NOT NULL,"
        "  threshold REAL NOT NULL CHECK (threshold >= 0 AND threshold <= 1),"
        "  max_per_run INTEGER NOT NULL,"
        "  last_seen_id INTEGER NOT NULL DEFAULT 0,"
        "  created_at INTEGER NOT NULL,"
        "  last_run_at INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE embeddings ("
        "  backbone TEXT NOT NULL,"
        "  feature_set TEXT NOT NULL,"
        "  md5 TEXT NOT NULL,"
        "  dim INTEGER NOT NULL,"
        "  data BLOB NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  UNIQUE (backbone, feature_set, md5));";

static const char migration_3[] =
        /* Watched searches keep their hits as prediction runs of their own
         * (watch_id NULL: a manual Predict), so a vote from a notification
         * finds the post's row. No foreign key: a removed watch's runs stay
         * until pruned by age, as the notifications that showed them may. */
        "ALTER TABLE prediction_runs ADD COLUMN watch_id INTEGER;"
        "CREATE INDEX prediction_runs_watch ON prediction_runs(watch_id, id);"
        "CREATE INDEX prediction_posts_post ON prediction_posts(post_id);";

static const char migration_4[] =
        /* The model history: one row per trained model file (models/history/
         * <id>.safetensors); exactly one is installed. Each keeps the dataset
         * it was trained on (post, label), so "how many labels changed since
         * the installed model" is exact: new, flipped and removed labels.
         * The feedback record: every post a watch announced or Predict showed,
         * with the score it was shown with; its outcome is the post's label,
         * read through post_labels, so a vote here or on the site counts. */
        "CREATE TABLE models ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  created_at INTEGER NOT NULL,"
        "  state TEXT NOT NULL CHECK (state IN ('installed', 'previous', 'aside')),"
        "  installed_at INTEGER,"
        "  reason TEXT,"
        "  trigger TEXT NOT NULL,"
        "  towers TEXT NOT NULL,"
        "  backbone TEXT,"
        "  n_labels INTEGER NOT NULL, n_pos INTEGER NOT NULL, n_neg INTEGER NOT NULL,"
        "  auc REAL,"
        "  info TEXT NOT NULL);"
        "CREATE UNIQUE INDEX models_installed ON models(state) WHERE state = 'installed';"
        "CREATE TABLE model_labels ("
        "  model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,"
        "  post_id INTEGER NOT NULL,"
        "  label INTEGER NOT NULL CHECK (label IN (-1, 1)),"
        "  PRIMARY KEY (model_id, post_id)) WITHOUT ROWID;"
        "CREATE TABLE announcements ("
        "  post_id INTEGER PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,"
        "  source TEXT NOT NULL CHECK (source IN ('watch', 'predict')),"
        "  run_id INTEGER,"
        "  score REAL NOT NULL,"
        "  label INTEGER NOT NULL CHECK (label IN (-1, 1)),"
        "  model_id INTEGER,"
        "  announced_at INTEGER NOT NULL);"
        "CREATE INDEX announcements_at ON announcements(announced_at);";

static const char migration_5[] =
        /* Each prediction's explanation: the parts its logit is made of
         * (bias + image + tags) and the tags that pushed it most each way.
         * NULL for rows scored before. */
        "ALTER TABLE prediction_posts ADD COLUMN logit REAL;"
        "ALTER TABLE prediction_posts ADD COLUMN bias REAL;"
        "ALTER TABLE prediction_posts ADD COLUMN image REAL;"
        "ALTER TABLE prediction_posts ADD COLUMN tags REAL;"
        "ALTER TABLE prediction_posts ADD COLUMN calibration TEXT;"
        "ALTER TABLE prediction_posts ADD COLUMN tags_up TEXT;"
        "ALTER TABLE prediction_posts ADD COLUMN tags_down TEXT;";

const char *const store_migrations[] = {
        NULL, /* version 0: an empty file */
        migration_1, migration_2, migration_3, migration_4, migration_5,
};

_Static_assert(sizeof(store_migrations) / sizeof(store_migrations[0]) == STORE_SCHEMA_VERSION + 1,
               "one migration per schema version");
