/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "bus-util.h"
#include "ctl.h"
#include "fluff/bus.h"

static void print_table(const Prediction *rows, size_t n)
{
        if (n == 0) {
                printf("Nothing to review: every predicted post has your vote, or there are no predictions "
                       "yet (run \"fluffctl predict TAGS\").\n");
                return;
        }
        (void)prediction_rows_print(rows, n, "GUESS");
        printf("\n%zu posts the model is least sure about, closest to its like threshold first.\n"
               "Vote on them with \"fluffctl like ID\" or \"fluffctl dislike ID\", e.g. \"fluffctl like "
               "%" PRIu64 "\": each vote teaches the next training.\n",
               n, rows[0].id);
}

int verb_review(int argc, char *argv[], sd_bus *bus)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ Prediction *rows = NULL;
        size_t n = 0;
        int r;

        if (arg_interactive && arg_json) {
                log_error(
                        "\"review --interactive\" takes keys, not --json; see \"fluffctl review --help\".");
                return VERB_USAGE_ERROR;
        }
        r = sd_bus_call_method(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, "Review2",
                               &error, &reply, "u", (uint32_t)arg_count);
        if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                /* a fluffd from before explanations */
                sd_bus_error_free(&error);
                r = sd_bus_call_method(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                       "Review", &error, &reply, "u", (uint32_t)arg_count);
        }
        if (r < 0)
                return bus_log_call_error("read the posts to review", &error, r);
        r = prediction_rows_read(reply, &rows, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to read the posts to review: %m");
        if (arg_interactive)
                return review_interactive(bus, rows, n);
        if (arg_json)
                prediction_rows_print_json(rows, n);
        else
                print_table(rows, n);
        return 0;
}
