/* SPDX-License-Identifier: MIT */
/* Every rule of the config file. What must survive bad input: a bad value is
 * an error naming file, line and key; an unknown key is a warning, once; a
 * missing file means defaults; FLUFF_SITE is held to the same rules. */
#include <sys/stat.h>

#include "config.h"
#include "fluff/util.h"
#include "tests.h"

static char *dir;

static const char *write_config(const char *text)
{
        static char *path;
        if (!dir)
                dir = test_tmpdir();
        free(path);
        ASSERT_TRUE(asprintf(&path, "%s/config", dir) > 0);
        ASSERT_OK(write_file_atomic(path, text, strlen(text), 0644));
        return path;
}

static Config *load_ok(const char *text)
{
        Config *c = NULL;
        Error err = {};
        const char *path = write_config(text);
        if (config_load(path, &c, &err) < 0)
                TEST_FAIL("config_load: %s", err.message);
        ASSERT_TRUE(!error_is_set(&err));
        return c;
}

/* Fails with an error naming the file, the line and the key. */
static void load_bad(const char *text, unsigned line, const char *key)
{
        Config *c = NULL;
        _cleanup_free_ char *want = NULL;
        Error err = {};
        const char *path = write_config(text);
        ASSERT_ERROR(config_load(path, &c, &err), EINVAL);
        ASSERT_TRUE(c == NULL);
        ASSERT_TRUE(error_is_set(&err));
        fprintf(stderr, "  %s\n", err.message);
        ASSERT_TRUE(asprintf(&want, "%s:%u: %s", path, line, key) > 0);
        if (!strstr(err.message, want))
                TEST_FAIL("error \"%s\" does not start with \"%s\"", err.message, want);
}

TEST(defaults)
{
        _cleanup_(config_freep) Config *c = NULL;
        (void)unsetenv("FLUFF_SITE");
        ASSERT_OK(config_new_default(&c));
        ASSERT_STREQ(c->site, "https://e621.net");
        ASSERT_NEAR(c->rate_limit, 1.0, 0);
        ASSERT_EQ(c->download_concurrency, 4);
        ASSERT_EQ(c->watch_max_per_run, 10);
        ASSERT_EQ(c->image_size, 448);
        ASSERT_EQ(c->crop, CROP_CENTRE);
        ASSERT_FALSE(c->include_animated);
        ASSERT_TRUE(c->like_favourites);
        ASSERT_EQ(c->max_image_bytes, IMAGE_MAX_BYTES_DEFAULT);
        ASSERT_EQ(c->max_image_pixels, IMAGE_MAX_PIXELS_DEFAULT);
}

TEST(missing_file_means_defaults)
{
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *missing = NULL;
        if (!dir)
                dir = test_tmpdir();
        ASSERT_TRUE(asprintf(&missing, "%s/nope/config", dir) > 0);
        ASSERT_OK(config_load(missing, &c, NULL));
        ASSERT_STREQ(c->site, "https://e621.net");
        ASSERT_TRUE(c->path == NULL);
        ASSERT_EQ(strv_length(c->warnings), 0);
}

TEST(default_path_follows_xdg)
{
        _cleanup_free_ char *p = NULL;
        ASSERT_EQ(setenv("XDG_CONFIG_HOME", "/somewhere/cfg", 1), 0);
        ASSERT_OK(config_default_path(&p));
        ASSERT_STREQ(p, "/somewhere/cfg/fluff/config");
        ASSERT_EQ(unsetenv("XDG_CONFIG_HOME"), 0);
}

