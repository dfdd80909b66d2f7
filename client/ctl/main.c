/* SPDX-License-Identifier: MIT */
#include <getopt.h>

#include "bus-util.h"
#include "ctl.h"

bool arg_json;
bool arg_quiet;
bool arg_no_wait;
bool arg_remember;
bool arg_forget;

static void help(void)
{
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Control the Fluff daemon.\n\n"
               "Commands:\n"
               "  status                 Show login, site, dataset counts and running jobs\n"
               "  login USERNAME         Log in; the API key is read from the terminal without\n"
               "                         echo, or as one line from standard input\n"
               "  logout                 Log out (--forget also deletes the saved key)\n"
               "  sync                   Download liked and disliked posts and their images\n"
               "  jobs                   List running and recently finished jobs\n"
               "  cancel JOB             Cancel a job\n"
               "  backbone import PATH   Import the image backbone from the nsfwjs package\n"
               "                         (tools/fetch-backbone.sh fetches it)\n"
               "  backbone classify IMAGE\n"
               "                         Print the backbone's five class probabilities\n"
               "  backbone status        Show the backbone, the Vulkan device and the\n"
               "                         number of embedded images\n"
               "  embed                  Compute missing image embeddings (also after sync)\n"
               "  train                  Train the taste model on the liked and disliked posts\n"
               "                         for --time (default 5 min); prints its metrics\n"
               "  like ID                Like a post: recorded at once, voted up (and favourited)\n"
               "                         on the site in the background\n"
               "  dislike ID             Dislike a post: recorded at once, voted down on the site\n"
               "  unvote ID              Clear your like or dislike of a post, here and on the site\n"
               "  predict TAGS...        Score --count (default 20) new posts matching TAGS:\n"
               "                         id, score, label, top tags, URL (put \"--\" before a\n"
               "                         query that starts with a negated tag: -- -canine)\n"
               "  predictions            Show the latest predictions again\n"
               "  review                 List --count (default 10) predicted posts you have not\n"
               "                         voted on that the model is least sure about, to like\n"
               "                         or dislike next\n\n"
               "  watch add TAGS...      Watch a search: new posts scoring at or above --threshold\n"
               "                         (default the model's like threshold) are announced, at\n"
               "                         most --max (default 10) a run; the first run looks at\n"
               "                         the newest 40 posts only, later runs at the posts\n"
               "                         that appeared since\n"
               "  watch list             Show the watches (--json)\n"
               "  watch remove ID        Stop watching a search\n"
               "  watch run [ID]         Look for new posts on every watch (or one) now and print\n"
               "                         them per watch (--json); fluff-watch.timer runs it\n\n"
               "Options:\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n"
               "     --json              Print data as JSON (status, jobs, train, predict,\n"
               "                         predictions, review)\n"
               "  -q --quiet             Print no progress or chatter\n"
               "     --remember          login: keep the key on disk (mode 0600) across restarts\n"
               "     --forget            logout: delete the saved key as well\n"
               "     --time DURATION     train: the time budget, e.g. 90s, 10m, 2h (5 s to 24 h)\n"
               "     --towers WHICH      train: both (default), or tags or image alone (to see\n"
               "                         what each contributes)\n"
               "     --count N           predict: how many posts to score (1 to 320); review: how\n"
               "                         many posts to list\n"
               "     --sheet FILE.png    predict, predictions: also draw a contact sheet\n"
               "     --threshold P       watch add: announce posts scoring at least P (0 to 1)\n"
               "     --max N             watch add: announce at most N posts a run (1 to 320)\n"
               "     --no-wait           sync, embed, train, backbone import: start the job, print its\n"
               "                         path and return\n\n"
               "While \"sync\" waits, Ctrl-C cancels the job and waits for it to stop; a\n"
               "second Ctrl-C leaves at once (the daemon still finishes the cancel).\n\n"
               "Exit status: 0 success, 1 failure, 2 wrong usage, 75 (watch run) nothing to do\n"
               "until you act: not logged in, no model yet, or the watches already running.\n",
               program_invocation_short_name);
}

