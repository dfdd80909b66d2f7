/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "core/context.h"
#include "review/review.h"
#include "services/taste.h"
#include "store.h"

int review_list(Context *ctx, const TasteService *taste, unsigned count, PredictionRow **ret_rows,
                size_t *ret_n, Error *error)
{
        /* The current model's threshold: the scores may be older, but it is
         * the line the next prediction will draw. */
        double threshold = taste->model ? taste->model->threshold : ctx->config->like_threshold;
        Error db = {};
        int r;

        r = store_review_list(ctx->store, threshold, count, ret_rows, ret_n, &db);
        if (r < 0)
                return error_setf(error, r, "Failed to read the predictions to review: %s",
                                  error_message(&db, r));
        return 0;
}
