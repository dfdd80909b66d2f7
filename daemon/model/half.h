/* SPDX-License-Identifier: MIT */
#pragma once

/* IEEE 754 half floats for cached activations: a view of 7×7×320 floats
 * takes 31 KB instead of 63 KB, and the tail's input needs no more precision
 * than the backbone's uint8-quantised weights gave it. Round to nearest
 * even; out of range saturates to ±inf, NaN stays NaN. */

#include <stdint.h>
#include <string.h>

static inline uint16_t half_from_float(float f)
{
        uint32_t x;
        memcpy(&x, &f, 4);
        uint32_t sign = (x >> 16) & 0x8000u, e = (x >> 23) & 0xffu, m = x & 0x7fffffu;
        if (e == 0xff)
                return (uint16_t)(sign | 0x7c00u | (m ? 0x200u : 0));
        int32_t he = (int32_t)e - 127 + 15;
        if (he >= 31)
                return (uint16_t)(sign | 0x7c00u);
        if (he <= 0) {
                if (he < -10)
                        return (uint16_t)sign;
                m |= 0x800000u;
                uint32_t shift = (uint32_t)(14 - he), half = m >> shift, rest = m & ((1u << shift) - 1),
                         mid = 1u << (shift - 1);
                if (rest > mid || (rest == mid && (half & 1)))
                        half++;
                return (uint16_t)(sign | half);
        }
        uint32_t h = sign | ((uint32_t)he << 10) | (m >> 13), rest = m & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
                h++; /* may carry into the exponent, up to inf: correct */
        return (uint16_t)h;
}

static inline float half_to_float(uint16_t h)
{
        uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
        if (e == 0x1f)
                x = sign | 0x7f800000u | (m << 13);
        else if (e != 0)
                x = sign | ((e - 15 + 127) << 23) | (m << 13);
        else if (m == 0)
                x = sign;
        else {
                /* subnormal: normalise */
                int s = 0;
                while (!(m & 0x400u)) {
                        m <<= 1;
                        s++;
                }
                x = sign | ((uint32_t)(127 - 15 + 1 - s) << 23) | ((m & 0x3ffu) << 13);
        }
        float f;
        memcpy(&f, &x, 4);
        return f;
}
