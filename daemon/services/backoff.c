/* SPDX-License-Identifier: MIT */
#include "fluff/util.h"
#include "services/outbox.h"

uint64_t outbox_backoff_usec(unsigned attempts, uint64_t random_bits)
{
        uint64_t d = OUTBOX_BACKOFF_BASE_USEC;

        for (unsigned i = 1; i < attempts && d < OUTBOX_BACKOFF_MAX_USEC; i++)
                d *= 2;
        d = MIN(d, OUTBOX_BACKOFF_MAX_USEC);
        /* many clients retrying after one outage must not come back in step */
        return d / 2 + random_bits % (d / 2 + 1);
}
