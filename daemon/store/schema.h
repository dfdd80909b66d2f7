/* SPDX-License-Identifier: MIT */
#pragma once

#include "store.h"

/* store_migrations[v] brings a database from version v-1 to v. */
extern const char *const store_migrations[];
