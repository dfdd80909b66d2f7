/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>

#include "bus-util.h"
#include "ctl.h"
#include "fluff/text.h"

bool arg_json;
bool arg_quiet;
bool arg_no_wait;
bool arg_remember;
bool arg_forget;
bool arg_interactive;
char *arg_html;
volatile sig_atomic_t arg_interrupted;

/* The options, each taken only by the commands whose mask names it (as git's
 * per-command options: "watch add --count 5" is refused, not ignored). */
enum {
        OPT_JSON = 1u << 0,
        OPT_NO_WAIT = 1u << 1,
        OPT_REMEMBER = 1u << 2,
        OPT_FORGET = 1u << 3,
        OPT_TIME = 1u << 4,
        OPT_TOWERS = 1u << 5,
        OPT_COUNT = 1u << 6,
        OPT_SHEET = 1u << 7,
        OPT_HTML = 1u << 8,
        OPT_THRESHOLD = 1u << 9,
        OPT_MAX = 1u << 10,
        OPT_INTERACTIVE = 1u << 11,
        OPT_INSTALL = 1u << 12,
};

typedef struct OptionHelp {
        unsigned bit;
        const char *name, *text;
} OptionHelp;

static const OptionHelp option_help[] = {
        {OPT_JSON, "--json", "print the result as JSON (schemas: fluffctl(1), JSON OUTPUT)"},
        {OPT_NO_WAIT, "--no-wait", "start the job, print its id and return"},
        {OPT_REMEMBER, "--remember", "keep the key on disk (mode 0600) across restarts"},
        {OPT_FORGET, "--forget", "delete the saved key as well"},
        {OPT_TIME, "--time DURATION", "the time budget, e.g. 90s, 10m, 2h (5 s to 24 h; default 5m)"},
        {OPT_TOWERS, "--towers WHICH", "both (default), tags or image: train one tower alone"},
        {OPT_COUNT, "--count N", "how many posts (1 to 320)"},
        {OPT_SHEET, "--sheet FILE.png", "also draw a contact sheet of the posts"},
        {OPT_HTML, "--html FILE.html", "also write a self-contained web page of the posts"},
        {OPT_THRESHOLD, "--threshold P", "announce posts scoring at least P (0 to 1; default the model's)"},
        {OPT_MAX, "--max N", "announce at most N posts a run (1 to 320; default 10)"},
        {OPT_INTERACTIVE, "--interactive", "show each post in the terminal and take one key per post"},
        {OPT_INSTALL, "--install", "install the new model even if it is worse, or an ablation (--towers)"},
};

typedef struct Verb {
        const char *name, *sub; /* "watch", "add"; sub NULL for a plain verb */
        const char *args;       /* positional arguments, for the usage line */
        unsigned min_args, max_args;
        unsigned options;
        const char *summary;
        int (*run)(int argc, char *argv[], sd_bus *bus);
} Verb;

/* argv as a verb sees it: argv[0] the verb, then the sub-command (if any),
 * then the positional arguments. */
