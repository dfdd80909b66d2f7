/* SPDX-License-Identifier: MIT */
#include "dbus/options.h"
#include "fluff/util.h"
#include "fluff/text.h"

const BusOption bus_no_options[] = {{}};

int bus_read_options(sd_bus_message *m, const char *what, const BusOption *options_table, void *options,
                     sd_bus_error *error)
{
        const char *key;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const BusOption *o;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                for (o = options_table; o->key; o++)
                        if (streq(o->key, key))
                                break;
                if (!o->key)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Unknown %s option \"%.*s\".", what,
                                                 (int)utf8_prefix_len(key, 64), key);
                r = o->parse(m, key, (char *)options + o->offset, error);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int bus_read_uint_variant(sd_bus_message *m, const char *key, uint64_t *ret, sd_bus_error *error)
{
        const char *sig;
        int r;

        r = sd_bus_message_peek_type(m, NULL, &sig);
        if (r < 0)
                return r;
        if (streq(sig, "u")) {
                uint32_t v;
                r = sd_bus_message_read(m, "v", "u", &v);
                if (r >= 0)
                        *ret = v;
                return r;
        }
        if (streq(sig, "t"))
                return sd_bus_message_read(m, "v", "t", ret);
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                 "Option \"%s\" must be an unsigned integer (u or t), not \"%.*s\".", key,
                                 (int)utf8_prefix_len(sig, 16), sig);
}

int bus_read_bool_variant(sd_bus_message *m, const char *key, bool *ret, sd_bus_error *error)
{
        int b, r;

        r = sd_bus_message_read(m, "v", "b", &b);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Option \"%s\" must be a boolean.", key);
        *ret = b;
        return 0;
}

int bus_option_bool(sd_bus_message *m, const char *key, void *field, sd_bus_error *error)
{
        return bus_read_bool_variant(m, key, field, error);
}
