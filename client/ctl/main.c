/* SPDX-License-Identifier: MIT */
#include <getopt.h>

#include "fluff/util.h"

static void help(void)
{
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Control the Fluff daemon.\n\n"
               "Options:\n"
               "  -h --help        Show this help\n"
               "     --version     Show the version\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[])
{
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("fluffctl %s\n", FLUFF_VERSION);
                        return 0;
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }
        return 1;
}

int main(int argc, char *argv[])
{
        log_set_prefix("fluffctl");
        int r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        help();
        return 2;
}