TEST(every_key)
{
        _cleanup_(config_freep) Config *c = load_ok("# Fluff\n"
                                                    "\n"
                                                    "site = https://e926.net/\n"
                                                    "  rate_limit=2\n"
                                                    "download_concurrency = 16\n"
                                                    "image_size = 224   # the backbone's input\n"
                                                    "crop = attention\n"
                                                    "include_animated = yes\n"
                                                    "like_favourites = off\n"
                                                    "max_image_bytes = 20MiB\n"
                                                    "max_image_pixels = \"100M\"\n");
        ASSERT_STREQ(c->site, "https://e926.net");
        ASSERT_NEAR(c->rate_limit, 2.0, 0);
        ASSERT_EQ(c->download_concurrency, 16);
        ASSERT_EQ(c->image_size, 224);
        ASSERT_EQ(c->crop, CROP_ATTENTION);
        ASSERT_TRUE(c->include_animated);
        ASSERT_FALSE(c->like_favourites);
        ASSERT_EQ(c->max_image_bytes, 20u << 20);
        ASSERT_EQ(c->max_image_pixels, 100000000u);
        ASSERT_EQ(strv_length(c->warnings), 0);
        ASSERT_TRUE(c->path != NULL);
}

TEST(crop_spellings_and_bools)
{
        Config *c = load_ok("crop = center\ninclude_animated = TRUE\nlike_favourites = 0\n");
        ASSERT_EQ(c->crop, CROP_CENTRE);
        ASSERT_TRUE(c->include_animated);
        ASSERT_FALSE(c->like_favourites);
        config_free(c);
        c = load_ok("crop = centre\n");
        ASSERT_EQ(c->crop, CROP_CENTRE);
        config_free(c);
        load_bad("crop = entropy\n", 1, "crop");
        load_bad("\ninclude_animated = maybe\n", 2, "include_animated");
        load_bad("like_favourites =\n", 1, "like_favourites");
}

TEST(rate_limit)
{
        Config *c = load_ok("rate_limit = 0.5\n");
        ASSERT_NEAR(c->rate_limit, 0.5, 1e-12);
        config_free(c);
        /* above the site's hard limit: rejected, not clamped */
        load_bad("rate_limit = 2.01\n", 1, "rate_limit");
        load_bad("rate_limit = 5\n", 1, "rate_limit");
        load_bad("rate_limit = 0\n", 1, "rate_limit");
        load_bad("rate_limit = -1\n", 1, "rate_limit");
        load_bad("rate_limit = fast\n", 1, "rate_limit");
        load_bad("rate_limit = nan\n", 1, "rate_limit");
        load_bad("rate_limit = inf\n", 1, "rate_limit");
}

TEST(numbers_in_range)
{
        load_bad("download_concurrency = 0\n", 1, "download_concurrency");
        load_bad("watch_max_per_run = 0\n", 1, "watch_max_per_run");
        load_bad("watch_max_per_run = 321\n", 1, "watch_max_per_run");
        load_bad("download_concurrency = 17\n", 1, "download_concurrency");
        load_bad("download_concurrency = 4.5\n", 1, "download_concurrency");
        load_bad("image_size = 63\n", 1, "image_size");
        load_bad("image_size = 2049\n", 1, "image_size");
        load_bad("image_size = -448\n", 1, "image_size");
        load_bad("image_size = 99999999999999999999\n", 1, "image_size");
        Config *c = load_ok("image_size = 64\ndownload_concurrency = 1\nwatch_max_per_run = 320\n");
        ASSERT_EQ(c->image_size, 64);
        ASSERT_EQ(c->watch_max_per_run, 320);
        config_free(c);
        c = load_ok("image_size = 2048\nmax_image_bytes = 1048576\nmax_image_pixels = 1G\n");
        ASSERT_EQ(c->image_size, 2048);
        ASSERT_EQ(c->max_image_bytes, 1048576);
        ASSERT_EQ(c->max_image_pixels, 1000000000);
        config_free(c);
        load_bad("max_image_bytes = 1000\n", 1, "max_image_bytes");
        load_bad("max_image_bytes = 2G\n", 1, "max_image_bytes");
        load_bad("max_image_bytes = 5X\n", 1, "max_image_bytes");
        load_bad("max_image_bytes = 18446744073709551615G\n", 1, "max_image_bytes");
        load_bad("max_image_pixels = 999999\n", 1, "max_image_pixels");
        load_bad("max_image_pixels = 2G\n", 1, "max_image_pixels");
}

