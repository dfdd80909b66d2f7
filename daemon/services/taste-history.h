/* SPDX-License-Identifier: MIT */
#pragma once

/* The taste model's history: every training's model is kept (the newest
 * config.model_keep of them, the installed one always), with its date, data
 * size, towers, backbone and metrics (the store's record) and its file
 * (model-history.h). A new model is installed only when it is not worse than
 * the installed one by more than config.model_install_margin of ROC AUC on
 * the current data (TasteHistoryFresh) and is not an ablation; otherwise it is kept aside, with the reason,
 * and can still be installed by hand (UseModel). Installing is one rename on disk and then one store update;
 * taste_history_reconcile() mends a crash between the two on the next start. */

#include <stdbool.h>
#include <stdint.h>

#include "fluff/error.h"
#include "store.h"

typedef struct Model Model;
typedef struct TasteService TasteService;

/* The new model weighed against the installed one on the posts labelled
 * since the installed one was trained (it never saw them): the installed
 * model's ROC AUC there beside the new model's out-of-fold one on exactly
 * those posts, so the two numbers come from the same, current data. With
 * fewer than TASTE_HISTORY_FRESH_MIN such posts (or fewer than
 * TASTE_HISTORY_FRESH_MIN_CLASS likes or dislikes among them) the two are
 * too noisy to weigh and each model's own cross-validated ROC AUC decides,
 * as before, and the train job's message says so. */
#define TASTE_HISTORY_FRESH_MIN 50
#define TASTE_HISTORY_FRESH_MIN_CLASS 10

typedef struct TasteHistoryFresh {
        bool weighed;                  /* auc_new and auc_installed are the comparison */
        uint32_t n, n_pos;             /* the posts the installed model never saw (also when too few) */
        double auc_new, auc_installed; /* ROC AUC on them: out of fold, and the installed model's */
        const char *why_not;           /* static; why they could not be scored (NULL: none, or too few) */
} TasteHistoryFresh;

typedef struct TasteHistoryAdd {
        const char *trigger;          /* "manual", "automatic" */
        const char *towers;           /* "both", "tags", "image" */
        bool ablation;                /* a training on some towers only */
        bool force_install;           /* install whatever its metrics (train --install) */
        double margin;                /* config.model_install_margin */
        unsigned keep;                /* config.model_keep */
        const StoreLabelled *dataset; /* the dataset it was trained on (its labels), n_dataset rows */
        size_t n_dataset;
        const TasteHistoryFresh *fresh; /* NULL: not measured */
} TasteHistoryAdd;

typedef struct TasteHistoryResult {
        uint64_t id;
        bool installed;
        char reason[512]; /* why it was kept aside, "" when installed */
        unsigned pruned;  /* older models dropped from the history */
        char basis[256];  /* which numbers were weighed, a sentence ("" for no installed model) */
} TasteHistoryResult;

/* Records the model that a training wrote to new_path (a
 * model_history_new_path() name) and installs it, or keeps it aside. Takes m
 * (loaded from new_path) in every case. taste_history_record(),
 * taste_history_commit() and taste_history_prune(). */
int taste_history_add(TasteService *t, Store *store, const char *new_path, Model *m,
                      const TasteHistoryAdd *o, TasteHistoryResult *ret, Error *e);

/* A new model's row, recorded aside until its commit adopts the file and,
 * when so decided, installs it. */
typedef struct TasteHistoryRecord {
        uint64_t id;
        bool install;    /* decided: the commit installs it */
        char *reason;    /* owned: why it stays aside; NULL when it is installed */
        char basis[256]; /* as TasteHistoryResult's */
} TasteHistoryRecord;

void taste_history_record_done(TasteHistoryRecord *rec);
/* Weighs m against the installed model and records it aside with its
 * dataset. It reads m and writes only the store, so it may run on a worker
 * with a connection of its own: at 100,000 labelled posts the dataset's rows
 * take the loop a tenth of a second. A record never committed (a crash, the
 * daemon stopping) has no file, and taste_history_reconcile() drops it. */
int taste_history_record(Store *store, const Model *m, const TasteHistoryAdd *o, TasteHistoryRecord *ret,
                         Error *e);
/* On the loop: adopts new_path as rec's file and installs it when decided.
 * Takes m in every case. */
int taste_history_commit(TasteService *t, Store *store, const char *new_path, Model *m,
                         const TasteHistoryRecord *rec, TasteHistoryResult *ret, Error *e);
/* Forgets the models beyond the newest keep (never the installed one),
 * records and files; how many. Only the store and the folder: a worker may
 * run it (at 100,000 labels a record's rows take 0.1-0.2 s to delete).
 * Failures are logged and skipped. */
unsigned taste_history_prune(const char *models_dir, Store *store, unsigned keep);
/* Installs model id of the history (a rollback, or one kept aside).
 * -ENOENT when there is no such model. */
int taste_history_use(TasteService *t, Store *store, uint64_t id, Error *e);
/* Deletes model id; -EBUSY for the installed one. */
int taste_history_remove(TasteService *t, Store *store, uint64_t id, Error *e);
/* On start: the installed file decides which model is installed (a crash
 * between the rename and the store update), a model installed before the
 * history existed joins it (with the current dataset as its own), records
 * without a file and files without a record (a killed training) go. */
int taste_history_reconcile(TasteService *t, Store *store);
