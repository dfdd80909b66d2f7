/* SPDX-License-Identifier: MIT */
#pragma once

/* Internal to daemon/model: n heads of one shape and one standardisation
 * (the same candidate, other initial weights) as one wider head whose logit
 * is the mean of theirs. -E2BIG when the result exceeds the model's limits. */

#include "model.h"

int model_ensemble(Model *const *members, size_t n, Model **ret);
