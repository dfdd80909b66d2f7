/* SPDX-License-Identifier: MIT */
/* The e621 client against every fault the fake site can inject: transient
 * faults are retried until they pass, persistent ones end in the right errno
 * within a bounded time, and bad bodies become clear messages. What must
 * survive: the process, the loop, and the key's secrecy. */
#include <inttypes.h>

#include "test-e621-common.h"
#include "tests.h"

/* One search with a fault armed on /posts.json; the result in *r. */
static void search_with_fault(Result *r, const char *mode, int count, int retry_after)
{
        fixture(NULL);
        fake_site_clear_faults(&site);
        fake_site_reset_stats(&site);
        if (mode)
                fake_site_fault(&site, mode, count, "^/posts\\.json", retry_after);
        result_reset(r);
        ASSERT_OK(e621_search_posts(client, NULL, 5, NULL, on_posts, r, NULL));
        wait_result(r, 30);
        fake_site_clear_faults(&site);
        fprintf(stderr, "    %s ×%d: %s after %.2f s, %" PRId64 " requests%s%s\n", mode ? mode : "none",
                count, r->error < 0 ? strerror(-r->error) : "ok", (double)(r->finished - r->started) / 1e6,
                fake_site_stat(&site, "api_requests", NULL), r->message ? ": " : "",
                r->message ? r->message : "");
}

static void transient(const char *mode, int count)
{
        Result r = {};
        search_with_fault(&r, mode, count, 0);
        ASSERT_OK(r.error);
        ASSERT_EQ(r.n_posts, 5);
        ASSERT_EQ(fake_site_stat(&site, "api_requests", NULL), count + 1);
        result_reset(&r);
}

static void persistent(const char *mode, int error)
{
        Result r = {};
        search_with_fault(&r, mode, -1, 0);
        ASSERT_ERROR(r.error, error);
        assert_message_clean(&r);
        ASSERT_TRUE(strstr(r.message, "after 4 attempts") != NULL);
        /* curl itself tries once more on a fresh connection when a reused one
         * turns out dead, which a reset looks like */
        int64_t n = fake_site_stat(&site, "api_requests", NULL);
        ASSERT_TRUE(n == quick_policy.max_attempts ||
                    (error == ENETUNREACH && n == quick_policy.max_attempts + 1));
        /* four attempts, three short backoffs, each attempt bounded */
        ASSERT_TRUE(r.finished - r.started <
                    4 * quick_policy.total_timeout_usec + 3 * quick_policy.max_delay_usec);
        result_reset(&r);
}

TEST(transient_503)
{
        transient("503", 2);
}

TEST(transient_502)
{
        transient("502", 2);
}

TEST(transient_500)
{
        transient("500", 2);
}

TEST(transient_reset)
{
        transient("reset", 2);
}

TEST(transient_timeout)
{
        transient("timeout", 1);
}

TEST(transient_html_error)
{
        transient("html_error", 1);
}

TEST(retry_after_honoured)
{
        Result r = {};
        search_with_fault(&r, "429", 1, 1);
        ASSERT_OK(r.error);
        /* the backoff alone would be 50 ms; the site said 1 s */
        ASSERT_TRUE(r.finished - r.started >= 950 * USEC_PER_MSEC);
        ASSERT_EQ(fake_site_stat(&site, "status_counts", "429"), 1);
        result_reset(&r);
}

TEST(persistent_503)
{
        persistent("503", EPROTO);
}

TEST(persistent_500)
{
        persistent("500", EPROTO);
}

TEST(persistent_429)
{
        Result r = {};
        search_with_fault(&r, "429", -1, 0);
        ASSERT_ERROR(r.error, EAGAIN);
        assert_message_clean(&r);
        ASSERT_EQ(fake_site_stat(&site, "api_requests", NULL), quick_policy.max_attempts);
        result_reset(&r);
}

TEST(persistent_reset)
{
        persistent("reset", ENETUNREACH);
}

TEST(persistent_timeout)
{
        persistent("timeout", ENETUNREACH);
}

TEST(html_error_page)
{
        Result r = {};
        search_with_fault(&r, "html_error", -1, 0);
        ASSERT_ERROR(r.error, EPROTO);
        assert_message_clean(&r);
        /* the page's title, not its markup */
        ASSERT_TRUE(strstr(r.message, "520") != NULL);
        ASSERT_TRUE(strchr(r.message, '<') == NULL);
        result_reset(&r);
}

TEST(malformed_json)
{
        Result r = {};
        search_with_fault(&r, "malformed_json", 1, 0);
        ASSERT_ERROR(r.error, EPROTO);
        assert_message_clean(&r);
        ASSERT_TRUE(strstr(r.message, "malformed JSON") != NULL);
        ASSERT_EQ(fake_site_stat(&site, "api_requests", NULL), 1);
        result_reset(&r);
}

