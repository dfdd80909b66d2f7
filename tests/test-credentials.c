/* SPDX-License-Identifier: MIT */
/* The remembered login. What must survive bad input: a malformed file gives
 * an error without its content; a too-open file is fixed with a warning; a
 * symlink or a file of another kind is refused; the key appears in no error
 * and no log line; a save leaves no temporary file. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "credentials.h"
#include "fluff/util.h"
#include "tests.h"

#define KEY "Zq8XvT3kPjW9mRb2LsYd4HcN"

static char *dir;

static char *path_in(const char *name)
{
        char *p;
        if (!dir)
                dir = test_tmpdir();
        ASSERT_TRUE(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

/* Runs credentials_load with stderr captured, and checks neither the error
 * nor anything logged contains the key. */
static int load_quietly(const char *path, Credentials **ret, Error *error, char **ret_log)
{
        _cleanup_free_ char *logpath = path_in("stderr.log");
        fflush(stderr);
        int saved = dup(STDERR_FILENO);
        int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_TRUE(saved >= 0 && fd >= 0);
        ASSERT_TRUE(dup2(fd, STDERR_FILENO) >= 0);
        close(fd);
        int r = credentials_load(path, ret, error);
        fflush(stderr);
        ASSERT_TRUE(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);

        char *log = NULL;
        ASSERT_OK(read_file_full(logpath, 1 << 20, &log, NULL));
        (void)unlink(logpath);
        if (strstr(log, KEY))
                TEST_FAIL("the key was logged: %s", log);
        if (error && strstr(error->message, KEY))
                TEST_FAIL("the key is in the error: %s", error->message);
        if (error && strstr(error->message, KEY + 4))
                TEST_FAIL("part of the key is in the error: %s", error->message);
        if (ret_log)
                *ret_log = log;
        else
                free(log);
        return r;
}

static void assert_no_temporaries(void)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        ASSERT_TRUE(d);
        while ((de = readdir(d)))
                if (strstr(de->d_name, ".tmp"))
                        TEST_FAIL("temporary file left behind: %s", de->d_name);
        closedir(d);
}

TEST(validation)
{
        Credentials *c = NULL;
        ASSERT_TRUE(credentials_username_valid("some_user-1.2"));
        ASSERT_FALSE(credentials_username_valid(""));
        ASSERT_FALSE(credentials_username_valid("a b"));
        ASSERT_FALSE(credentials_username_valid("a:b"));
        ASSERT_FALSE(credentials_username_valid("a\nb"));
        ASSERT_FALSE(credentials_username_valid(NULL));
        char longname[80];
        memset(longname, 'x', sizeof longname - 1);
        longname[sizeof longname - 1] = 0;
        ASSERT_FALSE(credentials_username_valid(longname));
        ASSERT_TRUE(credentials_api_key_valid(KEY));
        ASSERT_FALSE(credentials_api_key_valid(""));
        ASSERT_FALSE(credentials_api_key_valid("has space"));
        ASSERT_FALSE(credentials_api_key_valid("tab\there"));
        ASSERT_ERROR(credentials_new("bad name", KEY, &c), EINVAL);
        ASSERT_ERROR(credentials_new("user", "", &c), EINVAL);
        ASSERT_TRUE(c == NULL);
}

