/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <termios.h>

#include "bus-util.h"
#include "ctl.h"
#include "fluff/bus.h"

#define API_KEY_MAX 256
/* Checking a key goes through the daemon's rate limiter and retries. */
#define LOGIN_TIMEOUT_USEC (120 * USEC_PER_SEC)

static void strip_line_end(char *s)
{
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
                s[--n] = 0;
}

/* The key comes from the terminal without echo, or as one line of standard
 * input; never from argv, where every user of the machine could read it. */
static int read_api_key(const char *username, char **ret)
{
        _cleanup_erase_ char *key = NULL;
        struct termios old, quiet;
        bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) >= 0;
        size_t size = 0;
        ssize_t n;

        if (tty) {
                fprintf(stderr, "API key for \"%s\" (from your e621 account settings): ", username);
                fflush(stderr);
                quiet = old;
                quiet.c_lflag &= ~(tcflag_t)ECHO;
                quiet.c_lflag |= ECHONL;
                if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0)
                        return log_error_errno(errno, "Failed to turn off echo on the terminal: %m");
        }
        n = getline(&key, &size, stdin);
        if (tty)
                (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        if (n < 0) {
                if (ferror(stdin))
                        return log_error_errno(errno, "Failed to read the API key: %m");
                return log_error_errno(ENODATA, "No API key given on standard input.");
        }
        strip_line_end(key);
        if (isempty(key))
                return log_error_errno(EINVAL, "The API key is empty.");
        if (strlen(key) > API_KEY_MAX)
                return log_error_errno(
                        EINVAL, "The API key is longer than %d characters; that is not a key.", API_KEY_MAX);
        *ret = TAKE_PTR(key);
        return 0;
}

int verb_login(int argc, char *argv[], sd_bus *bus)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_erase_ char *key = NULL;
        const char *user = argv[1];
        int r;

        if (isempty(user) || strlen(user) > 64)
                return log_error_errno(EINVAL, "Not a user name: \"%s\".", user);
        r = read_api_key(user, &key);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_call(bus, &m, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                           "Login");
        if (r >= 0)
                r = sd_bus_message_append(m, "ssb", user, key, arg_remember);
        if (r < 0)
                return log_error_errno(r, "Failed to build the login call: %m");
        /* The message holds a copy of the key: wipe it with the message. */
        (void)sd_bus_message_sensitive(m);
        r = sd_bus_call(bus, m, LOGIN_TIMEOUT_USEC, &error, &reply);
        if (r < 0)
                return bus_log_call_error("log in", &error, r);
        if (!arg_quiet)
                printf("Logged in as \"%s\"%s.\n", user,
                       arg_remember ? "; the key is saved for the next start" : " until fluffd stops");
        return 0;
}

int verb_logout(int argc, char *argv[], sd_bus *bus)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        ManagerInfo m = {};
        bool was_logged_in;
        int r;

        r = manager_info_get(bus, &m);
        if (r < 0)
                return r;
        was_logged_in = m.logged_in;
        manager_info_done(&m);
        r = sd_bus_call_method(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, "Logout",
                               &error, NULL, "b", arg_forget);
        if (r < 0)
                return bus_log_call_error("log out", &error, r);
        /* fluffd does not say whether a key was saved: claim no more than "none is left" */
        if (!arg_quiet)
                printf("%s%s.\n", was_logged_in ? "Logged out" : "Not logged in",
                       arg_forget ? "; no saved key is left" : "");
        return 0;
}

int verb_cancel(int argc, char *argv[], sd_bus *bus)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = job_path_from_arg(argv[1], &path);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, FLUFF_BUS_NAME, path, FLUFF_BUS_JOB_IFACE, "Cancel", &error, NULL, NULL);
        if (r < 0) {
                if (sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
                    sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD))
                        return log_error_errno(ENOENT, "No such job: \"%s\".", argv[1]);
                return bus_log_call_error("cancel the job", &error, r);
        }
        if (arg_json) {
                JobInfo j = {};
                if (job_info_get(bus, path, &j) >= 0)
                        job_info_print_json(&j);
                job_info_done(&j);
        } else if (!arg_quiet)
                printf("Cancelled job %s.\n", path + strlen(FLUFF_BUS_JOB_PREFIX "/"));
        return 0;
}