static const Verb verbs[] = {
        {"status", NULL, "", 0, 0, OPT_JSON, "Login, dataset counts, backbone, model and jobs", verb_status},
        {"login", NULL, "USERNAME", 1, 1, OPT_REMEMBER, "Log in; the API key is read without echo",
         verb_login},
        {"logout", NULL, "", 0, 0, OPT_FORGET, "Log out", verb_logout},
        {"sync", NULL, "", 0, 0, OPT_JSON | OPT_NO_WAIT, "Download your liked and disliked posts and images",
         verb_sync},
        {"jobs", NULL, "", 0, 0, OPT_JSON, "List running and recently finished jobs", verb_jobs},
        {"cancel", NULL, "JOB", 1, 1, OPT_JSON, "Cancel a job by its id (as \"jobs\" shows it)",
         verb_cancel},
        {"backbone", "import", "PATH", 1, 1, OPT_JSON | OPT_NO_WAIT,
         "Import the image backbone from the nsfwjs package", verb_backbone},
        {"backbone", "classify", "IMAGE", 1, 1, OPT_JSON,
         "The backbone's five class probabilities of an image", verb_backbone},
        {"backbone", "status", "", 0, 0, OPT_JSON, "The backbone, the Vulkan device, embedded images",
         verb_backbone},
        {"embed", NULL, "", 0, 0, OPT_JSON | OPT_NO_WAIT, "Compute missing image embeddings", verb_embed},
        {"train", NULL, "", 0, 0, OPT_JSON | OPT_NO_WAIT | OPT_TIME | OPT_TOWERS | OPT_INSTALL,
         "Train a taste model (kept in the history); print its metrics", verb_train},
        {"like", NULL, "ID|URL...", 1, 100, OPT_JSON, "Like posts: recorded now, voted on the site soon",
         verb_like},
        {"dislike", NULL, "ID|URL...", 1, 100, OPT_JSON,
         "Dislike posts: recorded now, voted on the site soon", verb_dislike},
        {"unvote", NULL, "ID|URL...", 1, 100, OPT_JSON, "Clear your like or dislike of posts", verb_unvote},
        {"predict", NULL, "TAGS...", 1, 40, OPT_JSON | OPT_NO_WAIT | OPT_COUNT | OPT_SHEET | OPT_HTML,
         "Score new posts matching TAGS, best first", verb_predict},
        {"predictions", NULL, "", 0, 0, OPT_JSON | OPT_SHEET | OPT_HTML, "Show the latest predictions again",
         verb_predictions},
        {"review", NULL, "", 0, 0, OPT_JSON | OPT_COUNT | OPT_INTERACTIVE,
         "The unvoted posts the model is least sure about", verb_review},
        {"watch", "add", "TAGS...", 1, 40, OPT_JSON | OPT_THRESHOLD | OPT_MAX,
         "Watch a search: announce new posts that score high", verb_watch},
        {"watch", "list", "", 0, 0, OPT_JSON, "Show the watches", verb_watch},
        {"watch", "remove", "ID", 1, 1, OPT_JSON, "Stop watching a search", verb_watch},
        {"watch", "run", "[ID]", 0, 1, OPT_JSON | OPT_NO_WAIT,
         "Look for new posts on the watches (or one) now", verb_watch},
        {"refresh", NULL, "", 0, 0, 0,
         "Sync, run the watches, retrain when due: what fluff-watch.timer runs", verb_refresh},
        {"model", "list", "", 0, 0, OPT_JSON, "The trained models kept, installed or aside", verb_model},
        {"model", "show", "ID", 1, 1, OPT_JSON, "One model's data, towers, backbone and metrics", verb_model},
        {"model", "use", "ID", 1, 1, 0, "Install a model of the history (a rollback)", verb_model},
        {"model", "remove", "ID", 1, 1, 0, "Delete a model that is not installed", verb_model},
};

static void verb_usage_line(const Verb *v, FILE *f)
{
        fprintf(f, "usage: %s %s%s%s", program_invocation_short_name, v->name, v->sub ? " " : "",
                strempty(v->sub));
        for (size_t i = 0; i < ELEMENTSOF(option_help); i++)
                if (v->options & option_help[i].bit)
                        fprintf(f, " [%s]", option_help[i].name);
        if (!isempty(v->args))
                fprintf(f, " %s%s", strstr(v->args, "TAGS") ? "[--] " : "", v->args);
        fputc('\n', f);
}

