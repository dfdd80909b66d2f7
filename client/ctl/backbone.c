/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "bus-util.h"
#include "ctl.h"
#include "fluff/bus.h"

/* The C reference pass takes tens of seconds per image where there is no
 * Vulkan device, and the engine's first start a few more. */
#define CLASSIFY_TIMEOUT_USEC (600 * USEC_PER_SEC)

void backbone_status_print(const ManagerInfo *m)
{
        if (isempty(m->backbone_id))
                printf("    Backbone: none (run tools/fetch-backbone.sh, then \"fluffctl backbone import "
                       "PATH\")\n");
        else
                printf("    Backbone: %.12s (%s)\n", m->backbone_id, strempty(m->backbone_info));
        if (isempty(m->vk_device))
                printf("      Vulkan: no device (install mesa-vulkan-drivers or a GPU driver; the backbone "
                       "falls back to the slow C reference pass)\n");
        else
                printf("      Vulkan: %s (%s)\n", m->vk_device, strempty(m->vk_device_type));
        printf("    Embedded: %" PRIu64 " images\n", m->embedded);
}

void backbone_status_json(const ManagerInfo *m, struct json_object *o)
{
        json_object *b = json_object_new_object();
        if (!b)
                return;
        json_object_object_add(b, "id",
                               isempty(m->backbone_id) ? NULL : json_object_new_string(m->backbone_id));
        json_object_object_add(b, "info", json_object_new_string(strempty(m->backbone_info)));
        json_object_object_add(b, "vulkan_device", json_object_new_string(strempty(m->vk_device)));
        json_object_object_add(b, "vulkan_device_type", json_object_new_string(strempty(m->vk_device_type)));
        json_object_object_add(b, "embedded", json_object_new_uint64(m->embedded));
        json_object_object_add(o, "backbone", b);
}

/* Opens a file the user named, to pass it to fluffd as a descriptor: fluffd
 * (with another /tmp, maybe) reads exactly the file meant, and never waits on
 * a FIFO. what says what the file should be. */
static int open_regular(const char *arg, const char *what)
{
        _cleanup_close_ int fd = open(arg, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;

        if (fd < 0)
                return log_error_errno(errno, "Cannot open \"%s\": %m", arg);
        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "Cannot read \"%s\": %m", arg);
        if (S_ISDIR(st.st_mode))
                return log_error_errno(EISDIR, "\"%s\" is a folder, not %s.", arg, what);
        if (!S_ISREG(st.st_mode))
                return log_error_errno(EINVAL, "\"%s\" is not a regular file (%s).", arg, what);
        return TAKE_FD(fd);
}

static int backbone_classify(sd_bus *bus, const char *arg)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        json_object *o = NULL;
        const char *name;
        double p;
        int r;

        _cleanup_close_ int fd = open_regular(arg, "a JPEG, PNG, GIF or WebP image");
        if (fd < 0)
                return fd;
        r = sd_bus_message_new_method_call(bus, &m, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                           "ClassifyImageFd");
        if (r >= 0)
                r = sd_bus_message_append(m, "h", fd);
        if (r < 0)
                return log_error_errno(r, "Failed to build the ClassifyImageFd call: %m");
        r = sd_bus_call(bus, m, CLASSIFY_TIMEOUT_USEC, &error, &reply);
        if (r < 0) {
                /* fluffd knows only a descriptor: the message names the file */
                _cleanup_free_ char *what = NULL;
                if (asprintf(&what, "classify \"%s\"", arg) < 0)
                        what = NULL;
                return bus_log_call_error(what ?: "classify the image", &error, r);
        }
        r = sd_bus_message_enter_container(reply, 'a', "(sd)");
        if (r < 0)
                return log_error_errno(r, "Failed to read the reply to ClassifyImage: %m");
        if (arg_json) {
                o = json_object_new_object();
                if (!o)
                        return log_oom();
        }
        while ((r = sd_bus_message_read(reply, "(sd)", &name, &p)) > 0) {
                if (o)
                        json_object_object_add(o, name, json_object_new_double(p));
                else
                        printf("%-8s %.6f\n", name, p);
        }
        if (o) {
                if (r >= 0)
                        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
                json_object_put(o);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read the reply to ClassifyImage: %m");
        return 0;
}

static int backbone_status(sd_bus *bus)
{
        ManagerInfo m = {};
        int r;

        r = manager_info_get(bus, &m);
        if (r < 0)
                return r;
        if (arg_json) {
                json_object *o = json_object_new_object();
                if (!o) {
                        manager_info_done(&m);
                        return log_oom();
                }
                backbone_status_json(&m, o);
                puts(json_object_to_json_string_ext(json_object_object_get(o, "backbone"),
                                                    JSON_C_TO_STRING_PRETTY));
                json_object_put(o);
        } else
                backbone_status_print(&m);
        manager_info_done(&m);
        return 0;
}

static int backbone_import(sd_bus *bus, const char *arg)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *what = NULL;
        int r;

        _cleanup_close_ int fd =
                open_regular(arg, "the package tarball (the .tgz \"npm pack nsfwjs@4.4.0\" writes)");
        if (fd < 0)
                return fd;
        r = sd_bus_message_new_method_call(bus, &m, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                           "ImportBackboneFd");
        if (r >= 0)
                r = sd_bus_message_append(m, "h", fd);
        if (r < 0)
                return log_error_errno(r, "Failed to build the ImportBackboneFd call: %m");
        /* fluffd knows only a descriptor: the message names the file */
        if (asprintf(&what, "import \"%s\"", arg) < 0)
                return log_oom();
        return job_call_message_and_wait(bus, m, what);
}

int verb_backbone(int argc, char *argv[], sd_bus *bus)
{
        if (streq(argv[1], "import") && argc == 3)
                return backbone_import(bus, argv[2]);
        if (streq(argv[1], "classify") && argc == 3)
                return backbone_classify(bus, argv[2]);
        if (streq(argv[1], "status") && argc == 2)
                return backbone_status(bus);
        log_error("Unknown or incomplete command \"backbone %s\"; see \"%s --help\".", argv[1],
                  program_invocation_short_name);
        return -EINVAL;
}

int verb_embed(int argc, char *argv[], sd_bus *bus)
{
        return job_call_and_wait(bus, "Embed", "embed images", NULL);
}
