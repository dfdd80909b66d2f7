/* SPDX-License-Identifier: MIT */
#pragma once

/* What runs by itself, and the record of it: each run of fluff-watch.service
 * (`fluffctl refresh`) syncs (incrementally, or in full once
 * config.full_sync_interval has passed), runs the watches, and retrains when
 * enough labels changed since the installed model was trained. The features
 * ask here what is due (sync/ for the mode, train/ whether to retrain) and
 * record what they did; RefreshInfo (refresh_info_json) shows it all to
 * `fluffctl status`. The record lives in the store's key/value state under
 * "refresh.". */

#include <stdbool.h>
#include <stdint.h>

#include "core/counts.h"
#include "fluff/error.h"
#include "fluff/util.h"

typedef struct Config Config;
typedef struct Store Store;

typedef enum SyncMode {
        SYNC_MODE_FULL,        /* every list to its end: removed votes are seen */
        SYNC_MODE_INCREMENTAL, /* newest first, stopping at posts already known */
        SYNC_MODE_AUTO,        /* full when the last full one is older than the interval */
        _SYNC_MODE_MAX,
        _SYNC_MODE_INVALID = -EINVAL,
} SyncMode;
const char *sync_mode_to_string(SyncMode m); /* "full", "incremental", "auto" */
SyncMode sync_mode_from_string(const char *s);

/* AUTO → FULL or INCREMENTAL by the last complete full sync (none yet: FULL). */
SyncMode refresh_sync_mode(Store *store, const Config *config, SyncMode asked);
/* A sync ended: r 0 done, < 0 failed or cancelled. A complete full sync
 * moves the full-sync clock. */
void refresh_record_sync(Store *store, SyncMode mode, bool automatic, int r, const char *message);
/* A training ended (and "started" when r is 1: an automatic one that a
 * kill would interrupt). */
void refresh_record_train(Store *store, bool automatic, int r, const char *message);

typedef struct RetrainCheck {
        uint64_t changed, base; /* labels changed since the installed model was trained, of base */
        uint64_t need_changes;  /* config.retrain_changes */
        uint64_t need_fraction; /* config.retrain_fraction of base, rounded up (0: no base) */
        bool due;               /* enough changed */
        bool interrupted;       /* the last automatic training never finished (killed) */
} RetrainCheck;
/* Whether enough labels changed since installed_id (0: no model yet, so
 * every label is new) was trained. */
int refresh_retrain_check(Store *store, Counts *counts, const Config *config, uint64_t installed_id,
                          RetrainCheck *ret, Error *error);

/* The RefreshInfo property: what ran by itself, when, why, and what is due
 * (JSON, see dbus/manager.c). busy: another job runs now. */
int refresh_info_json(Store *store, Counts *counts, const Config *config, uint64_t installed_id, char **ret,
                      Error *error);
