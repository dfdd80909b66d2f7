/* SPDX-License-Identifier: MIT */
/* Half floats for fine-tuning's cached activations (daemon/model/half.h)
 * against the compiler's own _Float16 conversions: every one of the 65,536
 * halves to float, and floats to half across the whole range, with the
 * rounding ties, subnormals, overflow to infinity and NaN. */
#include <math.h>

#include "fluff/util.h"
#include "half.h"
#include "tests.h"

#ifdef __FLT16_MAX__
static uint16_t bits_of(_Float16 h)
{
        uint16_t b;
        memcpy(&b, &h, 2);
        return b;
}

static _Float16 half_of(uint16_t b)
{
        _Float16 h;
        memcpy(&h, &b, 2);
        return h;
}

TEST(every_half_to_float)
{
        for (uint32_t b = 0; b < 65536; b++) {
                float want = (float)half_of((uint16_t)b), got = half_to_float((uint16_t)b);
                if (isnan(want))
                        ASSERT_TRUE(isnan(got));
                else
                        ASSERT_TRUE(memcmp(&want, &got, 4) == 0);
        }
}

TEST(floats_to_half)
{
        /* every float whose low 13 bits are at or around the rounding point, over all exponents */
        static const uint32_t low[] = {0, 1, 0xfff, 0x1000, 0x1001, 0x1fff, 0x3000, 0x2000};
        unsigned n = 0;
        for (uint32_t hi = 0; hi < (1u << 19); hi++)
                for (size_t k = 0; k < ELEMENTSOF(low); k++) {
                        uint32_t x = (hi << 13) | low[k];
                        float f;
                        memcpy(&f, &x, 4);
                        uint16_t want = bits_of((_Float16)f), got = half_from_float(f);
                        if (isnan(f))
                                ASSERT_TRUE((got & 0x7c00u) == 0x7c00u && (got & 0x3ffu));
                        else if (got != want)
                                TEST_FAIL("float %a (0x%08x): half 0x%04x, the compiler's 0x%04x", (double)f,
                                          x, got, want);
                        n++;
                }
        fprintf(stderr, "  %u floats agree\n", n);
}
#else
TEST(round_trip)
{
        for (uint32_t b = 0; b < 65536; b++)
                if ((b & 0x7c00u) != 0x7c00u || !(b & 0x3ffu))
                        ASSERT_EQ(half_from_float(half_to_float((uint16_t)b)), (uint16_t)b);
}
#endif

TEST_MAIN()
