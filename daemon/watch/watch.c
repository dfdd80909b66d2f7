/* SPDX-License-Identifier: MIT */
/* Adding, removing and listing watches (AddWatch, RemoveWatch, ListWatches). */
#include <inttypes.h>
#include <math.h>

#include "config.h"
#include "core/context.h"
#include "services/taste.h"
#include "watch/watch.h"

int watch_add(Context *ctx, const TasteService *taste, const char *tags, double threshold,
              unsigned max_per_run, uint64_t *ret_id, Error *error)
{
        uint64_t id;
        int r;

        /* What the model calls a like, unless the user says otherwise: the
         * configured P(like) for a calibrated model (taste.h), a scale that
         * stays when the model is retrained. */
        if (isnan(threshold))
                threshold = taste->model ? taste->model->threshold : ctx->config->like_threshold;
        if (max_per_run == 0)
                max_per_run = ctx->config->watch_max_per_run;
        Error db = {};
        r = store_watch_add(ctx->store, tags, threshold, max_per_run, &id, &db);
        if (r < 0)
                return error_setf(error, r, "Failed to store the watch: %s", error_message(&db, r));
        log_info("Watching \"%s\" (watch %" PRIu64 ", threshold %.3f, at most %u posts a run).", tags, id,
                 threshold, max_per_run);
        *ret_id = id;
        return 0;
}

int watch_remove(Context *ctx, uint64_t id, Error *error)
{
        int r;

        Error db = {};
        r = store_watch_remove(ctx->store, id, &db);
        if (r == -ENOENT)
                return error_setf(error, r,
                                  "There is no watch %" PRIu64 "; \"fluffctl watch list\" shows them.", id);
        if (r < 0)
                return error_setf(error, r, "Failed to remove watch %" PRIu64 ": %s", id,
                                  error_message(&db, r));
        return 0;
}

int watch_list(Context *ctx, Watch **ret, size_t *ret_n, Error *error)
{
        int r;

        Error db = {};
        r = store_watch_list(ctx->store, ret, ret_n, &db);
        if (r < 0)
                return error_setf(error, r, "Failed to read the watches: %s", error_message(&db, r));
        return 0;
}
