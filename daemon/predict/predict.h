/* SPDX-License-Identifier: MIT */
#pragma once

/* The Predict job: searches the site, keeps `count` posts the user has not
 * labelled and the blacklist does not hide, crops them into
 * $XDG_CACHE_HOME/fluff/predictions/ (the previous run's crops are deleted
 * first, and only they), scores them with a private copy of the taste model on
 * the worker, stores the run and announces it with NewPredictions. The bus
 * part (Predict, GetPredictions, NewPredictions) lives in bus-predict.c. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

#include "store.h"

typedef struct Daemon Daemon;
typedef struct Job Job;

#define PREDICT_COUNT_MIN 1u
#define PREDICT_COUNT_MAX 320u
#define PREDICT_COUNT_DEFAULT 20u
/* Search pages walked at most, so a rare tag or a heavily filtered query ends. */
#define PREDICT_PAGES_MAX 10u
/* Tags shown per post. */
#define PREDICT_TOP_TAGS 3u

typedef struct PredictJobOptions {
        const char *tags; /* the query as typed on the site, already validated */
        unsigned count;
        bool include_animated;
} PredictJobOptions;

int predict_job_new(Daemon *d, const PredictJobOptions *o, Job **ret);

/* "$XDG_CACHE_HOME/fluff/predictions". */
int predict_dir(char **ret);
/* Whether path is dir/<32 lowercase hex>.jpg: the only files a run deletes. */
bool predict_path_is_ours(const char *dir, const char *path);

int bus_predict_register(Daemon *d);
/* Emits NewPredictions with the rows of a stored run. */
void bus_predict_emit_new(Daemon *d, const PredictionRow *rows, size_t n);
/* Appends one a(tdssss) row set (post id, probability, label, top tags, image, URL). */
int bus_predict_append_rows(Daemon *d, sd_bus_message *m, const PredictionRow *rows, size_t n);

/* ---- scoring on the worker (predict-score.c) ---- */

typedef struct BbHandle BbHandle;
typedef struct BackboneService BackboneService;
typedef struct Post Post;

typedef struct PredictScore {
        void *owner;               /* the PredictJob; read only on the loop, in done() */
        char *model_path;          /* owned */
        BackboneService *backbone; /* borrowed; outlives the work pool */
        BbHandle *handle;          /* owned reference; NULL without a backbone */
        Post **posts;              /* owned, n: the job may go away while this runs */
        char **paths;              /* owned, n: the crops */
        size_t n;

        /* results */
        float *probs;     /* n */
        char **top_tags;  /* n, owned strings */
        double threshold;
        uint64_t embed_usec, score_usec; /* time spent in each, for the log (tests/bench/bench-predict.py) */
        char *error;     /* owned; a sentence for the user */
        bool keep_crops; /* the run was stored: its crops stay (else they are deleted on free) */
} PredictScore;

int predict_score_run(void *userdata);
void predict_score_free(void *userdata);
