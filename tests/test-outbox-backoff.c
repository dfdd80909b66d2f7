/* SPDX-License-Identifier: MIT */
/* The vote outbox's backoff: doubles from the base per failed attempt, never
 * exceeds the cap (however many attempts, whatever the random bits), and
 * keeps at least half of the nominal delay, so retries do slow down.
 * Bad input that must be survived: attempt 0, UINT_MAX attempts, all-ones
 * random bits. */
#include <limits.h>

#include "services/outbox.h"
#include "tests.h"

static uint64_t nominal(unsigned attempts)
{
        uint64_t d = OUTBOX_BACKOFF_BASE_USEC;
        for (unsigned i = 1; i < attempts && d < OUTBOX_BACKOFF_MAX_USEC; i++)
                d *= 2;
        return d < OUTBOX_BACKOFF_MAX_USEC ? d : OUTBOX_BACKOFF_MAX_USEC;
}

TEST(bounds)
{
        const uint64_t bits[] = { 0, 1, 12345, UINT64_C(0x9E3779B97F4A7C15), UINT64_MAX };
        const unsigned attempts[] = { 0, 1, 2, 3, 10, 11, 12, 40, 64, 65, 1000, UINT_MAX };

        for (size_t a = 0; a < ELEMENTSOF(attempts); a++)
                for (size_t b = 0; b < ELEMENTSOF(bits); b++) {
                        uint64_t d = outbox_backoff_usec(attempts[a], bits[b]);
                        uint64_t n = nominal(attempts[a]);
                        ASSERT_TRUE(d >= n / 2);
                        ASSERT_TRUE(d <= n);
                        ASSERT_TRUE(d <= OUTBOX_BACKOFF_MAX_USEC);
                }
}

TEST(grows)
{
        /* with the same random bits, the delay at least doubles until the cap */
        ASSERT_EQ(outbox_backoff_usec(1, 0), OUTBOX_BACKOFF_BASE_USEC / 2);
        ASSERT_EQ(outbox_backoff_usec(2, 0), OUTBOX_BACKOFF_BASE_USEC);
        ASSERT_EQ(outbox_backoff_usec(3, 0), 2 * OUTBOX_BACKOFF_BASE_USEC);
        ASSERT_EQ(outbox_backoff_usec(1000, 0), OUTBOX_BACKOFF_MAX_USEC / 2);
        ASSERT_EQ(outbox_backoff_usec(UINT_MAX, OUTBOX_BACKOFF_MAX_USEC / 2), OUTBOX_BACKOFF_MAX_USEC);
}

TEST(jitter_spreads)
{
        /* different random bits give different delays: clients do not retry in step */
        uint64_t first = outbox_backoff_usec(5, 1);
        bool differs = false;
        for (uint64_t b = 2; b < 50 && !differs; b++)
                differs = outbox_backoff_usec(5, b * 7919) != first;
        ASSERT_TRUE(differs);
}

TEST_MAIN()