TEST(wrong_content_type)
{
        Result r = {};
        search_with_fault(&r, "wrong_content_type", 1, 0);
        ASSERT_ERROR(r.error, EPROTO);
        assert_message_clean(&r);
        ASSERT_TRUE(strstr(r.message, "instead of JSON") != NULL);
        result_reset(&r);
}

static void search_with_status(Result *r, int status, int count, const char *message)
{
        char spec[256];

        fixture(NULL);
        fake_site_clear_faults(&site);
        fake_site_reset_stats(&site);
        (void)snprintf(spec, sizeof(spec),
                       "{\"mode\":\"status\",\"status\":%d,\"count\":%d,\"path\":\"^/posts\\\\.json\","
                       "\"message\":\"%s\",\"retry_after\":1}",
                       status, count, message);
        json_object_put(fake_site_control(&site, "POST", "/_test/faults", spec));
        result_reset(r);
        ASSERT_OK(e621_search_posts(client, NULL, 5, NULL, on_posts, r, NULL));
        wait_result(r, 30);
        fake_site_clear_faults(&site);
}

TEST(locked_423)
{
        Result r = {};

        /* favourites being moved: retried */
        search_with_status(&r, 423, 1, "Favorites are being moved");
        ASSERT_OK(r.error);
        ASSERT_EQ(fake_site_stat(&site, "api_requests", NULL), 2);
        search_with_status(&r, 423, 100, "Favorites are being moved");
        ASSERT_ERROR(r.error, EAGAIN);
        assert_message_clean(&r);
        ASSERT_TRUE(strstr(r.message, "Favorites are being moved") != NULL);
        result_reset(&r);
}

TEST(refused_422_400)
{
        Result r = {};

        /* the site's words, and no retry */
        search_with_status(&r, 422, 100, "You cannot search for more than 40 tags at a time");
        ASSERT_ERROR(r.error, EINVAL);
        assert_message_clean(&r);
        ASSERT_TRUE(strstr(r.message, "more than 40 tags") != NULL);
        ASSERT_EQ(fake_site_stat(&site, "api_requests", NULL), 1);
        search_with_status(&r, 400, 100, "bad parameter");
        ASSERT_ERROR(r.error, EINVAL);
        ASSERT_TRUE(strstr(r.message, "bad parameter") != NULL);
        result_reset(&r);
}

TEST(banned)
{
        Result r = {};

        fixture(NULL);
        json_object_put(fake_site_control(&site, "POST", "/_test/config", "{\"banned\":true}"));
        result_reset(&r);
        ASSERT_OK(e621_get_user(client, site.user, on_user, &r, NULL));
        wait_result(&r, 10);
        json_object_put(fake_site_control(&site, "POST", "/_test/config", "{\"banned\":false}"));
        ASSERT_ERROR(r.error, EKEYREJECTED);
        assert_message_clean(&r);
        ASSERT_TRUE(strstr(r.message, "banned") != NULL);
        result_reset(&r);
}

