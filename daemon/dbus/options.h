/* SPDX-License-Identifier: MIT */
#pragma once

/* The a{sv} "options" argument of Sync, Embed, Train and Predict, read in one
 * place so every method refuses unknown keys and wrong types the same way. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

/* Reads the variant m is positioned at (e.g. sd_bus_message_read(m, "v", "b", …))
 * into the method's options; an InvalidArgs error names the key. */
typedef int (*BusOptionParse)(sd_bus_message *m, const char *key, void *options, sd_bus_error *error);

typedef struct BusOption {
        const char *key;
        BusOptionParse parse;
        size_t offset; /* parse gets options + offset: the field, for the generic readers below */
} BusOption;

/* For a method that takes no options yet. */
extern const BusOption bus_no_options[];

/* Reads the whole a{sv}. options_table ends with a NULL key (a method without
 * options passes just that). Unknown keys: InvalidArgs "Unknown <what> option". */
int bus_read_options(sd_bus_message *m, const char *what, const BusOption *options_table, void *options,
                     sd_bus_error *error);

/* A "u" or a "t" variant: the two ways a client may send a count. */
int bus_read_uint_variant(sd_bus_message *m, const char *key, uint64_t *ret, sd_bus_error *error);
/* A "b" variant. */
int bus_read_bool_variant(sd_bus_message *m, const char *key, bool *ret, sd_bus_error *error);

/* A BusOption parse for a bool field: {"key", bus_option_bool, offsetof(Options, field)}. */
int bus_option_bool(sd_bus_message *m, const char *key, void *field, sd_bus_error *error);
