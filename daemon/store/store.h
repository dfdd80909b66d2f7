/* SPDX-License-Identifier: MIT */
#pragma once

/* The dataset index: one SQLite file ($XDG_DATA_HOME/fluff/fluff.db), WAL mode,
 * foreign keys on, a versioned schema migrated on open.
 *
 * Threading: a Store belongs to one thread (fluffd's event loop). Worker
 * threads never touch it; they report results to the loop, which records them.
 *
 * Errors: every function returns 0 (or a count ≥ 0 where said) or a negative
 * errno. SQLite codes never leave this module: SQLITE_BUSY/LOCKED → -EBUSY,
 * SQLITE_FULL → -ENOSPC, SQLITE_CORRUPT/NOTADB → -EBADMSG, SQLITE_NOMEM →
 * -ENOMEM, SQLITE_CONSTRAINT → -EEXIST (unique) or -EINVAL, SQLITE_READONLY/
 * PERM → -EROFS/-EACCES, SQLITE_CANTOPEN → -ENOENT, others → -EIO. A call
 * about a post that is not in the store (a label, a skip, a vote, a
 * prediction row) gives -ENOENT.
 * Every call that can fail ends in an Error * (include/fluff/error.h; NULL
 * when the caller will not read it), which then says what went wrong in
 * words; the first message set is kept. Nothing here logs above debug
 * level: the caller decides.
 *
 * Labels: a post's label comes from its sources — favourite (+1), upvote (+1),
 * downvote (−1) seen on the site, and app (+1, −1 or 0) from Fluff's own Vote.
 * A post can hold several (favourite AND upvote). Its effective label:
 *   - an app label, when present, decides (0 = the user cleared it: unlabelled);
 *   - otherwise liked when some site source says +1 and none −1, disliked when
 *     only −1, and a CONFLICT when both: conflicts are left out of the dataset
 *     and counted.
 * An app label is dropped by store_sync_end(complete=true) once its outbox
 * entry was sent before that sync began: the site's lists then carry it.
 *
 * Sync generations: store_sync_begin() hands out a generation; every post met
 * while walking a list is marked with store_label_seen(). Only after a COMPLETE
 * walk of one list does store_labels_drop_unseen() remove that source's labels
 * not seen in the generation (a vote or favourite removed on the site loses its
 * label; a killed sync drops nothing). A sync killed midway is resumed with the
 * same generation by the next store_sync_begin().
 *
 * Batches: store_begin()/store_commit()/store_rollback() wrap e.g. one page of
 * posts; calls made outside a batch commit one by one. Batches do not nest. */

#include <stdbool.h>
#include <stdint.h>

#include "fluff/error.h"
#include "fluff/util.h"
#include "post.h"

#define STORE_SCHEMA_VERSION 5
/* Transient image failures are retried on later syncs, at most this often. */
#define STORE_IMAGE_MAX_ATTEMPTS 5

typedef struct Store Store;

/* ---- lifetime ---- */

/* Creates the folder of path (0700) when missing, opens or creates the
 * database and migrates it to STORE_SCHEMA_VERSION, each step in its own
 * transaction. A database from a NEWER fluff (user_version above ours) is left
 * untouched: -EPROTONOSUPPORT. A file that is not SQLite or is corrupt:
 * -EBADMSG. error (may be NULL) gets a sentence naming the path. */
int store_open(const char *path, Store **ret, Error *error);
Store *store_free(Store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_free);
#define _cleanup_store_free_ _cleanup_(store_freep)

/* "$XDG_DATA_HOME/fluff/fluff.db". */
int store_default_path(char **ret);
/* The file it was opened from: a second connection (another thread's) opens it too. */
const char *store_path(Store *s);

int store_begin(Store *s, Error *error);
int store_commit(Store *s, Error *error);
int store_rollback(Store *s, Error *error); /* 0 also when no batch is open */

/* "ok" from PRAGMA integrity_check → 0; otherwise -EBADMSG and error holds
 * the first problem. */
int store_check_integrity(Store *s, Error *error);

/* ---- key/value state (sync cursors, generations, model info, ...) ----
 * Keys starting with "sync." are the store's own (generations). */

