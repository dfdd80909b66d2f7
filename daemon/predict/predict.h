/* SPDX-License-Identifier: MIT */
#pragma once

/* The Predict job: searches the site, keeps `count` posts the user has not
 * labelled and the blacklist does not hide, crops them into
 * $XDG_CACHE_HOME/fluff/predictions/ (the previous run's crops are deleted
 * first, and only they), scores them with a private copy of the taste model on
 * the worker and stores the run (predict-job.c). GetPredictions reads a
 * stored run (predict-runs.c).
 *
 * Both it and the RunWatches job (watch/) go through a PredictPass: search,
 * filter, crop and score one query (predict-pass.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluff/error.h"
#include "store.h"

typedef struct BackboneService BackboneService;
typedef struct Config Config;
typedef struct Context Context;
typedef struct Counts Counts;
typedef struct E621Client E621Client;
typedef struct Events Events;
typedef struct Job Job;
typedef struct JobRunner JobRunner;
typedef struct TasteService TasteService;
typedef struct WorkPool WorkPool;

/* What predicting needs (all borrowed), and no more: Predict and the watches
 * share it, and their jobs hold it instead of the whole Context. */
typedef struct Predictor {
        Store *store;
        WorkPool *work;            /* scoring and crops run there */
        E621Client *e621;          /* the search and the images */
        const Config *config;      /* image size, limits */
        Counts *counts;            /* refreshed after a run is stored */
        Events *events;            /* EVENT_PREDICTIONS_ANNOUNCED */
        BackboneService *backbone; /* may have none loaded */
        TasteService *taste;
} Predictor;

/* The Predictor of the core ctx and the two services. */
Predictor predictor_make(Context *ctx, BackboneService *backbone, TasteService *taste);

#define PREDICT_COUNT_MIN 1u
#define PREDICT_COUNT_MAX 320u
#define PREDICT_COUNT_DEFAULT 20u
/* Search pages walked at most, so a rare tag or a heavily filtered query ends. */
#define PREDICT_PAGES_MAX 10u

typedef struct PredictJobOptions {
        const char *tags; /* the query as typed on the site, already validated */
        unsigned count;
        bool include_animated;
} PredictJobOptions;

/* A new, queued Predict job (job_runner_check()'s refusals in error). */
int predict_job_create(const Predictor *pr, JobRunner *runner, const PredictJobOptions *o, Job **ret,
                       Error *error);

/* A stored run: run 0 is the latest manual one. -ENOENT with a sentence when
 * there is none. rows: prediction_row_array_free(). */
int predict_runs_get(Context *ctx, uint64_t run, uint64_t *ret_run, char **ret_tags,
                     PredictionRow **ret_rows, size_t *ret_n, Error *error);

/* "$XDG_CACHE_HOME/fluff/predictions". */
int predict_dir(char **ret);
/* Whether path is dir/<32 lowercase hex>.jpg: the only files a run deletes. */
bool predict_path_is_ours(const char *dir, const char *path);

/* ---- scoring on the worker (predict-score.c) ---- */

typedef struct BbHandle BbHandle;
typedef struct BackboneService BackboneService;
typedef struct Blacklist Blacklist;
typedef struct Post Post;
typedef struct ModelExplanation ModelExplanation;

typedef struct PredictScore {
        void *owner;               /* the PredictJob; read only on the loop, in done() */
        char *model_path;          /* owned */
        double like_threshold;     /* config like_threshold, for a calibrated model */
        BackboneService *backbone; /* borrowed; outlives the work pool */
        BbHandle *handle;          /* owned reference; NULL without a backbone */
        Post **posts;              /* owned, n: the job may go away while this runs */
        char **paths;              /* owned, n: the crops */
        size_t n;

        /* results */
        float *probs;                /* n */
        char **top_tags;             /* n, owned strings: the strongest pushes up, then down */
        ModelExplanation *explain;   /* n (model.h) */
        char **tags_up, **tags_down; /* n, owned strings, "" when none */
        double threshold;
        /* time spent in each phase, for the log (tests/bench/bench-predict.py) */
        uint64_t images_usec, embed_usec, score_usec;
        Error error;     /* a sentence for the user */
        bool keep_crops; /* the run was stored: its crops stay (else they are deleted on free) */
} PredictScore;

int predict_score_run(void *userdata);
void predict_score_free(void *userdata);
/* Post i of a finished scoring as a stored row (its strings borrowed from s);
 * label by threshold. */
PredictionRow predict_score_row(const PredictScore *s, size_t i, double threshold);

/* The order to list posts[0…n) in: best score first, and with cap > 0 no
 * more than cap posts of one artist (their "artist" tags, less the site's
 * placeholders such as "unknown_artist") before every post that fits has
 * its place; the ones held back follow in score order, so nothing is
 * dropped (model/diversify.h). order gets n indices into posts. cap 0:
 * plain score order. The config's artist_cap. */
int predict_artist_order(Post *const *posts, const float *scores, size_t n, unsigned cap, uint32_t *order);

/* ---- one query searched, filtered, cropped and scored (predict-pass.c) ---- */

typedef struct PredictPass PredictPass;

typedef struct PredictPassOptions {
        const char *tags; /* validated query */
        unsigned count;   /* posts to score at most */
        bool include_animated;
        const char *dir;     /* where the crops go (created 0700) */
        uint64_t after_id;   /* only posts with a higher id (newest first: the search stops there); 0 any */
        unsigned max_pages;  /* search pages walked at most */
        bool skip_announced; /* leave out posts already in a kept watch run */
        const Blacklist *blacklist; /* borrowed; outlives the pass */
        /* Called once the search found posts, before their crops are written. */
        void (*before_images)(void *userdata);
} PredictPassOptions;

typedef struct PredictPassStats {
        unsigned pages;
        uint64_t seen, dropped_known, dropped_blacklist, dropped_unusable, dropped_announced, images_failed;
        uint64_t newest_id; /* the highest post id the search returned above after_id; 0 none */
} PredictPassStats;

/* Called once, unless the pass is freed first: r < 0 failed (message for the
 * user); r == 0 with s NULL: the search found nothing to score; else s holds
 * the scored posts, borrowed for the call (set s->keep_crops to keep them). */
typedef void (*PredictPassDone)(void *userdata, int r, const char *message, PredictScore *s);

/* Starts at once; job (borrowed) gets the phases and progress. */
int predict_pass_start(const Predictor *pr, Job *job, const PredictPassOptions *o, PredictPassDone done,
                       void *userdata, PredictPass **ret);
/* Stops whatever is in flight; done() does not come. NULL-safe. */
PredictPass *predict_pass_free(PredictPass *p);
const PredictPassStats *predict_pass_stats(const PredictPass *p);
/* "N posts seen; left out: …" for a job's message. */
const char *predict_pass_summary(const PredictPass *p, char *buf, size_t size);
/* qsort order of a run's rows: score descending, then post id. */
int predict_row_compare(const void *a, const void *b);
/* The user's blacklist from the store, parsed. */
int predict_blacklist_load(Store *store, Blacklist **ret);
