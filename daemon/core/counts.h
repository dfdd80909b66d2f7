/* SPDX-License-Identifier: MIT */
#pragma once

/* The dataset counts as last announced (the Manager's *Count and Outbox*
 * properties read them). */

#include "store.h"

typedef struct Events Events;

typedef struct Counts {
        StoreCounts now; /* as last announced */
        Store *store;    /* borrowed */
        Events *events;  /* borrowed */
} Counts;

/* Re-reads the counts and announces them (EVENT_COUNTS_CHANGED) when they changed. */
void counts_refresh(Counts *c);