/* -ENOENT when the key is unset. */
int store_state_get(Store *s, const char *key, char **ret_value, Error *error);
int store_state_get_u64(Store *s, const char *key, uint64_t *ret_value, Error *error);
int store_state_set(Store *s, const char *key, const char *value, Error *error); /* value NULL: unset */
int store_state_set_u64(Store *s, const char *key, uint64_t value, Error *error);

/* ---- posts ---- */

/* Inserts or updates the post's metadata and replaces its tags (tag categories
 * updated as the site reports them). first_seen is kept, last_seen set to now.
 * Idempotent. The image URL kept is post_image_url(p). */
int store_post_upsert(Store *s, const Post *p, Error *error);
/* The post with its tags, as stored; -ENOENT when unknown. */
int store_post_get(Store *s, uint64_t post_id, Post **ret, Error *error);
bool store_post_exists(Store *s, uint64_t post_id);

typedef enum SkipReason {
        SKIP_NONE,        /* not skipped (clears an earlier reason) */
        SKIP_DELETED,     /* deleted on the site */
        SKIP_NO_URL,      /* the site hides its file from us */
        SKIP_ANIMATED,    /* animation, video or Flash, and include_animated is off */
        SKIP_UNSUPPORTED, /* no image Fluff can use (no sample, unknown type, no md5) */
        SKIP_TOO_LARGE,   /* only an original over the byte/pixel limits */
        _SKIP_REASON_MAX,
        _SKIP_REASON_INVALID = -EINVAL,
} SkipReason;
const char *
skip_reason_to_string(SkipReason r); /* "deleted", "no-url", "animated", "unsupported", "too-large" */
SkipReason skip_reason_from_string(const char *s);

/* Skipped posts stay in the store (their labels too) but are not in the
 * dataset and get no image. The post must exist. */
int store_post_set_skip(Store *s, uint64_t post_id, SkipReason reason, Error *error);

/* ---- labels ---- */

typedef enum LabelSource {
        LABEL_SOURCE_FAVOURITE,
        LABEL_SOURCE_UPVOTE,
        LABEL_SOURCE_DOWNVOTE,
        LABEL_SOURCE_APP,
        _LABEL_SOURCE_MAX,
        _LABEL_SOURCE_INVALID = -EINVAL,
} LabelSource;
const char *label_source_to_string(LabelSource s); /* "favourite", "upvote", "downvote", "app" */
LabelSource label_source_from_string(const char *s);

/* Starts (or resumes, after a killed or failed sync) a sync; *ret_generation
 * is the generation to pass to the calls below. Resuming keeps the labels
 * seen so far and makes the transient image failures of the stopped run due
 * again. */
int store_sync_begin(Store *s, uint64_t *ret_generation, Error *error);
/* Ends it. complete: every list was walked to its end (then app labels already
 * sent to the site are dropped, see above). Not complete (failed, cancelled):
 * the generation stays open and the next store_sync_begin() resumes it.
 * -ESTALE when generation is not the open one. */
int store_sync_end(Store *s, uint64_t generation, bool complete, Error *error);

/* Ends a sync that walked only part of each list (an incremental one): the
 * generation closes without dropping anything, so the next sync starts a
 * fresh one and a full walk then judges every label by what it sees itself.
 * -ESTALE when generation is not the open one. */
int store_sync_close(Store *s, uint64_t generation, Error *error);

/* The post (already upserted) appeared in the site list of source
 * (FAVOURITE, UPVOTE or DOWNVOTE) during this generation. */
int store_label_seen(Store *s, uint64_t post_id, LabelSource source, uint64_t generation, Error *error);
/* Whether the post already holds a label of source: an incremental sync walks
 * a list newest first and stops at the first page with such a post. False
 * also on errors. */
bool store_label_known(Store *s, uint64_t post_id, LabelSource source);
/* After a COMPLETE walk of source's list: drops its labels not seen in this
 * generation. Returns the number dropped (≥ 0). */
int store_labels_drop_unseen(Store *s, LabelSource source, uint64_t generation, Error *error);

/* Fluff's own vote: value +1, −1, or 0 (cleared). Decides the post's label at
 * once (see above). The post must exist. */
int store_label_set_app(Store *s, uint64_t post_id, int value, Error *error);