static void verb_help(const Verb *v)
{
        verb_usage_line(v, stdout);
        printf("\n%s.\n\nOptions:\n", v->summary);
        for (size_t i = 0; i < ELEMENTSOF(option_help); i++)
                if (v->options & option_help[i].bit)
                        printf("  %-18s %s\n", option_help[i].name, option_help[i].text);
        printf("  %-18s %s\n", "-q --quiet", "print no progress or chatter");
        printf("  %-18s %s\n", "-h --help", "show this help");
        if (strstr(v->args, "TAGS"))
                printf("\nA query that starts with a negated tag goes after \"--\", options before it:\n"
                       "  %s %s%s%s %s -- -canine solo\n",
                       program_invocation_short_name, v->name, v->sub ? " " : "", strempty(v->sub),
                       v->options & OPT_COUNT ? "--count 5" : "--max 5");
        printf("\nSee fluffctl(1) for the exit status and the JSON schemas.\n");
}

static void help(void)
{
        printf("usage: %s [-q] [--version] [--help] COMMAND [OPTIONS] [ARGS]\n\n"
               "Control the Fluff daemon, fluffd.\n\nCommands:\n",
               program_invocation_short_name);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                char name[48];
                snprintf(name, sizeof(name), "%s%s%s %s", verbs[i].name, verbs[i].sub ? " " : "",
                         strempty(verbs[i].sub), verbs[i].args);
                printf("  %-24s %s\n", name, verbs[i].summary);
        }
        printf("\n\"%s COMMAND --help\" shows a command's options. Every command that prints\n"
               "data or starts a job takes --json. A query that starts with a negated tag\n"
               "goes after \"--\": fluffctl predict --count 5 -- -canine solo\n\n"
               "Exit status: 0 success; 1 failure; 2 wrong usage; 75 nothing can be done until\n"
               "you act (not logged in, no model yet, already running); 130 Ctrl-C.\n",
               program_invocation_short_name);
}

static const Verb *verb_find(const char *name, const char *sub, bool *ret_has_subs)
{
        bool has_subs = false;

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(verbs[i].name, name))
                        continue;
                has_subs = verbs[i].sub;
                if (!verbs[i].sub || (sub && streq(verbs[i].sub, sub))) {
                        *ret_has_subs = has_subs;
                        return &verbs[i];
                }
        }
        *ret_has_subs = has_subs;
        return NULL;
}

static int usage_error(const Verb *v, const char *fmt, ...) _printf_(2, 3);
static int usage_error(const Verb *v, const char *fmt, ...)
{
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (v)
                log_error("%s; see \"%s %s%s%s --help\".", msg, program_invocation_short_name, v->name,
                          v->sub ? " " : "", strempty(v->sub));
        else
                log_error("%s; see \"%s --help\".", msg, program_invocation_short_name);
        return -EINVAL;
}

/* The word a bad short option came from: "-canine" rather than "-c". */
static const char *bad_word(int argc, char *argv[], int opt)
{
        for (int i = 1; i < argc && !streq(argv[i], "--"); i++)
                if (argv[i][0] == '-' && argv[i][1] != '-' && strchr(argv[i] + 1, opt))
                        return argv[i];
        return NULL;
}

/* Parses a command's own options (anywhere before "--"); < 0 usage error, 0
 * exit (help shown), > 0 go on with argv[*ret_first…argc) as positionals. */
