/* SPDX-License-Identifier: MIT */
/* The e621 client against a hostile or broken site (issue 15): every string it
 * hands on is valid UTF-8 without control characters, whatever the site sent
 * (a Latin-1 captive portal, terminal escapes in a Content-Type or a tag), and
 * image URLs that point anywhere but the site are refused before a request. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fluff/text.h"
#include "test-e621-common.h"
#include "tests.h"

/* What sd-bus and a terminal need of every message. */
static void assert_clean_text(const char *s)
{
        ASSERT_TRUE(s != NULL);
        ASSERT_TRUE(utf8_is_valid(s, strlen(s)));
        ASSERT_TRUE(text_is_clean(s, strlen(s), 0));
}

static void arm(const char *mode, int status, const char *path)
{
        json_object *spec = json_object_new_object();
        json_object_object_add(spec, "mode", json_object_new_string(mode));
        json_object_object_add(spec, "path", json_object_new_string(path));
        if (status)
                json_object_object_add(spec, "status", json_object_new_int(status));
        fake_site_clear_faults(&site);
        json_object_put(fake_site_control(&site, "POST", "/_test/faults", json_object_to_json_string(spec)));
        json_object_put(spec);
}

TEST(latin1_error_page)
{
        Result r = {};

        fixture(NULL);
        /* a captive portal answering the login check with a Latin-1 page */
        arm("latin1_error", 401, "^/users/");
        result_reset(&r);
        ASSERT_OK(e621_get_user(client, site.user, on_user, &r, NULL));
        wait_result(&r, 20);
        fake_site_clear_faults(&site);
        ASSERT_TRUE(r.error < 0);
        assert_message_clean(&r);
        assert_clean_text(r.message);
        /* read as Latin-1, not thrown away: the person sees what the portal said */
        ASSERT_TRUE(strstr(r.message, "« Café »") != NULL);

        /* the same page as a 422 to a vote: the message the outbox keeps */
        arm("latin1_error", 422, "/votes\\.json$");
        result_reset(&r);
        ASSERT_OK(e621_vote(client, 1, 1, on_vote, &r, NULL));
        wait_result(&r, 20);
        fake_site_clear_faults(&site);
        ASSERT_ERROR(r.error, EINVAL);
        assert_clean_text(r.message);
        result_reset(&r);
}

TEST(escapes_in_content_type)
{
        Result r = {};

        fixture(NULL);
        arm("hostile_content_type", 0, "^/posts\\.json");
        result_reset(&r);
        ASSERT_OK(e621_search_posts(client, NULL, 5, NULL, on_posts, &r, NULL));
        wait_result(&r, 20);
        fake_site_clear_faults(&site);
        ASSERT_ERROR(r.error, EPROTO);
        assert_message_clean(&r);
        assert_clean_text(r.message);
        ASSERT_TRUE(strchr(r.message, '\x1b') == NULL && strchr(r.message, '\a') == NULL);
        /* still says what came instead of JSON */
        ASSERT_TRUE(strstr(r.message, "text/html") != NULL);
        result_reset(&r);
}

static void override_post(uint64_t id, const char *json_fields)
{
        char body[1024];
        (void)snprintf(body, sizeof body, "{\"action\":\"override_post\",\"post_id\":%llu,%s}",
                       (unsigned long long)id, json_fields);
        json_object_put(fake_site_control(&site, "POST", "/_test/world", body));
}

static uint64_t first_post_with_url(Result *r)
{
        for (size_t i = 0; i < r->n_posts; i++)
                if (post_image_url(r->posts[i]))
                        return r->posts[i]->id;
        TEST_FAIL("no post with an image URL");
}

static const Post *find_post(Result *r, uint64_t id)
{
        for (size_t i = 0; i < r->n_posts; i++)
                if (r->posts[i]->id == id)
                        return r->posts[i];
        TEST_FAIL("post %llu not in the answer", (unsigned long long)id);
}

static bool has_tag(const Post *p, const char *name)
{
        for (size_t i = 0; i < p->n_tags; i++)
                if (streq(p->tags[i].name, name))
                        return true;
        return false;
}

TEST(escapes_in_tags)
{
        Result r = {};

        fixture(NULL);
        result_reset(&r);
        ASSERT_OK(e621_search_posts(client, "-animated", 5, NULL, on_posts, &r, NULL));
        wait_result(&r, 20);
        ASSERT_OK(r.error);
        uint64_t id = first_post_with_url(&r);
        /* a C1 CSI, an ESC sequence and BEL in tag names, beside a good non-ASCII tag */
        override_post(id, "\"tags\":{\"general\":[\"evil\\u009b31m\",\"esc\\u001b[2J\",\"bell\\u0007\","
                          "\"caf\\u00e9_(place)\"]}");
        result_reset(&r);
        ASSERT_OK(e621_get_post(client, id, on_posts, &r, NULL));
        wait_result(&r, 20);
        ASSERT_OK(r.error);
        const Post *p = find_post(&r, id);
        ASSERT_TRUE(has_tag(p, "café_(place)"));
        for (size_t i = 0; i < p->n_tags; i++)
                assert_clean_text(p->tags[i].name);
        ASSERT_FALSE(has_tag(p, "evil\xc2\x9b"
                                "31m"));
        result_reset(&r);
}