/* The effective label: *ret_value +1/−1, or 0 (unlabelled, cleared or a
 * conflict); *ret_conflict (optional) true for a conflict. -ENOENT when the
 * post has no label row at all. */
int store_post_label(Store *s, uint64_t post_id, int *ret_value, bool *ret_conflict, Error *error);
/* Which sources hold a label for the post, as a bit mask of 1 << LabelSource. */
int store_post_label_sources(Store *s, uint64_t post_id, unsigned *ret_mask, Error *error);

typedef struct StoreLabelled {
        uint64_t post_id;
        char md5[33];   /* "" when unknown */
        int label;      /* +1 liked, −1 disliked */
        bool has_image; /* images/<md5>.jpg recorded as ok */
} StoreLabelled;
/* The dataset: labelled, not conflicting, not skipped posts, by id ascending. */
int store_dataset_list(Store *s, StoreLabelled **ret, size_t *ret_n, Error *error);

/* ---- counts (fluffctl status) ---- */

typedef struct StoreCounts {
        uint64_t posts; /* every post known, predictions included */
        uint64_t liked; /* in the dataset (not skipped, no conflict) */
        uint64_t disliked;
        uint64_t conflicts;      /* liked and disliked at once, left out */
        uint64_t images_ok;      /* dataset posts whose crop is on disk */
        uint64_t images_failed;  /* dataset posts whose image failed (either kind) */
        uint64_t images_missing; /* dataset posts with no image yet (failed excluded) */
        uint64_t skipped;        /* labelled posts left out, all reasons */
        uint64_t skipped_by_reason[_SKIP_REASON_MAX];
        uint64_t outbox_pending, outbox_sent, outbox_failed;
} StoreCounts;
int store_counts(Store *s, StoreCounts *ret, Error *error);

/* ---- images ---- */

typedef struct ImageNeeded {
        uint64_t post_id;
        char md5[33];
        char *url; /* owned */
} ImageNeeded;
void image_needed_array_free(ImageNeeded *a, size_t n);

/* Dataset posts with an md5 and an image URL whose crop is not recorded as ok,
 * excluding permanent failures, transient failures already tried in this
 * generation, and those tried STORE_IMAGE_MAX_ATTEMPTS times. Newest first, at
 * most limit (0: no limit). Recording each result then moves the list on. */
int store_images_needed(Store *s, uint64_t generation, size_t limit, ImageNeeded **ret, size_t *ret_n,
                        Error *error);

/* The crop images/<md5>.jpg is on disk (size in bytes). */
int store_image_ok(Store *s, const char *md5, uint64_t post_id, uint64_t size, Error *error);
/* Download or crop failed; reason in words; transient: worth another try on a
 * later sync. attempts is counted. */
int store_image_failed(Store *s, const char *md5, uint64_t post_id, const char *reason, bool transient,
                       uint64_t generation, Error *error);
/* Forgets the record (e.g. the file vanished from disk), so it is fetched again. */
int store_image_forget(Store *s, const char *md5, Error *error);
/* True when images/<md5>.jpg is recorded as ok. */
bool store_image_is_ok(Store *s, const char *md5);
/* Forgets every ok record whose images_dir/<md5>.jpg is gone (the user
 * deleted the folder), so the next sync fetches them again. Returns the
 * number forgotten (≥ 0). */
int store_images_verify(Store *s, const char *images_dir, Error *error);

/* ---- blacklist (the user's rules, one per line, as the site gives them) ---- */

int store_blacklist_set(Store *s, char *const *rules, Error *error); /* replaces all; NULL or empty: none */
int store_blacklist_get(Store *s, char ***ret_rules, Error *error);  /* empty strv when none */

/* ---- vote outbox ---- */

typedef enum OutboxState {
        OUTBOX_PENDING,
        OUTBOX_SENT,
        OUTBOX_FAILED, /* gave up: the site refused it for good */
        _OUTBOX_STATE_MAX,
        _OUTBOX_STATE_INVALID = -EINVAL,
} OutboxState;
const char *outbox_state_to_string(OutboxState s); /* "pending", "sent", "failed" */

