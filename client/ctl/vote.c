/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "bus-util.h"
#include "ctl.h"
#include "fluff/bus.h"
#include "fluff/text.h"

/* Post ids as the site shows them: digits only, no sign, no "0x", not 0. */
static int parse_post_id(const char *arg, uint64_t *ret)
{
        uint64_t id;

        if (isempty(arg) || strspn(arg, "0123456789") != strlen(arg) || safe_atou64(arg, &id) < 0 ||
            id == 0 || id > INT64_MAX)
                return -EINVAL;
        *ret = id;
        return 0;
}

static int vote(const char *arg, int score, sd_bus *bus)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        static const char *const what[] = {"dislike", "vote removal", "like"};
        uint64_t id;
        int r;

        if (parse_post_id(arg, &id) < 0) {
                log_error("\"%.*s\" is not a post id (the number in the post's address, e.g. 12345).",
                          (int)utf8_prefix_len(arg, 64), arg);
                return VERB_USAGE_ERROR;
        }
        r = sd_bus_call_method(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, "Vote", &error,
                               NULL, "ti", id, (int32_t)score);
        if (r < 0)
                return bus_log_call_error(score > 0   ? "like the post"
                                          : score < 0 ? "dislike the post"
                                                      : "remove the vote",
                                          &error, r);
        if (!arg_quiet)
                printf("Recorded the %s of post %" PRIu64 "; it will be sent to the site in the background "
                       "(\"fluffctl status\" shows the outbox).\n",
                       what[score + 1], id);
        return 0;
}

int verb_like(int argc, char *argv[], sd_bus *bus)
{
        return vote(argv[1], 1, bus);
}

int verb_dislike(int argc, char *argv[], sd_bus *bus)
{
        return vote(argv[1], -1, bus);
}

int verb_unvote(int argc, char *argv[], sd_bus *bus)
{
        return vote(argv[1], 0, bus);
}
