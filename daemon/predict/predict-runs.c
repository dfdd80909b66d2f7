/* SPDX-License-Identifier: MIT */
/* Reading a stored prediction run back (GetPredictions). */
#include <inttypes.h>

#include "core/context.h"
#include "predict/predict.h"

int predict_runs_get(Context *ctx, uint64_t run, uint64_t *ret_run, char **ret_tags,
                     PredictionRow **ret_rows, size_t *ret_n, Error *error)
{
        Error db = {};
        int r;

        if (run == 0) {
                r = store_prediction_latest_run(ctx->store, &run, &db);
                if (r == -ENOENT)
                        return error_setf(error, r, "No predictions yet: run \"fluffctl predict TAGS\".");
                if (r < 0)
                        return error_setf(error, r, "Failed to read the predictions: %s",
                                          error_message(&db, r));
        }
        r = store_prediction_list(ctx->store, run, ret_tags, ret_rows, ret_n, &db);
        if (r == -ENOENT)
                return error_setf(error, r,
                                  "No prediction run %" PRIu64
                                  " (only the latest manual run and recent watch "
                                  "runs are kept).",
                                  run);
        if (r < 0)
                return error_setf(error, r, "Failed to read the predictions: %s", error_message(&db, r));
        *ret_run = run;
        return 0;
}