typedef struct OutboxEntry {
        uint64_t id;
        uint64_t post_id;
        int score;     /* +1 vote up, −1 vote down, 0 remove the vote */
        int favourite; /* +1 add favourite, −1 remove it, 0 leave it */
        OutboxState state;
        unsigned attempts;
        uint64_t next_try_usec; /* CLOCK_REALTIME */
        uint64_t created_usec, sent_usec;
        char *last_error; /* owned, NULL when none */
} OutboxEntry;
void outbox_entry_array_free(OutboxEntry *a, size_t n);

/* Queues a vote. A still pending entry for the same post is replaced (only the
 * latest intent is sent). *ret_id optional. */
int store_outbox_add(Store *s, uint64_t post_id, int score, int favourite, uint64_t *ret_id, Error *error);
/* Pending entries with next_try_usec ≤ now_usec, oldest first, at most limit (0: all). */
int store_outbox_due(Store *s, uint64_t now_usec, size_t limit, OutboxEntry **ret, size_t *ret_n,
                     Error *error);
/* Earliest next_try_usec of a pending entry; -ENOENT when none (to arm a timer). */
int store_outbox_next_due(Store *s, uint64_t *ret_usec, Error *error);
int store_outbox_mark_sent(Store *s, uint64_t id, Error *error);
/* Another attempt failed. permanent: give up (state failed); else stays
 * pending until next_try_usec. attempts is counted. */
int store_outbox_mark_failed(Store *s, uint64_t id, const char *why, bool permanent, uint64_t next_try_usec,
                             Error *error);

/* ---- prediction runs ---- */

typedef struct PredictionRow {
        uint64_t post_id;
        double score;     /* probability of a like */
        int label;        /* +1 / −1 by the model's threshold */
        char *top_tags;   /* owned; e.g. "blue_eyes +0.31, ..." as the model writes it */
        char *image_path; /* owned; crop in the cache folder, NULL when none */
        /* Why it scored so (model.h's ModelExplanation): logit = bias + image +
         * tags; the score is σ(logit), or the isotonic calibration of it.
         * Rows stored before explanations (schema 5) have explained false. */
        bool explained;
        double logit, bias, image, tags;
        char calibration[16];      /* "none", "platt", "isotonic" */
        char *tags_up, *tags_down; /* owned; "blue_eyes +0.310012, ...", strongest first; NULL none */
} PredictionRow;
void prediction_row_array_free(PredictionRow *a, size_t n);

/* A new manual run for a query; its rows follow with store_prediction_add. */
int store_prediction_run_new(Store *s, const char *tags, uint64_t *ret_run_id, Error *error);
/* A new run of watch watch_id (the watch's query as tags). */
int store_prediction_run_new_watch(Store *s, uint64_t watch_id, const char *tags, uint64_t *ret_run_id,
                                   Error *error);
/* The post must exist (upsert it first). rank is the position in the run. */
int store_prediction_add(Store *s, uint64_t run_id, unsigned rank, const PredictionRow *row, Error *error);
/* The newest manual run (watch runs are not "the latest predictions");
 * -ENOENT when none. */
int store_prediction_latest_run(Store *s, uint64_t *ret_run_id, Error *error);
/* *ret_watch_id: the run's watch, 0 for a manual run; -ENOENT when no such run. */
int store_prediction_run_watch(Store *s, uint64_t run_id, uint64_t *ret_watch_id, Error *error);
/* Rows of a run by rank; *ret_tags (optional) the query. */
int store_prediction_list(Store *s, uint64_t run_id, char **ret_tags, PredictionRow **ret, size_t *ret_n,
                          Error *error);
/* Deletes every manual run but keep_run_id (0: all) and their rows; watch
 * runs are left alone. */
int store_prediction_prune(Store *s, uint64_t keep_run_id, Error *error);
/* Whether the post is in some kept watch run (already announced). */
bool store_prediction_in_watch_run(Store *s, uint64_t post_id);
/* Watch runs to drop: those created before older_than_usec and those beyond
 * the keep_runs newest, oldest first (a malloc'ed array, maybe empty). */
int store_prediction_watch_runs_expired(Store *s, uint64_t older_than_usec, size_t keep_runs, uint64_t **ret,
                                        size_t *ret_n, Error *error);
