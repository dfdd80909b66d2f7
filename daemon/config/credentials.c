/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "config.h"
#include "credentials.h"

#define CREDENTIALS_FILE_MAX 4096

Credentials *credentials_free(Credentials *c)
{
        if (!c)
                return NULL;
        free(c->site);
        erase_and_free(c->username);
        erase_and_free(c->api_key);
        free(c);
        return NULL;
}

static bool printable_token(const char *s, size_t max, bool allow_colon)
{
        size_t n = 0;
        if (!s)
                return false;
        for (; s[n]; n++)
                if ((unsigned char)s[n] <= ' ' || (unsigned char)s[n] >= 0x7f ||
                    (!allow_colon && s[n] == ':'))
                        return false;
        return n >= 1 && n <= max;
}

bool credentials_username_valid(const char *s)
{
        return printable_token(s, CREDENTIALS_USERNAME_MAX, false);
}

bool credentials_api_key_valid(const char *s)
{
        return printable_token(s, CREDENTIALS_API_KEY_MAX, true);
}

int credentials_new(const char *username, const char *api_key, Credentials **ret)
{
        if (!credentials_username_valid(username) || !credentials_api_key_valid(api_key))
                return -EINVAL;
        _cleanup_(credentials_freep) Credentials *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->username = strdup(username);
        c->api_key = strdup(api_key);
        if (!c->username || !c->api_key)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

/* What config_parse_site() returns: the site as written and nothing else. */
static bool site_valid(const char *site)
{
        _cleanup_free_ char *norm = NULL;
        if (!site || config_parse_site(site, &norm, NULL, NULL) < 0)
                return false;
        return streq(norm, site);
}

int credentials_set_site(Credentials *c, const char *site)
{
        if (!c || !site_valid(site))
                return -EINVAL;
        char *s = strdup(site);
        if (!s)
                return -ENOMEM;
        free(c->site);
        c->site = s;
        return 0;
}

bool credentials_match_site(const Credentials *c, const char *site)
{
        const char *mine = c && c->site ? c->site : CONFIG_SITE_DEFAULT;
        return streq(mine, site ? site : CONFIG_SITE_DEFAULT);
}

int credentials_default_path(char **ret)
{
        return xdg_fluff_dir("CONFIG", "credentials", ret);
}

/* Every message names the file and, at most, a line number: the content may
 * be the key itself (a key pasted on a line of its own, a typo in "api_key"). */
static int fail(Error *error, int r, const char *path, unsigned line, const char *what)
{
        if (line > 0)
                return error_setf(error, r, "%s:%u: %s", path, line, what);
        return error_setf(error, r, "%s: %s", path, what);
}

static char *strip(char *s)
{
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                s[--n] = 0;
        return s;
}

static int parse(const char *path, char *text, Credentials **ret, Error *error)
{
        const char *user = NULL, *key = NULL, *site = NULL;
        unsigned line = 0;

        for (char *l = text, *next; l; l = next) {
                next = strchr(l, '\n');
                if (next)
                        *next++ = 0;
                line++;
                char *s = strip(l);
                if (!*s || *s == '#')
                        continue;
                char *eq = strchr(s, '=');
                if (!eq)
                        return fail(error, -EBADMSG, path, line,
                                    "expected \"username = …\" or \"api_key = …\"");
                *eq = 0;
                char *k = strip(s), *v = strip(eq + 1);
                if (streq(k, "username")) {
                        if (user)
                                return fail(error, -EBADMSG, path, line, "the username is given twice");
                        if (!credentials_username_valid(v))
                                return fail(error, -EBADMSG, path, line,
                                            "the username is empty or not valid");
                        user = v;
                } else if (streq(k, "api_key")) {
                        if (key)
                                return fail(error, -EBADMSG, path, line, "the API key is given twice");
                        if (!credentials_api_key_valid(v))
                                return fail(error, -EBADMSG, path, line,
                                            "the API key is empty or not valid");
                        key = v;
                } else if (streq(k, "site")) {
                        if (site)
                                return fail(error, -EBADMSG, path, line, "the site is given twice");
                        if (!site_valid(v))
                                return fail(error, -EBADMSG, path, line,
                                            "the site is not a valid https:// address");
                        site = v;
                } else
                        return fail(error, -EBADMSG, path, line,
                                    "unknown key (expected \"site\", \"username\" or \"api_key\")");
        }
        if (!user)
                return fail(error, -EBADMSG, path, 0, "no username in the file");
        if (!key)
                return fail(error, -EBADMSG, path, 0, "no api_key in the file");
        _cleanup_(credentials_freep) Credentials *c = NULL;
        int r = credentials_new(user, key, &c);
        if (r < 0)
                return r;
        if (site) {
                r = credentials_set_site(c, site);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

/* Parsing splits the buffer with NULs, so erase_and_free() (which stops at the
 * first NUL) would leave the key line behind: wipe the whole buffer. */
static void erase_file_bufferp(char **p)
{
        if (*p) {
                explicit_bzero(*p, CREDENTIALS_FILE_MAX + 2);
                free(*p);
        }
}

int credentials_load(const char *path, Credentials **ret, Error *error)
{
        _cleanup_free_ char *default_path = NULL;
        _cleanup_(erase_file_bufferp) char *text = NULL;
        struct stat st;
        size_t have = 0;
        int r;

        if (!path) {
                r = credentials_default_path(&default_path);
                if (r < 0)
                        return r;
                path = default_path;
        }

        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
                if (errno == ENOENT)
                        return -ENOENT;
                if (errno == ELOOP)
                        return fail(error, -EPERM, path, 0,
                                    "is a symbolic link; refusing to read a login from it");
                r = -errno;
                return fail(error, r, path, 0, strerror(-r));
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                return fail(error, r, path, 0, strerror(-r));
        }
        if (!S_ISREG(st.st_mode))
                return fail(error, -EPERM, path, 0,
                            "is not a regular file; refusing to read a login from it");
        if (st.st_uid != geteuid())
                return fail(error, -EPERM, path, 0,
                            "belongs to another user; refusing to read a login from it");
        if (st.st_mode & 0077) {
                /* Fixed rather than refused: the file is ours, and refusing would
                 * only log the user out. Others may have read it meanwhile. */
                if (fchmod(fd, 0600) < 0) {
                        r = -errno;
                        return fail(error, r, path, 0, "is readable by others and its mode cannot be fixed");
                }
                log_warning("Credentials file %s was accessible to other users (mode %03o); its mode is now "
                            "0600. "
                            "Consider creating a new API key on the site.",
                            path, (unsigned)(st.st_mode & 0777));
        }
        if (st.st_size > CREDENTIALS_FILE_MAX)
                return fail(error, -EBADMSG, path, 0, "is too large to be a credentials file");

        text = calloc(1, CREDENTIALS_FILE_MAX + 2);
        if (!text)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, text + have, CREDENTIALS_FILE_MAX + 1 - have);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        return fail(error, r, path, 0, strerror(-r));
                }
                if (n == 0)
                        break;
                have += (size_t)n;
                if (have > CREDENTIALS_FILE_MAX)
                        return fail(error, -EBADMSG, path, 0, "is too large to be a credentials file");
        }
        if (strlen(text) != have)
                return fail(error, -EBADMSG, path, 0, "contains a NUL byte");
        return parse(path, text, ret, error);
}

