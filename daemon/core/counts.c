/* SPDX-License-Identifier: MIT */
#include "core/counts.h"
#include "core/events.h"
#include "fluff/util.h"

void counts_refresh(Counts *c)
{
        StoreCounts n;
        Error db = {};
        int r;

        r = store_counts(c->store, &n, &db);
        if (r < 0) {
                log_debug_errno(r, "Failed to count the dataset, ignoring: %s", error_message(&db, r));
                return;
        }
        if (memcmp(&n, &c->now, sizeof(n)) == 0)
                return;
        c->now = n;
        events_emit(c->events, EVENT_COUNTS_CHANGED, NULL);
}