/* Deletes one run and its rows; -ENOENT when unknown. */
int store_prediction_run_delete(Store *s, uint64_t run_id, Error *error);
/* Whether some kept run (manual or watch) shows image_path. */
bool store_prediction_image_in_use(Store *s, const char *image_path);

/* ---- watches ---- */

typedef struct Watch {
        uint64_t id;
        char *tags; /* owned */
        double threshold;
        unsigned max_per_run;
        uint64_t last_seen_id; /* newest post id already scored, 0 none */
        uint64_t created_usec, last_run_usec;
} Watch;
void watch_array_free(Watch *a, size_t n);

int store_watch_add(Store *s, const char *tags, double threshold, unsigned max_per_run, uint64_t *ret_id,
                    Error *error);
int store_watch_remove(Store *s, uint64_t id, Error *error); /* -ENOENT when unknown */
int store_watch_list(Store *s, Watch **ret, size_t *ret_n, Error *error);
int store_watch_get(Store *s, uint64_t id, Watch *ret, Error *error); /* ret fields owned by the caller */
/* Records a run: last_seen_id only moves forward. */
int store_watch_ran(Store *s, uint64_t id, uint64_t last_seen_id, uint64_t run_usec, Error *error);

/* ---- cached embeddings ---- */

/* Keyed by backbone id (e.g. the weight file's digest), feature set name and
 * image md5; data is n floats, stored as raw host-order bytes. */
int store_embedding_put(Store *s, const char *backbone, const char *feature_set, const char *md5,
                        const float *data, size_t n, Error *error);
/* -ENOENT when not cached. *ret is malloc'ed. */
int store_embedding_get(Store *s, const char *backbone, const char *feature_set, const char *md5,
                        float **ret, size_t *ret_n, Error *error);
/* Drops every embedding of other backbones (after a backbone change). Returns
 * the number deleted. */
int store_embedding_prune(Store *s, const char *keep_backbone, Error *error);

/* The marker of an image whose embedding failed (its errno as one float). */
#define STORE_EMBEDDING_FAILED "_failed"
/* Up to limit md5s of images in state ok with neither done_set nor the
 * failure marker for this backbone, in md5 order (a NULL-terminated strv),
 * after the md5 `after` (NULL: from the first): a caller walking all of
 * them passes the last one it got, so a batch does not step over every
 * image already done (at 100,000 images that was ~100 ms on the loop). */
int store_embedding_missing(Store *s, const char *backbone, const char *done_set, const char *after,
                            size_t limit, char ***ret, size_t *ret_n, Error *error);
/* Images in state ok with done_set, and those still missing (as above);
 * each count is only taken when its ret_ is not NULL (each walks all images). */
int store_embedding_counts(Store *s, const char *backbone, const char *done_set, uint64_t *ret_done,
                           uint64_t *ret_missing, Error *error);
int store_embedding_failed(Store *s, const char *backbone, const char *md5, int errno_failed, Error *error);

/* ---- predicted posts the user votes on or reviews (store-review.c) ---- */

/* The distinct crop paths the post has in the kept prediction runs (manual
 * and watch), newest run first, as a NULL-terminated strv (empty when none).
 * Returns their number. */
int store_prediction_images(Store *s, uint64_t post_id, char ***ret_paths, Error *error);
/* Points every prediction row of the post at path (e.g. after its crop moved
 * into the dataset), so the runs keep showing an image that exists. */
int store_prediction_set_image(Store *s, uint64_t post_id, const char *path, Error *error);
/* Posts of the kept prediction runs that have no label (no vote, not even a
 * cleared one) and are not skipped, each once with its newest row, ordered by
 * |score − threshold| ascending (the model's least sure first), then score
 * descending, then id; at most limit (0: all). */
int store_review_list(Store *s, double threshold, size_t limit, PredictionRow **ret, size_t *ret_n,
                      Error *error);

/* ---- model history (store-history.c) ----
 * One row per trained model file; the file itself is the model library's
 * business (model-history.h names it after the id). Exactly one model is
 * installed at a time (or none); a model installed before and replaced is
 * "previous", one that never was is "aside" with the reason why. */