TEST(round_trip_mode_and_atomicity)
{
        _cleanup_free_ char *p = NULL;
        Error err = {};
        _cleanup_(credentials_freep) Credentials *c = NULL, *back = NULL;
        struct stat st;

        if (!dir)
                dir = test_tmpdir();
        ASSERT_TRUE(asprintf(&p, "%s/cfg/fluff/credentials", dir) > 0);
        ASSERT_OK(credentials_new("fluffy_user", KEY, &c));
        ASSERT_OK(credentials_save(p, c));
        ASSERT_EQ(stat(p, &st), 0);
        ASSERT_EQ(st.st_mode & 0777, 0600);
        _cleanup_free_ char *folder = NULL;
        ASSERT_TRUE(asprintf(&folder, "%s/cfg/fluff", dir) > 0);
        ASSERT_EQ(stat(folder, &st), 0);
        ASSERT_EQ(st.st_mode & 0777, 0700);

        ASSERT_OK(load_quietly(p, &back, &err, NULL));
        ASSERT_STREQ(back->username, "fluffy_user");
        ASSERT_STREQ(back->api_key, KEY);

        /* overwrite: still 0600, no temporaries left in the folder */
        credentials_free(c);
        ASSERT_OK(credentials_new("other", "k2", &c));
        ASSERT_OK(credentials_save(p, c));
        ASSERT_EQ(stat(p, &st), 0);
        ASSERT_EQ(st.st_mode & 0777, 0600);
        DIR *d = opendir(folder);
        struct dirent *de;
        unsigned files = 0;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.') {
                        files++;
                        ASSERT_STREQ(de->d_name, "credentials");
                }
        closedir(d);
        ASSERT_EQ(files, 1);
        credentials_free(back);
        back = NULL;
        ASSERT_OK(load_quietly(p, &back, NULL, NULL));
        ASSERT_STREQ(back->username, "other");

        ASSERT_OK(credentials_remove(p));
        ASSERT_EQ(access(p, F_OK), -1);
        ASSERT_OK(credentials_remove(p)); /* forgetting twice is fine */
        ASSERT_ERROR(credentials_load(p, &back, NULL), ENOENT);
        ASSERT_ERROR(credentials_save(p, NULL), EINVAL);
}

TEST(default_path)
{
        _cleanup_free_ char *p = NULL;
        ASSERT_EQ(setenv("XDG_CONFIG_HOME", "/x/conf", 1), 0);
        ASSERT_OK(credentials_default_path(&p));
        ASSERT_STREQ(p, "/x/conf/fluff/credentials");
        ASSERT_EQ(unsetenv("XDG_CONFIG_HOME"), 0);
}

TEST(too_open_permissions_are_fixed)
{
        _cleanup_free_ char *p = path_in("open-creds"), *log = NULL;
        _cleanup_(credentials_freep) Credentials *c = NULL, *back = NULL;
        struct stat st;

        ASSERT_OK(credentials_new("u", KEY, &c));
        ASSERT_OK(credentials_save(p, c));
        ASSERT_EQ(chmod(p, 0644), 0);
        ASSERT_OK(load_quietly(p, &back, NULL, &log));
        ASSERT_STREQ(back->api_key, KEY);
        ASSERT_EQ(stat(p, &st), 0);
        ASSERT_EQ(st.st_mode & 0777, 0600);
        fprintf(stderr, "  logged: %s", log);
        ASSERT_TRUE(strstr(log, "0600") && strstr(log, "new API key"));
        free(log);
        log = NULL;
        /* fixed once: no warning the second time */
        credentials_free(back);
        back = NULL;
        ASSERT_OK(load_quietly(p, &back, NULL, &log));
        ASSERT_TRUE(strlen(log) == 0);
}

TEST(untrusted_files_refused)
{
        _cleanup_free_ char *real = path_in("real-creds"), *link = path_in("link-creds");
        Error err = {};
        _cleanup_(credentials_freep) Credentials *c = NULL;
        Credentials *back = NULL;

        ASSERT_OK(credentials_new("u", KEY, &c));
        ASSERT_OK(credentials_save(real, c));
        ASSERT_EQ(symlink(real, link), 0);
        ASSERT_ERROR(load_quietly(link, &back, &err, NULL), EPERM);
        fprintf(stderr, "  %s\n", err.message);
        ASSERT_TRUE(strstr(err.message, "symbolic link"));
        err = (Error){};

        _cleanup_free_ char *fifo = path_in("fifo-creds");
        ASSERT_EQ(mkfifo(fifo, 0600), 0);
        ASSERT_ERROR(load_quietly(fifo, &back, &err, NULL), EPERM);
        fprintf(stderr, "  %s\n", err.message);
        ASSERT_TRUE(back == NULL);
}

