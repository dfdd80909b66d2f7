/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "bus/manager.h"
#include "daemon.h"
#include "fluff/bus.h"
#include "predict/predict.h"
#include "review/review.h"
#include "train/taste.h"

#define REVIEW_COUNT_DEFAULT 10u
/* Every kept run together holds at most a few hundred posts; the cap bounds a reply. */
#define REVIEW_COUNT_MAX 1000u

static int method_review(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Daemon *d = userdata;
        PredictionRow *rows = NULL;
        uint32_t count;
        size_t n = 0;
        int r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "u", &count);
        if (r < 0)
                return r;
        if (count == 0)
                count = REVIEW_COUNT_DEFAULT;
        if (count > REVIEW_COUNT_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Count %" PRIu32 " is out of range: give 1 to %u posts.", count,
                                         REVIEW_COUNT_MAX);
        /* The current model's threshold: the scores may be older, but it is
         * the line the next prediction will draw. */
        double threshold = d->taste->model ? d->taste->model->threshold : 0.5;
        r = store_review_list(d->store, threshold, count, &rows, &n);
        if (r < 0)
                return fluff_bus_error_set_errnof(error, r, "Failed to read the predictions to review: %s",
                                                  store_error(d->store));
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = bus_predict_append_rows(d, reply, rows, n);
        prediction_row_array_free(rows, n);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static const sd_bus_vtable review_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Review", SD_BUS_ARGS("u", count), SD_BUS_RESULT("a(tdssss)", predictions),
                                method_review, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int bus_review_register(Daemon *d)
{
        return sd_bus_add_object_vtable(d->bus, &d->review_slot, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                        review_vtable, d);
}