int credentials_save(const char *path, const Credentials *c)
{
        _cleanup_free_ char *default_path = NULL, *dir = NULL;
        _cleanup_erase_ char *text = NULL;
        int r, n;

        if (!c || !credentials_username_valid(c->username) || !credentials_api_key_valid(c->api_key))
                return -EINVAL;
        if (!path) {
                r = credentials_default_path(&default_path);
                if (r < 0)
                        return r;
                path = default_path;
        }
        dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                r = mkdir_parents(dir, 0700);
                if (r < 0)
                        return r;
        }
        if (c->site && !site_valid(c->site))
                return -EINVAL;
        n = asprintf(&text,
                     "# Fluff login. Delete this file (or run \"fluffctl logout --forget\") to forget it.\n"
                     "%s%s%s"
                     "username = %s\n"
                     "api_key = %s\n",
                     c->site ? "site = " : "", strempty(c->site), c->site ? "\n" : "", c->username,
                     c->api_key);
        if (n < 0) {
                text = NULL;
                return -ENOMEM;
        }
        return write_file_atomic(path, text, (size_t)n, 0600);
}

int credentials_remove(const char *path)
{
        _cleanup_free_ char *default_path = NULL;
        int r;

        if (!path) {
                r = credentials_default_path(&default_path);
                if (r < 0)
                        return r;
                path = default_path;
        }
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}
