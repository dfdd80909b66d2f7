/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers the model library's trainers share (head, small CNN, fine-tuning). */

#include <time.h>

#include "fluff/util.h"

/* Seconds on the monotonic clock: the trainers' budgets and deadlines. */
static inline double model_now_s(void)
{
        return (double)now_usec(CLOCK_MONOTONIC) / USEC_PER_SEC;
}

/* *ret_error (when ret_error is not NULL) becomes the sentence, replacing an
 * earlier one: the first caller that knows why training stopped says it. */
void model_set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