/* A second loopback listener: the address a hostile post points at. It must
 * never see a connection. */
static int listen_loopback(unsigned *ret_port)
{
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
        ASSERT_OK(listen(fd, 16));
        ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &len));
        *ret_port = ntohs(a.sin_port);
        return fd;
}

TEST(image_url_to_another_listener)
{
        Result r = {};
        unsigned port;
        char url[256], fields[320];

        fixture(NULL);
        _cleanup_close_ int fd = listen_loopback(&port);
        result_reset(&r);
        ASSERT_OK(e621_search_posts(client, "-animated", 5, NULL, on_posts, &r, NULL));
        wait_result(&r, 20);
        ASSERT_OK(r.error);
        uint64_t id = first_post_with_url(&r);
        (void)snprintf(url, sizeof url, "http://127.0.0.1:%u/data/sample/ab/cd/x.jpg", port);
        (void)snprintf(fields, sizeof fields, "\"url\":\"%s\"", url);
        override_post(id, fields);
        result_reset(&r);
        ASSERT_OK(e621_get_post(client, id, on_posts, &r, NULL));
        wait_result(&r, 20);
        ASSERT_OK(r.error);
        const Post *p = find_post(&r, id);
        ASSERT_STREQ(post_image_url(p), url);
        Result d = {};
        ASSERT_ERROR(e621_download(client, post_image_url(p), on_download, &d, NULL), EPERM);
        /* nothing queued either: give the loop time to do what it would */
        uint64_t end = now_usec(CLOCK_MONOTONIC) + 500 * USEC_PER_MSEC;
        while (now_usec(CLOCK_MONOTONIC) < end)
                ASSERT_OK(sd_event_run(event, 50 * USEC_PER_MSEC));
        ASSERT_EQ(accept(fd, NULL, NULL), -1);
        ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK);
        ASSERT_FALSE(d.done);
        result_reset(&r);
}

TEST(image_host_policy)
{
        char *hosts[] = {(char *)"cdn.example.org", NULL};
        char *none[] = {NULL};
        const char *loop = "http://127.0.0.1:8080", *real = "https://e621.net";

        /* the loopback test site: its own host and port only */
        ASSERT_OK(e621_image_url_allowed(loop, NULL, "http://127.0.0.1:8080/data/a.jpg"));
        ASSERT_ERROR(e621_image_url_allowed(loop, NULL, "http://127.0.0.1:8081/data/a.jpg"), EPERM);
        ASSERT_ERROR(e621_image_url_allowed(loop, NULL, "http://localhost:8080/data/a.jpg"), EPERM);
        ASSERT_ERROR(e621_image_url_allowed(loop, NULL, "http://127.0.0.2:8080/a.jpg"), EPERM);
        /* the real site: its own host and the known image hosts, https only */
        ASSERT_OK(e621_image_url_allowed(real, NULL, "https://static1.e621.net/data/ab/cd/x.jpg"));
        ASSERT_OK(e621_image_url_allowed(real, NULL, "https://STATIC1.e621.net/data/x.jpg"));
        ASSERT_OK(e621_image_url_allowed(real, NULL, "https://e621.net/data/x.jpg"));
        ASSERT_ERROR(e621_image_url_allowed(real, NULL, "https://static1.e621.net:8443/x.jpg"), EPERM);
        ASSERT_ERROR(e621_image_url_allowed(real, NULL, "https://evil.example/x.jpg"), EPERM);
        ASSERT_ERROR(e621_image_url_allowed(real, NULL, "https://static1.e621.net.evil.example/x"), EPERM);
        ASSERT_ERROR(e621_image_url_allowed(real, NULL, "https://192.168.1.1/x.jpg"), EPERM);
        ASSERT_ERROR(e621_image_url_allowed(real, NULL, "http://127.0.0.1:8080/x.jpg"), EPERM);
        ASSERT_ERROR(e621_image_url_allowed(real, NULL, "http://static1.e621.net/x.jpg"), EINVAL);
        ASSERT_ERROR(e621_image_url_allowed(real, NULL, "https://u:p@static1.e621.net/x.jpg"), EINVAL);
        ASSERT_ERROR(e621_image_url_allowed(real, NULL, "file:///etc/passwd"), EINVAL);
        /* a configured list replaces the default */
        ASSERT_OK(e621_image_url_allowed(real, hosts, "https://cdn.example.org/x.jpg"));
        ASSERT_ERROR(e621_image_url_allowed(real, hosts, "https://static1.e621.net/x.jpg"), EPERM);
        ASSERT_ERROR(e621_image_url_allowed(real, none, "https://static1.e621.net/x.jpg"), EPERM);
        ASSERT_OK(e621_image_url_allowed(real, none, "https://e621.net/x.jpg"));
}

TEST_MAIN()
