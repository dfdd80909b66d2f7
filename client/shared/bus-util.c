/* SPDX-License-Identifier: MIT */
#include "bus-util.h"
#include "fluff/bus.h"

int bus_connect_user(sd_bus **ret)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        (void)fluff_bus_error_register();
        r = sd_bus_open_user(&bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the session bus: %m");
        *ret = TAKE_PTR(bus);
        return 0;
}

int bus_log_call_error(const char *what, const sd_bus_error *error, int r)
{
        if (sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                return log_error_errno(r,
                                       "Failed to %s: fluffd is not running on the session bus "
                                       "(start it with \"systemctl --user start fluffd\").",
                                       what);
        if (sd_bus_error_is_set(error) && !isempty(error->message))
                return log_error_errno(r, "Failed to %s: %s", what, error->message);
        return log_error_errno(r, "Failed to %s: %m", what);
}

static int read_strv(sd_bus_message *m, const char *contents, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        const char *s;
        int r;

        r = sd_bus_message_enter_container(m, 'a', contents + 1);
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read_basic(m, contents[1], &s)) > 0) {
                char *c = strdup(s);
                if (!c)
                        return -ENOMEM;
                r = strv_push(&l, c);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int map_one(sd_bus_message *m, const BusPropertyMap *p, const char *contents, void *userdata)
{
        uint8_t *base = userdata;
        int r;

        if (!streq(contents, p->signature))
                return sd_bus_message_skip(m, contents);

        switch (p->signature[0]) {
        case 's':
        case 'o': {
                const char *s;
                r = sd_bus_message_read_basic(m, p->signature[0], &s);
                if (r < 0)
                        return r;
                char *c = strdup(s), **field = (char **)(base + p->offset);
                if (!c)
                        return -ENOMEM;
                free(*field);
                *field = c;
                return 0;
        }
        case 'b': {
                int b;
                r = sd_bus_message_read_basic(m, 'b', &b);
                if (r < 0)
                        return r;
                *(bool *)(base + p->offset) = b;
                return 0;
        }
        case 't':
                return sd_bus_message_read_basic(m, 't', base + p->offset);
        case 'u':
                return sd_bus_message_read_basic(m, 'u', base + p->offset);
        case 'a': {
                char ***field = (char ***)(base + p->offset), **l = NULL;
                r = read_strv(m, contents, &l);
                if (r < 0)
                        return r;
                strv_free(*field);
                *field = l;
                return 0;
        }
        default:
                return sd_bus_message_skip(m, contents);
        }
}

int bus_message_read_dict(sd_bus_message *m, int (*f)(sd_bus_message *m, const char *key, void *userdata),
                          void *userdata)
{
        const char *key;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read_basic(m, 's', &key);
                if (r < 0)
                        return r;
                r = f(m, key, userdata);
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

typedef struct MapWalk {
        const BusPropertyMap *map;
        void *userdata;
} MapWalk;

static int map_entry(sd_bus_message *m, const char *name, void *userdata)
{
        const MapWalk *w = userdata;
        const BusPropertyMap *p = NULL;
        const char *contents;
        int r;

        for (const BusPropertyMap *q = w->map; q->name; q++)
                if (streq(q->name, name)) {
                        p = q;
                        break;
                }
        r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;
        r = p ? map_one(m, p, contents, w->userdata) : sd_bus_message_skip(m, contents);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int bus_message_map_properties(sd_bus_message *m, const BusPropertyMap map[], void *userdata)
{
        return bus_message_read_dict(m, map_entry, &(MapWalk){.map = map, .userdata = userdata});
}

int bus_get_properties(sd_bus *bus, const char *path, const char *interface, const BusPropertyMap map[],
                       void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, FLUFF_BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll", error,
                               &reply, "s", interface);
        if (r < 0)
                return r;
        return bus_message_map_properties(reply, map, userdata);
}