TEST(slow_but_alive)
{
        /* slower than nothing, faster than the timeouts: no retry needed */
        Result r = {};
        fixture(NULL);
        fake_site_clear_faults(&site);
        json_object_put(fake_site_control(
                &site, "POST", "/_test/faults",
                "{\"mode\":\"slow\",\"count\":1,\"path\":\"^/posts\\\\.json\",\"delay_ms\":300}"));
        fake_site_reset_stats(&site);
        result_reset(&r);
        ASSERT_OK(e621_search_posts(client, NULL, 5, NULL, on_posts, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        ASSERT_EQ(fake_site_stat(&site, "api_requests", NULL), 1);
        result_reset(&r);
}

/* Image URLs of the first page, for download faults. */
static char *first_image_url(void)
{
        Result r = {};
        char *url = NULL;

        fixture(NULL);
        result_reset(&r);
        ASSERT_OK(e621_search_posts(client, "-animated", 20, NULL, on_posts, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        for (size_t i = 0; i < r.n_posts && !url; i++)
                if (post_image_url(r.posts[i]))
                        url = strdup(post_image_url(r.posts[i]));
        ASSERT_TRUE(url != NULL);
        result_reset(&r);
        return url;
}

TEST(oversize_image)
{
        _cleanup_(e621_client_freep) E621Client *small = NULL;
        _cleanup_free_ char *url = first_image_url();
        E621Config cfg;
        Result r = {};

        e621_config_init(&cfg);
        cfg.site = site.url;
        cfg.max_image_bytes = 2000;
        cfg.retry = quick_policy;
        ASSERT_OK(e621_client_new(event, &cfg, &small));
        result_reset(&r);
        ASSERT_OK(e621_download(small, url, on_download, &r, NULL));
        wait_result(&r, 10);
        ASSERT_ERROR(r.error, EFBIG);
        assert_message_clean(&r);
        ASSERT_TRUE(r.data == NULL);
        result_reset(&r);
}

TEST(oversize_json)
{
        _cleanup_(e621_client_freep) E621Client *small = NULL;
        E621Config cfg;
        Result r = {};

        fixture(NULL);
        e621_config_init(&cfg);
        cfg.site = site.url;
        cfg.max_json_bytes = 4000; /* a page of 20 posts is far larger */
        cfg.retry = quick_policy;
        ASSERT_OK(e621_client_new(event, &cfg, &small));
        ASSERT_OK(e621_client_set_credentials(small, site.user, site.api_key));
        usleep(1100 * 1000); /* a second client has a token of its own */
        fake_site_reset_stats(&site);
        result_reset(&r);
        ASSERT_OK(e621_search_posts(small, NULL, 20, NULL, on_posts, &r, NULL));
        wait_result(&r, 10);
        ASSERT_ERROR(r.error, EFBIG);
        assert_message_clean(&r);
        ASSERT_EQ(fake_site_stat(&site, "api_requests", NULL), 1); /* not retried */
        result_reset(&r);
}

TEST(image_faults)
{
        _cleanup_free_ char *url = first_image_url();
        Result r = {};

        /* an HTML answer where an image belongs */
        fake_site_fault(&site, "wrong_content_type", 1, "^/data/", 0);
        result_reset(&r);
        ASSERT_OK(e621_download(client, url, on_download, &r, NULL));
        wait_result(&r, 10);
        ASSERT_ERROR(r.error, EPROTO);
        assert_message_clean(&r);

        /* a 503 from the image host is retried like any other */
        fake_site_fault(&site, "503", 1, "^/data/", 0);
        result_reset(&r);
        ASSERT_OK(e621_download(client, url, on_download, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        ASSERT_TRUE(r.size > 100);

        /* a missing image is not retried */
        _cleanup_free_ char *missing = strdup(url);
        char *slash = strrchr(missing, '/');
        ASSERT_TRUE(slash && strlen(slash) > 5);
        memcpy(slash + 1, "ffff", 4);
        result_reset(&r);
        ASSERT_OK(e621_download(client, missing, on_download, &r, NULL));
        wait_result(&r, 10);
        ASSERT_ERROR(r.error, ENOENT);
        fake_site_clear_faults(&site);
        result_reset(&r);
}

static E621Client *victim;

static void on_user_then_free(int error, const char *message, const E621User *user, void *userdata)
{
        on_user(error, message, user, userdata);
        victim = e621_client_free(victim);
}

TEST(free_client_in_callback)
{
        /* the daemon may drop its client from a callback (logout): no crash,
         * no callback for the requests still queued, waiting or running */
        E621Config cfg;
        Result r[3] = {};
        unsigned done = 0;

        fixture(NULL);
        e621_config_init(&cfg);
        cfg.site = site.url;
        cfg.retry = quick_policy;
        ASSERT_OK(e621_client_new(event, &cfg, &victim));
        ASSERT_OK(e621_client_set_credentials(victim, site.user, site.api_key));
        usleep(1100 * 1000); /* a second client has a token of its own */
        for (size_t i = 0; i < 3; i++) {
                r[i].counter = &done;
                result_reset(&r[i]);
        }
        ASSERT_OK(e621_get_user(victim, site.user, on_user_then_free, &r[0], NULL));
        ASSERT_OK(e621_get_user(victim, site.user, on_user, &r[1], NULL));
        /* a download from the site that never answers (only the site's own
         * host may serve images to a loopback test site) */
        _cleanup_free_ char *never = NULL;
        ASSERT_TRUE(asprintf(&never, "%s/data/never.jpg", site.url) > 0);
        fake_site_fault(&site, "timeout", -1, "^/data/never", 0);
        ASSERT_OK(e621_download(victim, never, on_download, &r[2], NULL));
        run_until_count(event, &done, 1, 10 * USEC_PER_SEC);
        ASSERT_TRUE(victim == NULL);
        ASSERT_OK(r[0].error);
        (void)sd_event_run(event, 500 * USEC_PER_MSEC);
        (void)sd_event_run(event, 500 * USEC_PER_MSEC);
        ASSERT_EQ(done, 1);
        fake_site_clear_faults(&site);
        for (size_t i = 0; i < 3; i++)
                result_reset(&r[i]);
}

TEST_MAIN()
