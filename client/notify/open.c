/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "notify.h"

extern char **environ;

static int on_opener_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
        const char *url = userdata;

        if (si->si_code != CLD_EXITED || si->si_status != 0)
                log_warning("xdg-open could not open \"%s\" (%s %d).", url,
                            si->si_code == CLD_EXITED ? "exit status" : "signal", si->si_status);
        return 0;
}

/* environ without any activation variables, plus the token's; the strings are borrowed. */
static char **opener_env(char *const *tok_vars)
{
        size_t n = 0, k = 0;
        char **env;

        while (environ[n])
                n++;
        env = calloc(n + 3, sizeof(char *));
        if (!env)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!strneq(environ[i], "XDG_ACTIVATION_TOKEN=", 21) &&
                    !strneq(environ[i], "DESKTOP_STARTUP_ID=", 19))
                        env[k++] = environ[i];
        for (size_t i = 0; tok_vars && tok_vars[i]; i++)
                env[k++] = tok_vars[i];
        return env;
}

int open_url(Context *c, const char *url, const char *token)
{
        _cleanup_(sd_event_source_unrefp) sd_event_source *s = NULL;
        _cleanup_free_ char *copy = NULL, *xdg_token = NULL, *startup_id = NULL;
        _cleanup_free_ char **env = NULL;
        posix_spawnattr_t attr;
        sigset_t none;
        pid_t pid;
        int r;

        if (!url_is_web(url))
                return -EINVAL;
        copy = strdup(url);
        if (!copy)
                return log_oom();
        /* The URL is one argument of its own, never parsed by a shell; the
         * child starts with no signal blocked, unlike this loop. */
        char *argv[] = {(char *)"xdg-open", copy, NULL};
        char *tok_vars[3] = {};
        if (token) {
                if (asprintf(&xdg_token, "XDG_ACTIVATION_TOKEN=%s", token) < 0 ||
                    asprintf(&startup_id, "DESKTOP_STARTUP_ID=%s", token) < 0)
                        return log_oom();
                tok_vars[0] = xdg_token;
                tok_vars[1] = startup_id;
        }
        env = opener_env(tok_vars);
        if (!env)
                return log_oom();
        sigemptyset(&none);
        r = posix_spawnattr_init(&attr);
        if (r != 0)
                return log_warning_errno(r, "Failed to prepare xdg-open: %m");
        r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
        if (r == 0)
                r = posix_spawnp(&pid, "xdg-open", NULL, &attr, argv, env);
        (void)posix_spawnattr_destroy(&attr);
        if (r == ENOENT)
                return log_warning_errno(r,
                                         "Cannot open \"%s\": xdg-open is missing (it comes with "
                                         "the Debian package xdg-utils).",
                                         url);
        if (r != 0)
                return log_warning_errno(r, "Failed to run xdg-open: %m");
        log_debug("Opening \"%s\" (xdg-open, pid %d).", url, (int)pid);

        r = sd_event_add_child(c->event, &s, pid, WEXITED, on_opener_exit, copy);
        if (r < 0) {
                /* Unwatched, it is reaped by nobody until we exit; harmless. */
                log_debug_errno(r, "Failed to watch xdg-open, ignoring: %m");
                return 0;
        }
        (void)sd_event_source_set_destroy_callback(s, free);
        TAKE_PTR(copy);
        (void)sd_event_source_set_floating(s, true);
        return 0;
}