TEST(image_hosts)
{
        Config *c = load_ok("site = https://e621.net\n");
        ASSERT_TRUE(c->image_hosts == NULL); /* the real site's, chosen by the e621 client */
        config_free(c);
        c = load_ok("image_hosts = static1.e621.net, CDN.example.org\n");
        ASSERT_EQ(strv_length(c->image_hosts), 2);
        ASSERT_STREQ(c->image_hosts[0], "static1.e621.net");
        ASSERT_STREQ(c->image_hosts[1], "cdn.example.org");
        config_free(c);
        c = load_ok("image_hosts = none\n");
        ASSERT_TRUE(c->image_hosts && c->image_hosts[0] == NULL);
        config_free(c);
        /* host names only: no scheme, port, path, this computer or an address literal */
        load_bad("image_hosts = https://static1.e621.net\n", 1, "image_hosts");
        load_bad("image_hosts = static1.e621.net:443\n", 1, "image_hosts");
        load_bad("image_hosts = localhost\n", 1, "image_hosts");
        load_bad("image_hosts = 127.0.0.1\n", 1, "image_hosts");
        load_bad("image_hosts = 192.168.1.1\n", 1, "image_hosts");
        load_bad("image_hosts = [::1]\n", 1, "image_hosts");
        load_bad("image_hosts = ,\n", 1, "image_hosts");
        load_bad("image_hosts = caf\xc3\xa9.example\n", 1, "image_hosts");
}

TEST(score_and_list_keys)
{
        Config *c = load_ok("");
        ASSERT_NEAR(c->like_threshold, 0.5, 0);
        ASSERT_EQ(c->artist_cap, 3);
        config_free(c);
        c = load_ok("like_threshold = 0.7\nartist_cap = 0\n");
        ASSERT_NEAR(c->like_threshold, 0.7, 1e-12);
        ASSERT_EQ(c->artist_cap, 0);
        config_free(c);
        load_bad("like_threshold = 1\n", 1, "like_threshold");
        load_bad("like_threshold = 0\n", 1, "like_threshold");
        load_bad("like_threshold = nan\n", 1, "like_threshold");
        load_bad("artist_cap = 321\n", 1, "artist_cap");
        load_bad("artist_cap = -1\n", 1, "artist_cap");
}

TEST(lifecycle_keys)
{
        Config *c = load_ok("");
        ASSERT_EQ(c->model_keep, 10);
        ASSERT_NEAR(c->model_install_margin, 0.02, 0);
        ASSERT_TRUE(c->auto_sync);
        ASSERT_EQ(c->full_sync_interval_s, 86400);
        ASSERT_TRUE(c->auto_retrain);
        ASSERT_EQ(c->retrain_changes, 50);
        ASSERT_NEAR(c->retrain_fraction, 0.10, 0);
        ASSERT_EQ(c->retrain_budget_s, 300);
        ASSERT_FALSE(c->retrain_on_battery);
        ASSERT_EQ(c->sync_page_size, 320);
        ASSERT_EQ(c->train_image_posts, CONFIG_TRAIN_IMAGE_POSTS_DEFAULT);
        config_free(c);

        c = load_ok("sync_page_size = 16\n");
        ASSERT_EQ(c->sync_page_size, 16);
        config_free(c);
        load_bad("sync_page_size = 321\n", 1, "sync_page_size");
        load_bad("sync_page_size = 0\n", 1, "sync_page_size");

        c = load_ok("train_image_posts = 100\n");
        ASSERT_EQ(c->train_image_posts, 100);
        config_free(c);
        load_bad("train_image_posts = 99\n", 1, "train_image_posts");
        load_bad("train_image_posts = 1000001\n", 1, "train_image_posts");

        c = load_ok(
                "model_keep = 3\nmodel_install_margin = 0\nauto_sync = off\nfull_sync_interval = 6h\n"
                "auto_retrain = no\nretrain_changes = 1\nretrain_fraction = 25%\nretrain_budget = 1h30m\n"
                "retrain_on_battery = yes\n");
        ASSERT_EQ(c->model_keep, 3);
        ASSERT_NEAR(c->model_install_margin, 0.0, 0);
        ASSERT_FALSE(c->auto_sync);
        ASSERT_EQ(c->full_sync_interval_s, 6 * 3600);
        ASSERT_FALSE(c->auto_retrain);
        ASSERT_EQ(c->retrain_changes, 1);
        ASSERT_NEAR(c->retrain_fraction, 0.25, 1e-12);
        ASSERT_EQ(c->retrain_budget_s, 5400);
        ASSERT_TRUE(c->retrain_on_battery);
        config_free(c);
        c = load_ok("retrain_fraction = 0.5\nfull_sync_interval = 86400\n");
        ASSERT_NEAR(c->retrain_fraction, 0.5, 0);
        ASSERT_EQ(c->full_sync_interval_s, 86400);
        config_free(c);

        load_bad("model_keep = 0\n", 1, "model_keep");
        load_bad("model_install_margin = 1.5\n", 1, "model_install_margin");
        load_bad("model_install_margin = nan\n", 1, "model_install_margin");
        load_bad("auto_sync = maybe\n", 1, "auto_sync");
        load_bad("full_sync_interval = 30m\n", 1, "full_sync_interval");
        load_bad("full_sync_interval = 31d\n", 1, "full_sync_interval");
        load_bad("full_sync_interval = daily\n", 1, "full_sync_interval");
        load_bad("retrain_changes = 0\n", 1, "retrain_changes");
        load_bad("retrain_fraction = 0%\n", 1, "retrain_fraction");
        load_bad("retrain_fraction = 101%\n", 1, "retrain_fraction");
        load_bad("retrain_fraction = %\n", 1, "retrain_fraction");
        load_bad("retrain_fraction = 10%%\n", 1, "retrain_fraction");
        load_bad("retrain_budget = 4s\n", 1, "retrain_budget");
        load_bad("retrain_budget = 25h\n", 1, "retrain_budget");
}

