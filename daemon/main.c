/* SPDX-License-Identifier: MIT */
/* fluffd: builds every layer bottom up (core, services, the job runner, the
 * features, the bus adapter), runs the loop, and tears them down in reverse.
 * daemon/README.md describes the layers. */
#include <getopt.h>
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "core/context.h"
#include "dbus/server.h"
#include "embed/embed.h"
#include "fluff/util.h"
#include "images.h"
#include "jobs/runner.h"
#include "login/login.h"
#include "predict/predict.h"
#include "services/backbone.h"
#include "services/outbox.h"
#include "services/taste-history.h"
#include "services/taste.h"
#include "vk.h"
#include "watch/watch.h"
#include "work/work.h"

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
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"verbose", no_argument, NULL, 'v'},
                {"self-test", no_argument, NULL, ARG_SELF_TEST},
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

typedef struct Fluffd {
        Context *ctx;              /* owned */
        BackboneService *backbone; /* owned */
        TasteService *taste;       /* owned */
        Outbox *outbox;            /* owned */
        JobRunner *runner;         /* owned */
        Embed *embed;              /* owned */
        Login *login;              /* owned */
        BusServer *server;         /* owned */
} Fluffd;

static void fluffd_done(Fluffd *f)
{
        /* Jobs first: they may hold work items, requests and bus messages;
         * their removal still reaches the bus. */
        f->runner = job_runner_free(f->runner);
        f->login = login_free(f->login);
        f->outbox = outbox_free(f->outbox);
        /* The pool drops or finishes its items before the services they borrow go. */
        if (f->ctx)
                f->ctx->work = work_pool_free(f->ctx->work);
        f->backbone = backbone_service_free(f->backbone);
        f->taste = taste_service_free(f->taste);
        f->embed = embed_free(f->embed);
        f->server = bus_server_free(f->server);
        f->ctx = context_free(f->ctx);
}

static int fluffd_build(Fluffd *f)
{
        Context *ctx;
        int r;

        r = context_new(&f->ctx);
        if (r < 0)
                return r;
        ctx = f->ctx;
        /* A kill -9 while a crop was written leaves its temporary: the context
         * sweeps the images folder, the crop folders are swept here, so none
         * waits for the next prediction or watch run. */
        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *dir = NULL;
                if ((i == 0 ? predict_dir(&dir) : watch_dir(&dir)) >= 0)
                        (void)images_remove_temporaries(dir);
        }

        r = backbone_service_new(ctx->event, ctx->data_dir, &f->backbone);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the backbone: %m");
        r = taste_service_new(ctx->data_dir, ctx->config->like_threshold, &f->taste);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the taste model: %m");
        r = taste_history_reconcile(f->taste, ctx->store);
        if (r < 0)
                log_warning_errno(r, "Failed to check the model history, ignoring: %m");
        r = outbox_new(ctx->event, ctx->store, ctx->e621, &ctx->session, &ctx->counts, ctx->events,
                       &f->outbox);
        if (r < 0)
                return log_oom();

        r = job_runner_new(ctx->event, ctx->events, &ctx->session, f->taste, f->backbone, &f->runner);
        if (r < 0)
                return log_oom();
        r = job_runner_persist_ids(f->runner, ctx->store);
        if (r < 0)
                log_warning_errno(r, "Failed to read the last job id, starting at 1: %m");

        r = embed_new(ctx, f->backbone, f->runner, &f->embed);
        if (r < 0)
                return log_error_errno(r, "Failed to set up embedding: %m");
        embed_refresh_embedded(f->embed);
        r = login_new(ctx, f->outbox, f->runner, &f->login);
        if (r < 0)
                return log_oom();

        r = bus_server_new(&(BusFeatures){.ctx = ctx,
                                          .backbone = f->backbone,
                                          .taste = f->taste,
                                          .outbox = f->outbox,
                                          .runner = f->runner,
                                          .login = f->login,
                                          .embed = f->embed},
                           &f->server);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the bus objects: %m");
        return 0;
}

static int fluffd_run(Fluffd *f)
{
        int r;

        r = bus_server_start(f->server);
        if (r < 0)
                return r;
        outbox_kick(f->outbox); /* votes queued before a stop or a crash */

        r = sd_event_loop(f->ctx->event);
        (void)sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        log_info("Stopping.");
        return 0;
}

int main(int argc, char *argv[])
{
        Fluffd f = {};
        int r;

        /* fluffd holds the API key: no core dump, and no ptrace by another
         * process of the user, may read it (the unit's LimitCORE=0 too, for
         * what runs before this line) */
        (void)setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

        /* lavapipe starts a thread per online CPU and makes them meet after
         * every dispatch: in a container or under CPUAffinity= that allows
         * fewer CPUs than are online, the extra threads only take turns and
         * each dispatch waits for the last of them. The user's own
         * LP_NUM_THREADS wins. */
        char cpus[16];
        snprintf(cpus, sizeof(cpus), "%u", cpus_available());
        (void)setenv("LP_NUM_THREADS", cpus, 0);

        /* glibc's malloc, tuned for a daemon whose peak is its training
         * (issue 16). An arena per thread (up to 8 a core) each keeps its
         * own freed pages and fragments: two arenas shared by the loop and
         * the workers keep less. And a fixed mmap threshold: glibc's own
         * rises (up to 32 MB) after the first large block is freed, after
         * which the next large buffers (a training's rows and folds, the
         * forward pass's batches) come from the heap and stay resident
         * once freed; at a fixed 128 KB they are mapped and go back to the
         * kernel when freed. Measured on lavapipe, same store (2,572 posts,
         * train --time 1m): the training's VmHWM 297 -> 283 MB and 208 ->
         * 175 MB after it in a fresh fluffd; embed then train in one
         * process, 391 -> 381 MB at the training's peak and 269 -> 232 MB
         * after. A user's GLIBC_TUNABLES decides instead. */
        if (!getenv("GLIBC_TUNABLES")) {
                (void)mallopt(M_ARENA_MAX, 2);
                (void)mallopt(M_MMAP_THRESHOLD, 128 << 10);
        }

        log_set_prefix("fluffd");
        log_parse_environment();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        if (arg_self_test) {
                r = vk_self_test();
                return r < 0 ? 1 : 0;
        }

        r = fluffd_build(&f);
        if (r >= 0)
                r = fluffd_run(&f);
        fluffd_done(&f);
        return r < 0 ? 1 : 0;
}