typedef enum StoreModelState {
        STORE_MODEL_INSTALLED,
        STORE_MODEL_PREVIOUS,
        STORE_MODEL_ASIDE,
        _STORE_MODEL_STATE_MAX,
        _STORE_MODEL_STATE_INVALID = -EINVAL,
} StoreModelState;
const char *store_model_state_to_string(StoreModelState s); /* "installed", "previous", "aside" */
StoreModelState store_model_state_from_string(const char *s);

typedef struct StoreModel {
        uint64_t id;
        uint64_t created_usec;   /* CLOCK_REALTIME µs */
        uint64_t installed_usec; /* last time it was installed, 0 never */
        StoreModelState state;
        char *reason;                    /* owned; why it is aside, NULL otherwise */
        char *trigger;                   /* owned; what started the training: "manual", "automatic", ... */
        char *towers;                    /* owned; "both", "tags", "image" */
        char *backbone;                  /* owned; NULL without */
        uint64_t n_labels, n_pos, n_neg; /* the dataset it was trained on */
        double auc; /* the ROC AUC that decides installing (cross-validated); NaN unknown */
        char *info; /* owned; the model's own description (JSON) */
} StoreModel;
void store_model_done(StoreModel *m); /* frees the owned fields */
void store_model_array_free(StoreModel *a, size_t n);

/* Records a trained model with the dataset it was trained on (labels ±1;
 * NULL, 0 for none known). m->state INSTALLED makes it the installed one (the
 * one before becomes previous); ASIDE needs a reason. *ret_id optional. */
int store_model_add(Store *s, const StoreModel *m, const StoreLabelled *dataset, size_t n_dataset,
                    uint64_t *ret_id, Error *error);
/* Newest first. */
int store_model_list(Store *s, StoreModel **ret, size_t *ret_n, Error *error);
int store_model_get(Store *s, uint64_t id, StoreModel *ret, Error *error); /* -ENOENT when unknown */
/* -ENOENT when none is installed. */
int store_model_installed(Store *s, uint64_t *ret_id, Error *error);
/* Makes id the installed model (e.g. a rollback); -ENOENT when unknown. */
int store_model_install(Store *s, uint64_t id, Error *error);
/* Forgets a model; -EBUSY for the installed one, -ENOENT when unknown. */
int store_model_remove(Store *s, uint64_t id, Error *error);
/* The models beyond the keep newest, never the installed one, oldest first
 * (a malloc'ed array, maybe empty): the history to prune. */
int store_model_expired(Store *s, size_t keep, uint64_t **ret, size_t *ret_n, Error *error);
/* The posts model id was trained on, by id ascending (a malloc'ed array,
 * maybe empty: a model recorded without its dataset). -ENOENT when unknown. */
int store_model_trained_on(Store *s, uint64_t id, uint64_t **ret, size_t *ret_n, Error *error);
/* How the dataset moved since model id was trained: *ret_changed counts the
 * posts labelled since, relabelled, or no longer labelled; *ret_base the
 * posts it was trained on. A model recorded without its dataset counts
 * every post of the dataset as new. -ENOENT when unknown. */
int store_model_labels_changed(Store *s, uint64_t id, uint64_t *ret_changed, uint64_t *ret_base,
                               Error *error);

/* ---- feedback record (store-feedback.c) ----
 * store_prediction_add() remembers every post a watch announced or Predict
 * showed, with its score and label at the time (a later showing replaces it);
 * its outcome is the post's label now, whether voted here or on the site. */

typedef struct StoreFeedback {
        uint64_t announced;  /* announced as a like (a watch's post, or a predicted like) */
        uint64_t liked;      /* of those, liked since */
        uint64_t disliked;   /* of those, disliked since */
        uint64_t unanswered; /* of those, not voted on */
        double precision;    /* liked / (liked + disliked); NaN when neither */
} StoreFeedback;
/* The announcements made at or after since_usec. */
int store_feedback(Store *s, uint64_t since_usec, StoreFeedback *ret, Error *error);
/* The score, label and source ("watch" or "predict") a post was announced
 * with; -ENOENT when never. */
int store_feedback_get(Store *s, uint64_t post_id, double *ret_score, int *ret_label, char **ret_source,
                       Error *error);