TEST(sites)
{
        static const struct {
                const char *in, *out;
                bool warn;
        } good[] = {
                {"https://e621.net", "https://e621.net", false},
                {"HTTPS://E621.NET/", "https://e621.net", false},
                {"https://e926.net", "https://e926.net", false},
                {"http://127.0.0.1:8080", "http://127.0.0.1:8080", false},
                {"http://127.3.2.1", "http://127.3.2.1", false},
                {"http://localhost:9", "http://localhost:9", false},
                {"http://[::1]:8080/", "http://[::1]:8080", false},
                {"https://mirror.example.org", "https://mirror.example.org", true},
                {"https://192.168.1.5:8443", "https://192.168.1.5:8443", true},
        };
        static const char *const bad[] = {
                "http://e621.net",    /* plain http to the real site */
                "http://192.168.1.5", /* plain http on the network */
                "http://127.0.0.1.evil.example",
                "http://localhost.evil.example",
                "http://[::2]",
                "http://0x7f000001",
                "ftp://e621.net",
                "e621.net",
                "https://",
                "https:///x",
                "https://e621.net/posts",
                "https://e621.net?x=1",
                "https://user:pw@e621.net",
                "https://e621.net:0",
                "https://e621.net:65536",
                "https://e621.net:x",
                "https://e621 .net",
                "https://-e621.net",
                "https://[zz]",
                "",
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ char *site = NULL, *warning = NULL;
                Error reason = {};
                if (config_parse_site(good[i].in, &site, &reason, &warning) < 0)
                        TEST_FAIL("%s: %s", good[i].in, reason.message);
                ASSERT_STREQ(site, good[i].out);
                ASSERT_EQ(warning != NULL, good[i].warn);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *site = NULL;
                Error reason = {};
                if (config_parse_site(bad[i], &site, &reason, NULL) != -EINVAL)
                        TEST_FAIL("\"%s\" was accepted as %s", bad[i], site);
                ASSERT_TRUE(error_is_set(&reason) && site == NULL);
        }
        load_bad("# comment\nsite = http://e621.net\n", 2, "site");

        /* an unusual https site is accepted, with a warning kept and logged */
        Config *c = load_ok("site = https://mirror.example.org\n");
        ASSERT_EQ(strv_length(c->warnings), 1);
        ASSERT_TRUE(strstr(c->warnings[0], "API key"));
        config_free(c);
}

