/* SPDX-License-Identifier: MIT */
#include <getopt.h>

#include "daemon.h"
#include "fluff/util.h"
#include "vk.h"

static bool arg_self_test;

static void help(void)
{
        printf("%s [OPTIONS...]\n\n"
               "Fluff daemon: owns the dataset, talks to e621, trains and runs the model.\n"
               "Serves io.github.fluffml.Fluff1 on the session bus until SIGTERM.\n"
               "Normally started by systemd or D-Bus activation, not by hand.\n\n"
               "  -h --help        Show this help\n"
               "     --version     Show the version\n"
               "  -v --verbose     Log debug messages\n"
               "     --self-test   Run a compute shader on the Vulkan device and exit\n\n"
               "Environment: FLUFF_SITE overrides the configured site, FLUFF_LOG_LEVEL the log level.\n",
               program_invocation_short_name);
}

/* < 0 error, 0 exit successfully, > 0 go on */
static int parse_argv(int argc, char *argv[])
{
        enum { ARG_VERSION = 0x100, ARG_SELF_TEST };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "verbose", no_argument, NULL, 'v' },
                { "self-test", no_argument, NULL, ARG_SELF_TEST },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "hv", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("fluffd %s\n", FLUFF_VERSION);
                        return 0;
                case 'v':
                        log_set_max_level(LOG_LEVEL_DEBUG);
                        break;
                case ARG_SELF_TEST:
                        arg_self_test = true;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument \"%s\".", argv[optind]);
        return 1;
}

int main(int argc, char *argv[])
{
        _cleanup_(daemon_freep) Daemon *d = NULL;
        int r;

        log_set_prefix("fluffd");
        log_parse_environment();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        if (arg_self_test) {
                r = vk_self_test();
                return r < 0 ? 1 : 0;
        }

        r = daemon_new(&d);
        if (r < 0)
                return 1;
        r = daemon_start(d);
        if (r < 0)
                return 1;
        r = daemon_run(d);
        return r < 0 ? 1 : 0;
}