static int parse_verb_options(const Verb *v, int argc, char *argv[], int *ret_first)
{
        enum {
                ARG_JSON = 0x100,
                ARG_REMEMBER,
                ARG_FORGET,
                ARG_NO_WAIT,
                ARG_TIME,
                ARG_COUNT,
                ARG_SHEET,
                ARG_HTML,
                ARG_THRESHOLD,
                ARG_MAX,
                ARG_TOWERS,
                ARG_INTERACTIVE,
                ARG_INSTALL,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"quiet", no_argument, NULL, 'q'},
                {"json", no_argument, NULL, ARG_JSON},
                {"remember", no_argument, NULL, ARG_REMEMBER},
                {"forget", no_argument, NULL, ARG_FORGET},
                {"no-wait", no_argument, NULL, ARG_NO_WAIT},
                {"time", required_argument, NULL, ARG_TIME},
                {"count", required_argument, NULL, ARG_COUNT},
                {"sheet", required_argument, NULL, ARG_SHEET},
                {"html", required_argument, NULL, ARG_HTML},
                {"threshold", required_argument, NULL, ARG_THRESHOLD},
                {"max", required_argument, NULL, ARG_MAX},
                {"towers", required_argument, NULL, ARG_TOWERS},
                {"interactive", no_argument, NULL, ARG_INTERACTIVE},
                {"install", no_argument, NULL, ARG_INSTALL},
                {},
        };
        static const unsigned bits[] = {
                [ARG_JSON - 0x100] = OPT_JSON,           [ARG_REMEMBER - 0x100] = OPT_REMEMBER,
                [ARG_FORGET - 0x100] = OPT_FORGET,       [ARG_NO_WAIT - 0x100] = OPT_NO_WAIT,
                [ARG_TIME - 0x100] = OPT_TIME,           [ARG_COUNT - 0x100] = OPT_COUNT,
                [ARG_SHEET - 0x100] = OPT_SHEET,         [ARG_HTML - 0x100] = OPT_HTML,
                [ARG_THRESHOLD - 0x100] = OPT_THRESHOLD, [ARG_MAX - 0x100] = OPT_MAX,
                [ARG_TOWERS - 0x100] = OPT_TOWERS,       [ARG_INTERACTIVE - 0x100] = OPT_INTERACTIVE,
                [ARG_INSTALL - 0x100] = OPT_INSTALL,
        };
        int c, index;

        opterr = 0; /* our messages, not getopt's bare "invalid option -- 'c'" */
        optind = 0; /* GNU: start afresh on this argv */
        while ((c = getopt_long(argc, argv, ":hq", options, &index)) >= 0) {
                if (c >= 0x100 && !(v->options & bits[c - 0x100]))
                        return usage_error(v, "\"%s%s%s\" does not take --%s", v->name, v->sub ? " " : "",
                                           strempty(v->sub), options[index].name);
                switch (c) {
                case 'h':
                        verb_help(v);
                        return 0;
                case 'q':
                        arg_quiet = true;
                        break;
                case ARG_JSON:
                        arg_json = true;
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
                case ARG_HTML:
                        arg_html = optarg;
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
                case ARG_INTERACTIVE:
                        arg_interactive = true;
                        break;
                case ARG_INSTALL:
                        arg_install = true;
                        break;
                case ':':
                        return usage_error(v, "Option \"%s\" needs a value", argv[optind - 1]);
                case '?':
                        if (optopt == 0)
                                return usage_error(v, "Unknown option \"%s\"", argv[optind - 1]);
                        if (strstr(v->args, "TAGS")) {
                                const char *w = bad_word(argc, argv, optopt);
                                return usage_error(v,
                                                   "Unknown option \"%s\" (a negated tag goes after \"--\": "
                                                   "%s %s%s%s [OPTIONS] -- %s)",
                                                   w ?: "-?", program_invocation_short_name, v->name,
                                                   v->sub ? " " : "", strempty(v->sub), w ?: "-TAG");
                        }
                        return usage_error(v, "Unknown option \"-%c\"", optopt);
                default:
                        abort();
                }
        }
        *ret_first = optind;
        return 1;
}