TEST(fluff_site_environment)
{
        Config *c = NULL;
        Error err = {};
        const char *path = write_config("site = https://e926.net\n");
        ASSERT_EQ(setenv("FLUFF_SITE", "http://127.0.0.1:4321/", 1), 0);
        ASSERT_OK(config_load(path, &c, NULL));
        ASSERT_STREQ(c->site, "http://127.0.0.1:4321");
        c = config_free(c);

        ASSERT_EQ(setenv("FLUFF_SITE", "http://example.com", 1), 0);
        ASSERT_ERROR(config_load(path, &c, &err), EINVAL);
        fprintf(stderr, "  %s\n", err.message);
        ASSERT_TRUE(strstr(err.message, "FLUFF_SITE"));
        ASSERT_TRUE(c == NULL);

        ASSERT_EQ(setenv("FLUFF_SITE", "", 1), 0); /* empty: ignored */
        ASSERT_OK(config_load(path, &c, NULL));
        ASSERT_STREQ(c->site, "https://e926.net");
        config_free(c);
        ASSERT_EQ(unsetenv("FLUFF_SITE"), 0);
}

TEST(unknown_keys_warned_once)
{
        Config *c = load_ok("colour = blue\n"
                            "image_size = 300\n"
                            "colour = red\n"
                            "api_key = do-not-put-it-here\n");
        ASSERT_EQ(c->image_size, 300);
        ASSERT_EQ(strv_length(c->warnings), 2);
        ASSERT_TRUE(strstr(c->warnings[0], ":1: unknown key \"colour\""));
        ASSERT_TRUE(strstr(c->warnings[1], ":4: unknown key \"api_key\""));
        /* the value of an unknown key is never repeated: it may be a secret */
        ASSERT_FALSE(strstr(c->warnings[1], "do-not-put-it-here"));
        config_free(c);
}

TEST(malformed_lines)
{
        load_bad("image_size = 224\njust words\n", 2, "expected");
        load_bad("= 5\n", 1, "a line has no key");
        load_bad("site = \"https://e621.net\n", 1, "site");
        load_bad("site = \"https://e621.net\" trailing\n", 1, "site");
        /* last value wins for a repeated key */
        Config *c = load_ok("image_size = 100\nimage_size = 200\n");
        ASSERT_EQ(c->image_size, 200);
        config_free(c);
        /* CRLF line ends and tabs */
        c = load_ok("image_size\t=\t320\r\ncrop = attention\r\n");
        ASSERT_EQ(c->image_size, 320);
        ASSERT_EQ(c->crop, CROP_ATTENTION);
        config_free(c);
}

TEST(not_a_config_file)
{
        Config *c = NULL;
        _cleanup_free_ char *big = malloc(70000);
        Error err = {};
        memset(big, 'a', 69999);
        big[69999] = 0;
        const char *path = write_config(big);
        ASSERT_ERROR(config_load(path, &c, &err), EFBIG);
        ASSERT_TRUE(strstr(err.message, path));
        err = (Error){};
        ASSERT_OK(write_file_atomic(path, "crop = centre\n\0site = x\n", 24, 0644));
        ASSERT_ERROR(config_load(path, &c, &err), EINVAL);
        ASSERT_TRUE(strstr(err.message, "NUL"));
        err = (Error){};
        /* a folder where the file should be */
        _cleanup_free_ char *sub = NULL;
        ASSERT_TRUE(asprintf(&sub, "%s/folder", dir) > 0);
        ASSERT_EQ(mkdir(sub, 0700), 0);
        ASSERT_TRUE(config_load(sub, &c, &err) < 0);
        ASSERT_TRUE(strstr(err.message, sub));
        ASSERT_EQ(rmdir(sub), 0);
}

TEST(cleanup)
{
        _cleanup_free_ char *cmd = NULL;
        ASSERT_TRUE(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
        ASSERT_EQ(system(cmd), 0);
}

TEST_MAIN()
