/* SPDX-License-Identifier: MIT */
#pragma once

/* Global pooling over an NHWC tensor's spatial axes. */

#include <errno.h>

typedef enum PoolMode {
        POOL_AVG,
        /* Ties go to the first (lowest h*w+w index) maximum; a NaN wins over any
         * number, the first NaN over later ones, so NaN propagates as in torch. */
        POOL_MAX,
        _POOL_MODE_MAX,
        _POOL_MODE_INVALID = -EINVAL,
} PoolMode;
