/* SPDX-License-Identifier: MIT */
/* Manager.Review and Review2 (the rows with their explanations). */
#include <inttypes.h>

#include "dbus/bus.h"
#include "review/review.h"
#include "store.h"

static int review(sd_bus_message *m, void *userdata, sd_bus_error *error, bool explained)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        BusServer *s = userdata;
        PredictionRow *rows = NULL;
        uint32_t count;
        Error e = {};
        size_t n = 0;
        int r;

        r = sd_bus_message_read(m, "u", &count);
        if (r < 0)
                return r;
        r = bus_check_count(&count, REVIEW_COUNT_DEFAULT, REVIEW_COUNT_MAX, error);
        if (r < 0)
                return r;
        r = review_list(s->f.ctx, s->f.taste, count, &rows, &n, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = bus_append_prediction_rows(s, reply, rows, n, explained);
        prediction_row_array_free(rows, n);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

int method_review(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return review(m, userdata, error, false);
}

int method_review2(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return review(m, userdata, error, true);
}