TEST(malformed_files)
{
        static const char *const bad[] = {
                KEY "\n",                                                /* the key pasted alone */
                "username = u\n" KEY "\n",                               /* no "=" */
                "username = u\napi-key = " KEY "\n",                     /* misspelt key name */
                "username = u\n",                                        /* no key */
                "api_key = " KEY "\n",                                   /* no user */
                "username = u\napi_key = " KEY "\napi_key = " KEY "x\n", /* twice */
                "username = u s\napi_key = " KEY "\n",                   /* bad name */
                "username = u\napi_key = " KEY " " KEY "\n",             /* a space in the key */
                "username = u\napi_key =\n",                             /* empty key */
                "",                                                      /* empty file */
        };
        _cleanup_free_ char *p = path_in("bad-creds");

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Error err = {};
                Credentials *c = NULL;
                ASSERT_OK(write_file_atomic(p, bad[i], strlen(bad[i]), 0600));
                int r = load_quietly(p, &c, &err, NULL);
                if (r != -EBADMSG)
                        TEST_FAIL("case %zu: expected -EBADMSG, got %d", i, r);
                ASSERT_TRUE(c == NULL);
                ASSERT_TRUE(strstr(err.message, p));
                fprintf(stderr, "  %s\n", err.message);
        }

        /* binary junk with a NUL, and a huge file */
        char junk[64] = "username = u\napi_key = " KEY "\n";
        junk[5] = 0;
        ASSERT_OK(write_file_atomic(p, junk, sizeof junk, 0600));
        Error err = {};
        Credentials *c = NULL;
        ASSERT_ERROR(load_quietly(p, &c, &err, NULL), EBADMSG);
        err = (Error){};
        _cleanup_free_ char *big = malloc(10000);
        memset(big, 'k', 10000);
        ASSERT_OK(write_file_atomic(p, big, 10000, 0600));
        ASSERT_ERROR(load_quietly(p, &c, &err, NULL), EBADMSG);

        /* comments, blank lines, CRLF and spaces are fine */
        const char ok[] = "# mine\r\n\r\n  username\t=  u  \r\napi_key=" KEY "\r\n";
        ASSERT_OK(write_file_atomic(p, ok, sizeof ok - 1, 0600));
        ASSERT_OK(load_quietly(p, &c, NULL, NULL));
        ASSERT_STREQ(c->username, "u");
        ASSERT_STREQ(c->api_key, KEY);
        credentials_free(c);
        assert_no_temporaries();
}

TEST(bound_to_their_site)
{
        _cleanup_free_ char *p = path_in("site-creds");
        _cleanup_(credentials_freep) Credentials *c = NULL, *back = NULL, *legacy = NULL;

        /* a login made for one site is used there only */
        ASSERT_OK(credentials_new("fluffy_user", KEY, &c));
        ASSERT_OK(credentials_set_site(c, "http://127.0.0.1:4321"));
        ASSERT_OK(credentials_save(p, c));
        ASSERT_OK(load_quietly(p, &back, NULL, NULL));
        ASSERT_STREQ(back->site, "http://127.0.0.1:4321");
        ASSERT_TRUE(credentials_match_site(back, "http://127.0.0.1:4321"));
        ASSERT_FALSE(credentials_match_site(back, "http://127.0.0.1:4322"));
        ASSERT_FALSE(credentials_match_site(back, "https://e621.net"));
        ASSERT_FALSE(credentials_match_site(back, "https://attacker.example"));

        /* only a normalised site is accepted, in memory and in the file */
        ASSERT_ERROR(credentials_set_site(c, "https://E621.net/"), EINVAL);
        ASSERT_ERROR(credentials_set_site(c, "http://example.org"), EINVAL);
        ASSERT_ERROR(credentials_set_site(c, "https://e621.net\nx"), EINVAL);
        const char bad[] = "site = http://example.org\nusername = u\napi_key = " KEY "\n";
        ASSERT_OK(write_file_atomic(p, bad, sizeof bad - 1, 0600));
        Error err = {};
        Credentials *none = NULL;
        ASSERT_ERROR(load_quietly(p, &none, &err, NULL), EBADMSG);
        ASSERT_TRUE(strstr(err.message, ":1:"));

        /* a file from before sites were recorded belongs to the real site */
        const char old[] = "username = u\napi_key = " KEY "\n";
        ASSERT_OK(write_file_atomic(p, old, sizeof old - 1, 0600));
        ASSERT_OK(load_quietly(p, &legacy, NULL, NULL));
        ASSERT_TRUE(legacy->site == NULL);
        ASSERT_TRUE(credentials_match_site(legacy, "https://e621.net"));
        ASSERT_FALSE(credentials_match_site(legacy, "https://e926.net"));
        ASSERT_FALSE(credentials_match_site(legacy, "https://evil.example"));
}

TEST(cleanup)
{
        _cleanup_free_ char *cmd = NULL;
        ASSERT_TRUE(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
        ASSERT_EQ(system(cmd), 0);
}

TEST_MAIN()
