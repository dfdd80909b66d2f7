/* SPDX-License-Identifier: MIT */
/* A stand-in for UPower on whatever bus DBUS_SYSTEM_BUS_ADDRESS names (a
 * test's session bus): org.freedesktop.UPower with the one property fluffd
 * reads, OnBattery, from argv[1] ("true" or "false"). Prints "ready" once
 * the name is taken; runs until killed. */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

static int on_battery;

static int get_on_battery(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "b", on_battery);
}

static const sd_bus_vtable upower_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("OnBattery", "b", get_on_battery, 0, 0),
        SD_BUS_VTABLE_END,
};

int main(int argc, char *argv[])
{
        sd_bus *bus = NULL;
        int r;

        on_battery = argc > 1 && strcmp(argv[1], "true") == 0;
        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/UPower", "org.freedesktop.UPower",
                                             upower_vtable, NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, "org.freedesktop.UPower", 0);
        if (r < 0) {
                fprintf(stderr, "fake-upower: %s\n", strerror(-r));
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        for (;;) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return 1;
                if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0)
                        return 1;
        }
}