/* Options before the command: only those every command shares. */
static int parse_global_options(int argc, char *argv[])
{
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"quiet", no_argument, NULL, 'q'},
                {},
        };
        int c;

        opterr = 0;
        /* "+": stop at the command; what follows is the command's. */
        while ((c = getopt_long(argc, argv, "+hq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("fluffctl %s\n", FLUFF_VERSION);
                        return 0;
                case 'q':
                        arg_quiet = true;
                        break;
                case '?':
                        return usage_error(NULL,
                                           "Unknown option \"%s\" before the command (options follow it)",
                                           argv[optind - 1]);
                default:
                        abort();
                }
        return 1;
}

int exit_status_of(int r)
{
        if (arg_interrupted)
                return EXIT_INTERRUPTED;
        if (r == VERB_USAGE_ERROR)
                return EXIT_USAGE;
        /* Nothing to do until the user acts: the error said what. EX_TEMPFAIL
         * lets fluff-watch.service count it as success (SuccessExitStatus=75). */
        if (r == VERB_TEMPFAIL || r == -ENOKEY || r == -ENOMEDIUM || r == -EBUSY)
                return EXIT_TEMPFAIL;
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static void on_sigint(int sig)
{
        arg_interrupted = 1;
        /* the default action, now that the flag is set, for the exit status 130 */
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
}

static int dispatch(int argc, char *argv[])
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const Verb *v;
        bool has_subs;
        int r, first = 0;

        if (argc <= 0) {
                (void)usage_error(NULL, "No command given");
                return EXIT_USAGE;
        }
        v = verb_find(argv[0], argc > 1 ? argv[1] : NULL, &has_subs);
        if (!v && has_subs) {
                /* "watch --help" lists the sub-commands */
                if (argc > 1 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                                if (streq(verbs[i].name, argv[0]))
                                        verb_usage_line(&verbs[i], stdout);
                        return EXIT_SUCCESS;
                }
                if (argc > 1)
                        log_error("Unknown command \"%s %.*s\"; see \"%s --help\".", argv[0],
                                  (int)utf8_prefix_len(argv[1], 64), argv[1], program_invocation_short_name);
                else
                        log_error("\"%s\" needs a sub-command; see \"%s --help\".", argv[0],
                                  program_invocation_short_name);
                return EXIT_USAGE;
        }
        if (!v) {
                (void)usage_error(NULL, "Unknown command \"%.*s\"", (int)utf8_prefix_len(argv[0], 64),
                                  argv[0]);
                return EXIT_USAGE;
        }
        /* The sub-command is the options' argv[0]; the verb keeps seeing both. */
        int skip = v->sub ? 1 : 0;
        r = parse_verb_options(v, argc - skip, argv + skip, &first);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;
        first += skip;
        unsigned n = (unsigned)(argc - first);
        if (n < v->min_args) {
                (void)usage_error(v, "\"%s%s%s\" needs %s", v->name, v->sub ? " " : "", strempty(v->sub),
                                  v->args);
                return EXIT_USAGE;
        }
        if (n > v->max_args) {
                (void)usage_error(v, "Too many arguments for \"%s%s%s\": \"%.*s\"", v->name,
                                  v->sub ? " " : "", strempty(v->sub),
                                  (int)utf8_prefix_len(argv[first + v->max_args], 64),
                                  argv[first + v->max_args]);
                return EXIT_USAGE;
        }

        /* The verb's argv: the verb, the sub-command, then the positionals. */
        _cleanup_free_ char **vargv = calloc(n + 3, sizeof(char *));
        if (!vargv)
                return log_oom(), EXIT_FAILURE;
        int k = 0;
        vargv[k++] = argv[0];
        if (v->sub)
                vargv[k++] = argv[1];
        for (int i = first; i < argc; i++)
                vargv[k++] = argv[i];

        (void)signal(SIGINT, on_sigint);
        r = bus_connect_user(&bus);
        if (r < 0)
                return EXIT_FAILURE;
        r = v->run(k, vargv, bus);
        return exit_status_of(r);
}

int main(int argc, char *argv[])
{
        log_set_prefix("fluffctl");
        log_parse_environment();
        /* numbers as numbers, at a precision a person or a script wants
         * (0.924055, not 0.92405480100000004) */
        (void)json_c_set_serialization_double_format("%.6g", JSON_C_OPTION_GLOBAL);
        int r = parse_global_options(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;
        return dispatch(argc - optind, argv + optind);
}