/* < 0 error, 0 exit successfully, > 0 go on */
static int parse_argv(int argc, char *argv[])
{
        enum {
                ARG_VERSION = 0x100,
                ARG_JSON,
                ARG_REMEMBER,
                ARG_FORGET,
                ARG_NO_WAIT,
                ARG_TIME,
                ARG_COUNT,
                ARG_SHEET,
                ARG_THRESHOLD,
                ARG_MAX,
                ARG_TOWERS
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"json", no_argument, NULL, ARG_JSON},
                {"quiet", no_argument, NULL, 'q'},
                {"remember", no_argument, NULL, ARG_REMEMBER},
                {"forget", no_argument, NULL, ARG_FORGET},
                {"no-wait", no_argument, NULL, ARG_NO_WAIT},
                {"time", required_argument, NULL, ARG_TIME},
                {"count", required_argument, NULL, ARG_COUNT},
                {"sheet", required_argument, NULL, ARG_SHEET},
                {"threshold", required_argument, NULL, ARG_THRESHOLD},
                {"max", required_argument, NULL, ARG_MAX},
                {"towers", required_argument, NULL, ARG_TOWERS},
                {},
        };
        int c;

        /* Options may follow the verb ("fluffctl status --json"), as users type them. */
        while ((c = getopt_long(argc, argv, "hq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("fluffctl %s\n", FLUFF_VERSION);
                        return 0;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case ARG_REMEMBER:
                        arg_remember = true;
                        break;
                case ARG_FORGET:
                        arg_forget = true;
                        break;
                case ARG_NO_WAIT:
                        arg_no_wait = true;
                        break;
                case ARG_TIME:
                        if (parse_time_arg(optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_COUNT:
                        if (parse_count_arg(optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_SHEET:
                        arg_sheet = optarg;
                        break;
                case ARG_THRESHOLD:
                        if (parse_threshold_arg(optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_MAX:
                        if (parse_max_arg(optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_TOWERS:
                        if (parse_towers_arg(optarg) < 0)
                                return -EINVAL;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }
        return 1;
}

typedef struct Verb {
        const char *name;
        unsigned min_args, max_args; /* counting the verb itself */
        int (*run)(int argc, char *argv[], sd_bus *bus);
} Verb;

static const Verb verbs[] = {
        {"status", 1, 1, verb_status},     {"login", 2, 2, verb_login},
        {"logout", 1, 1, verb_logout},     {"sync", 1, 1, verb_sync},
        {"jobs", 1, 1, verb_jobs},         {"cancel", 2, 2, verb_cancel},
        {"backbone", 2, 3, verb_backbone}, {"embed", 1, 1, verb_embed},
        {"train", 1, 1, verb_train},       {"like", 2, 2, verb_like},
        {"dislike", 2, 2, verb_dislike},   {"unvote", 2, 2, verb_unvote},
        {"predict", 2, 41, verb_predict},  {"predictions", 1, 1, verb_predictions},
        {"watch", 2, 42, verb_watch},      {"review", 1, 1, verb_review},
};

static int dispatch(int argc, char *argv[])
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const Verb *v = NULL;
        int r;

        if (argc <= 0) {
                log_error("No command given; see \"%s --help\".", program_invocation_short_name);
                return 2;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, argv[0]))
                        v = &verbs[i];
        if (!v) {
                log_error("Unknown command \"%s\"; see \"%s --help\".", argv[0],
                          program_invocation_short_name);
                return 2;
        }
        if ((unsigned)argc < v->min_args) {
                log_error("Too few arguments for \"%s\"; see \"%s --help\".", v->name,
                          program_invocation_short_name);
                return 2;
        }
        if ((unsigned)argc > v->max_args) {
                log_error("Too many arguments for \"%s\": \"%s\".", v->name, argv[v->max_args]);
                return 2;
        }

        r = bus_connect_user(&bus);
        if (r < 0)
                return 1;
        r = v->run(argc, argv, bus);
        return r == VERB_USAGE_ERROR ? 2 : r == VERB_TEMPFAIL ? EXIT_TEMPFAIL : r < 0 ? 1 : 0;
}

int main(int argc, char *argv[])
{
        log_set_prefix("fluffctl");
        log_parse_environment();
        int r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        return dispatch(argc - optind, argv + optind);
}
