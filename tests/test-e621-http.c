/* SPDX-License-Identifier: MIT */
/* The e621 client over real HTTP against the fake site, on a real sd_event
 * loop: login, paging, the token bucket, downloads, votes and favourites,
 * cancellation, and what the site sees (User-Agent, no key in any URL). */
#include <inttypes.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "test-e621-common.h"
#include "tests.h"

static json_object *user_state(const char *key)
{
        json_object *o = fake_site_control(&site, "GET", "/_test/user", NULL), *v;
        ASSERT_TRUE(json_object_object_get_ex(o, key, &v));
        json_object *copy = json_object_get(v);
        json_object_put(o);
        return copy;
}

static bool id_in(json_object *array, uint64_t id)
{
        for (size_t i = 0; i < json_object_array_length(array); i++)
                if ((uint64_t)json_object_get_int64(json_object_array_get_idx(array, i)) == id)
                        return true;
        return false;
}

TEST(login_ok)
{
        Result r = {};

        fixture(NULL);
        result_reset(&r);
        ASSERT_OK(e621_get_user(client, site.user, on_user, &r, NULL));
        ASSERT_FALSE(r.done); /* never from inside the call */
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        ASSERT_TRUE(r.id > 0);
        ASSERT_TRUE(r.blacklist != NULL); /* only the user themself sees it */
        ASSERT_TRUE(strstr(r.blacklist, "tagme") != NULL);
        result_reset(&r);
}

TEST(login_wrong_key)
{
        Result r = {};
        const char *wrong = "WrongKeyWrongKeyWrongKey";

        fixture(NULL);
        ASSERT_OK(e621_client_set_credentials(client, site.user, wrong));
        result_reset(&r);
        ASSERT_OK(e621_get_user(client, site.user, on_user, &r, NULL));
        wait_result(&r, 10);
        ASSERT_ERROR(r.error, EKEYREJECTED);
        assert_message_clean(&r);
        ASSERT_TRUE(strstr(r.message, wrong) == NULL);
        ASSERT_TRUE(strstr(r.message, "/users/home") != NULL);
        /* 401 is an answer, not a fault: asked once */
        ASSERT_TRUE(r.finished - r.started < 2 * USEC_PER_SEC);
        ASSERT_OK(e621_client_set_credentials(client, site.user, site.api_key));
        result_reset(&r);
}

TEST(unreachable_site)
{
        _cleanup_(e621_client_freep) E621Client *c = NULL;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        char url[64];
        E621Config cfg;
        Result r = {};

        fixture(NULL);
        /* a port that was free a moment ago: connections are refused */
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
        ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &len));
        close(fd);
        (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(a.sin_port));

        e621_config_init(&cfg);
        cfg.site = url;
        cfg.retry = quick_policy;
        ASSERT_OK(e621_client_new(event, &cfg, &c));
        ASSERT_OK(e621_client_set_credentials(c, "someone", "key-that-must-not-show"));
        result_reset(&r);
        ASSERT_OK(e621_get_user(c, "someone", on_user, &r, NULL));
        wait_result(&r, 10);
        ASSERT_ERROR(r.error, ENETUNREACH);
        assert_message_clean(&r);
        ASSERT_TRUE(strstr(r.message, "key-that-must-not-show") == NULL);
        ASSERT_TRUE(strstr(r.message, "attempts") != NULL);
        ASSERT_TRUE(r.finished - r.started < 5 * USEC_PER_SEC);

        /* a login check may ask to fail at once */
        E621Request *req;
        result_reset(&r);
        ASSERT_OK(e621_get_user(c, "someone", on_user, &r, &req));
        ASSERT_OK(e621_request_set_max_attempts(req, 1));
        wait_result(&r, 10);
        ASSERT_ERROR(r.error, ENETUNREACH);
        ASSERT_TRUE(strstr(r.message, "attempts") == NULL);
        ASSERT_TRUE(r.finished - r.started < 2 * USEC_PER_SEC); /* one token wait at 1/s, one attempt */
        result_reset(&r);
}

TEST(bad_arguments)
{
        Result r = {};
        E621Config cfg;
        E621Client *c = NULL;

        fixture(NULL);
        ASSERT_ERROR(e621_search_posts(client, "x", 321, NULL, on_posts, &r, NULL), EINVAL);
        ASSERT_ERROR(e621_search_posts(client, "x", 10, "c5", on_posts, &r, NULL), EINVAL);
        ASSERT_ERROR(e621_search_posts(client, "x", 10, "b5&login=x", on_posts, &r, NULL), EINVAL);
        ASSERT_ERROR(e621_vote(client, 1, 2, on_vote, &r, NULL), EINVAL);
        ASSERT_ERROR(e621_get_post(client, 0, on_posts, &r, NULL), EINVAL);
        ASSERT_ERROR(e621_download(client, "ftp://127.0.0.1/x.jpg", on_download, &r, NULL), EINVAL);
        ASSERT_ERROR(e621_download(client, "http://example.org/x.jpg", on_download, &r, NULL), EINVAL);
        ASSERT_ERROR(e621_client_set_credentials(client, "a:b", "k"), EINVAL);
        ASSERT_ERROR(e621_client_set_credentials(client, "a", "k\n"), EINVAL);
        e621_config_init(&cfg);
        cfg.site = "http://e621.example";
        ASSERT_ERROR(e621_client_new(event, &cfg, &c), EINVAL);
        ASSERT_TRUE(c == NULL);
        ASSERT_EQ(e621_client_pending(client), 0);
        ASSERT_STREQ(e621_client_get_username(client), site.user);
}

TEST(search_and_get_post)
{
        Result r = {};

        fixture(NULL);
        result_reset(&r);
        ASSERT_OK(e621_search_posts(client, "order:id", 5, NULL, on_posts, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        ASSERT_EQ(r.n_posts, 5);
        for (size_t i = 1; i < r.n_posts; i++)
                ASSERT_TRUE(r.posts[i]->id > r.posts[i - 1]->id);
        uint64_t id = r.posts[2]->id;

        result_reset(&r);
        ASSERT_OK(e621_get_post(client, id, on_posts, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        ASSERT_EQ(r.n_posts, 1);
        ASSERT_EQ(r.posts[0]->id, id);
        ASSERT_TRUE(r.posts[0]->n_tags > 0);
        ASSERT_TRUE(r.posts[0]->md5 != NULL);
        ASSERT_TRUE(r.posts[0]->created_at > 1000000000);

        result_reset(&r);
        ASSERT_OK(e621_get_post(client, 999999999, on_posts, &r, NULL));
        wait_result(&r, 10);
        ASSERT_ERROR(r.error, ENOENT);
        assert_message_clean(&r);

        /* beyond page 750: the site's 410 and its words */
        result_reset(&r);
        ASSERT_OK(e621_search_posts(client, NULL, 10, "751", on_posts, &r, NULL));
        wait_result(&r, 10);
        ASSERT_ERROR(r.error, EINVAL);
        assert_message_clean(&r);
        ASSERT_TRUE(strstr(r.message, "page") != NULL);
        result_reset(&r);
}

typedef struct Walk {
        uint64_t *ids;
        size_t n;
        unsigned pages;
        Result end;
} Walk;

static int on_page(E621PostList *page, void *userdata)
{
        Walk *w = userdata;
        w->pages++;
        w->ids = realloc(w->ids, sizeof(uint64_t) * (w->n + page->n_posts));
        for (size_t i = 0; i < page->n_posts; i++)
                w->ids[w->n++] = page->posts[i]->id;
        return 0;
}

static void on_walk_end(int error, const char *message, void *userdata)
{
        on_done(error, message, &((Walk *)userdata)->end);
}

TEST(walk_favourites)
{
        char tags[128];
        Walk w = {};

        fixture(NULL);
        /* status:any: the site leaves deleted posts out of searches otherwise */
        (void)snprintf(tags, sizeof(tags), "fav:%s status:any", site.user);
        json_object *favs = user_state("favorites");
        size_t expected = json_object_array_length(favs);
        ASSERT_TRUE(expected > 20);

        result_reset(&w.end);
        /* small pages, so the cursor has to move many times */
        ASSERT_OK(e621_walk_posts(client, tags, 16, on_page, on_walk_end, &w, NULL));
        wait_result(&w.end, 60);
        ASSERT_OK(w.end.error);
        ASSERT_EQ(w.n, expected);
        ASSERT_EQ(w.pages, expected / 16 + 1);
        for (size_t i = 0; i < w.n; i++) {
                ASSERT_TRUE(id_in(favs, w.ids[i]));
                if (i > 0)
                        ASSERT_TRUE(w.ids[i] < w.ids[i - 1]); /* newest first, each once */
        }
        json_object_put(favs);
        free(w.ids);
        result_reset(&w.end);
}

/* Stops at the first page holding a post at or below stop_at: what an
 * incremental sync does with the newest post it already knows. */
typedef struct StopWalk {
        Walk walk;
        uint64_t stop_at;
} StopWalk;

static int on_page_stop(E621PostList *page, void *userdata)
{
        StopWalk *s = userdata;
        (void)on_page(page, &s->walk);
        for (size_t i = 0; i < page->n_posts; i++)
                if (page->posts[i]->id <= s->stop_at)
                        return E621_WALK_STOP;
        return 0;
}

static void on_stop_walk_end(int error, const char *message, void *userdata)
{
        on_done(error, message, &((StopWalk *)userdata)->walk.end);
}

TEST(walk_stops_early)
{
        char tags[128];
        StopWalk s = {};

        fixture(NULL);
        (void)snprintf(tags, sizeof(tags), "fav:%s status:any", site.user);
        json_object *favs = user_state("favorites");
        size_t total = json_object_array_length(favs);
        ASSERT_TRUE(total > 20);
        /* the 20th newest favourite is "known": the walk ends on its page */
        _cleanup_free_ uint64_t *ids = calloc(total, sizeof *ids);
        ASSERT_TRUE(ids);
        for (size_t i = 0; i < total; i++)
                ids[i] = (uint64_t)json_object_get_int64(json_object_array_get_idx(favs, i));
        for (size_t i = 0; i < total; i++) /* newest first */
                for (size_t j = i + 1; j < total; j++)
                        if (ids[j] > ids[i]) {
                                uint64_t t = ids[i];
                                ids[i] = ids[j];
                                ids[j] = t;
                        }
        s.stop_at = ids[19];

        fake_site_reset_stats(&site);
        result_reset(&s.walk.end);
        ASSERT_OK(e621_walk_posts(client, tags, 8, on_page_stop, on_stop_walk_end, &s, NULL));
        wait_result(&s.walk.end, 60);
        ASSERT_OK(s.walk.end.error);
        ASSERT_EQ(s.walk.pages, 3); /* posts 1–8, 9–16, 17–24: the 20th is on the third */
        ASSERT_EQ(s.walk.n, 24);
        ASSERT_EQ(fake_site_stat(&site, "api_requests", NULL), 3); /* not one page more */
        json_object_put(favs);
        free(s.walk.ids);
        result_reset(&s.walk.end);
}

/* A page callback that pauses: it takes the page's posts, and a timer
 * resumes the walk later with what it would have returned. */
typedef struct PauseWalk {
        Walk walk;
        E621Request *request;
        unsigned stop_on_page; /* resume with E621_WALK_STOP there (0: never) */
        int fail;              /* resume with this error on the first page (0: none) */
        unsigned paused;
        sd_event_source *timer;
} PauseWalk;

static int on_resume(sd_event_source *source, uint64_t usec, void *userdata)
{
        PauseWalk *p = userdata;
        p->timer = sd_event_source_unref(p->timer);
        if (p->fail)
                e621_walk_resume(p->request, p->fail);
        else
                e621_walk_resume(p->request, p->walk.pages == p->stop_on_page ? E621_WALK_STOP : 0);
        return 0;
}

static int on_page_pause(E621PostList *page, void *userdata)
{
        PauseWalk *p = userdata;
        p->walk.pages++;
        p->walk.ids = realloc(p->walk.ids, sizeof(uint64_t) * (p->walk.n + page->n_posts));
        for (size_t i = 0; i < page->n_posts; i++) {
                _cleanup_post_free_ Post *post = TAKE_PTR(page->posts[i]); /* ours now */
                p->walk.ids[p->walk.n++] = post->id;
        }
        p->paused++;
        ASSERT_OK(sd_event_add_time_relative(event, &p->timer, CLOCK_MONOTONIC, 50 * 1000, 0, on_resume, p));
        return E621_WALK_PAUSE;
}

static void on_pause_walk_end(int error, const char *message, void *userdata)
{
        on_done(error, message, &((PauseWalk *)userdata)->walk.end);
}

TEST(walk_pauses)
{
        char tags[128];
        PauseWalk p = {.stop_on_page = 3};

        fixture(NULL);
        (void)snprintf(tags, sizeof(tags), "fav:%s status:any", site.user);

        /* paused after each page, no request goes out until it resumes */
        fake_site_reset_stats(&site);
        result_reset(&p.walk.end);
        ASSERT_OK(e621_walk_posts(client, tags, 8, on_page_pause, on_pause_walk_end, &p, &p.request));
        wait_result(&p.walk.end, 60);
        ASSERT_OK(p.walk.end.error);
        ASSERT_EQ(p.paused, 3);
        ASSERT_EQ(p.walk.n, 24);
        for (size_t i = 1; i < p.walk.n; i++)
                ASSERT_TRUE(p.walk.ids[i] < p.walk.ids[i - 1]);
        ASSERT_EQ(fake_site_stat(&site, "api_requests", NULL), 3);
        free(p.walk.ids);
        result_reset(&p.walk.end);

        /* an error given on resuming ends the walk with it */
        p = (PauseWalk){.fail = -EIO};
        result_reset(&p.walk.end);
        ASSERT_OK(e621_walk_posts(client, tags, 8, on_page_pause, on_pause_walk_end, &p, &p.request));
        wait_result(&p.walk.end, 60);
        ASSERT_ERROR(p.walk.end.error, EIO);
        ASSERT_EQ(p.walk.pages, 1);
        free(p.walk.ids);
        result_reset(&p.walk.end);

        /* cancelled while paused: no callback, nothing more asked of the site */
        p = (PauseWalk){};
        result_reset(&p.walk.end);
        fake_site_reset_stats(&site);
        ASSERT_OK(e621_walk_posts(client, tags, 8, on_page_pause, on_pause_walk_end, &p, &p.request));
        while (p.paused == 0)
                ASSERT_OK(sd_event_run(event, UINT64_MAX));
        p.timer = sd_event_source_disable_unref(p.timer);
        (void)e621_request_cancel(p.request);
        for (int i = 0; i < 20; i++)
                ASSERT_OK(sd_event_run(event, 10 * 1000));
        ASSERT_FALSE(p.walk.end.done);
        ASSERT_EQ(fake_site_stat(&site, "api_requests", NULL), 1);
        free(p.walk.ids);
        result_reset(&p.walk.end);
}

TEST(token_bucket)
{
        enum { N = 20 };
        Result r[N] = {};
        unsigned done = 0;

        fixture(NULL);
        /* the previous test's requests must leave the site's window first */
        usleep(1100 * 1000);
        fake_site_reset_stats(&site);
        uint64_t start = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < N; i++) {
                r[i].counter = &done;
                result_reset(&r[i]);
                ASSERT_OK(e621_get_post(client, 1 + i, on_posts, &r[i], NULL));
        }
        ASSERT_EQ(e621_client_pending(client), N);
        run_until_count(event, &done, N, 30 * USEC_PER_SEC);
        double elapsed = (double)(now_usec(CLOCK_MONOTONIC) - start) / 1e6;
        for (size_t i = 0; i < N; i++) {
                ASSERT_TRUE(r[i].error == 0 || r[i].error == -ENOENT);
                result_reset(&r[i]);
        }
        int64_t max = fake_site_stat(&site, "max_api_per_second", NULL);
        fprintf(stderr, "    %d requests in %.2f s, the site saw at most %" PRId64 " in one second\n", N,
                elapsed, max);
        ASSERT_TRUE(max <= 2);
        ASSERT_EQ(fake_site_stat(&site, "status_counts", "503"), 0);
        ASSERT_EQ(fake_site_stat(&site, "api_requests", NULL), N);
        /* 2/s: 19 gaps of just over half a second. The upper bound only has to
         * tell 2/s from 1/s (19 s): a loaded machine delays the loop. */
        ASSERT_TRUE(elapsed >= 9.4);
        ASSERT_TRUE(elapsed < 15.0);
        ASSERT_EQ(e621_client_pending(client), 0);
}

TEST(concurrent_downloads)
{
        enum { N = 8 };
        Result r[N] = {}, s = {};
        unsigned done = 0;

        fixture(NULL);
        result_reset(&s);
        ASSERT_OK(e621_search_posts(client, "-animated", 40, NULL, on_posts, &s, NULL));
        wait_result(&s, 10);
        ASSERT_OK(s.error);

        const char *urls[N];
        size_t n = 0;
        for (size_t i = 0; i < s.n_posts && n < N; i++)
                if (post_image_url(s.posts[i]))
                        urls[n++] = post_image_url(s.posts[i]);
        ASSERT_EQ(n, N);

        /* once without faults, so the site has rendered them: the timed run
         * below then measures concurrency, not the site's JPEG encoder */
        for (size_t i = 0; i < N; i++) {
                r[i].counter = &done;
                result_reset(&r[i]);
                ASSERT_OK(e621_download(client, urls[i], on_download, &r[i], NULL));
        }
        run_until_count(event, &done, N, 60 * USEC_PER_SEC);
        for (size_t i = 0; i < N; i++)
                ASSERT_OK(r[i].error);

        /* every image takes half a second: 8 at 4 at a time is two rounds */
        json_object_put(fake_site_control(&site, "POST", "/_test/faults",
                                          "{\"mode\":\"slow\",\"path\":\"^/data/\",\"delay_ms\":500}"));
        fake_site_reset_stats(&site);
        done = 0;
        uint64_t start = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < N; i++) {
                result_reset(&r[i]);
                ASSERT_OK(e621_download(client, urls[i], on_download, &r[i], NULL));
        }
        run_until_count(event, &done, N, 30 * USEC_PER_SEC);
        double elapsed = (double)(now_usec(CLOCK_MONOTONIC) - start) / 1e6;
        fake_site_clear_faults(&site);
        fprintf(stderr, "    %d downloads of 0.5 s each took %.2f s\n", N, elapsed);
        for (size_t i = 0; i < N; i++) {
                ASSERT_OK(r[i].error);
                ASSERT_TRUE(r[i].size > 100);
                ASSERT_EQ(r[i].data[0], 0xFF); /* JPEG */
                ASSERT_EQ(r[i].data[1], 0xD8);
                result_reset(&r[i]);
        }
        ASSERT_TRUE(elapsed >= 0.95); /* never more than 4 at once */
        ASSERT_TRUE(elapsed < 3.0);   /* but several at once: one at a time takes 4 s */
        ASSERT_EQ(fake_site_stat(&site, "api_requests", NULL), 0); /* images take no tokens */
        /* (images_served leaves out answers a fault touched, slow ones too) */
        ASSERT_EQ(fake_site_stat(&site, "requests", NULL), N);
        result_reset(&s);
}

TEST(votes_and_favourites)
{
        Result r = {};

        fixture(NULL);
        result_reset(&r);
        ASSERT_OK(e621_search_posts(client, "order:id", 1, NULL, on_posts, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        ASSERT_EQ(r.n_posts, 1);
        uint64_t id = r.posts[0]->id;
        fake_site_reset_stats(&site);
        result_reset(&r);
        ASSERT_OK(e621_vote(client, id, 1, on_vote, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        ASSERT_TRUE(r.vote.our_score == 1 || r.vote.our_score == 0);
        /* again: no_unvote keeps it instead of removing it */
        result_reset(&r);
        ASSERT_OK(e621_vote(client, id, 1, on_vote, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        ASSERT_EQ(r.vote.our_score, 0);
        json_object *up = user_state("upvotes");
        ASSERT_TRUE(id_in(up, id));
        json_object_put(up);

        result_reset(&r);
        ASSERT_OK(e621_vote(client, id, -1, on_vote, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        ASSERT_EQ(r.vote.our_score, -1);
        json_object *down = user_state("downvotes");
        ASSERT_TRUE(id_in(down, id));
        json_object_put(down);

        result_reset(&r);
        ASSERT_OK(e621_unvote(client, id, on_done, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        down = user_state("downvotes");
        ASSERT_FALSE(id_in(down, id));
        json_object_put(down);

        /* favourite twice ("already favorited" is success), remove twice */
        for (int i = 0; i < 2; i++) {
                result_reset(&r);
                ASSERT_OK(e621_favorite(client, id, on_done, &r, NULL));
                wait_result(&r, 10);
                ASSERT_OK(r.error);
        }
        json_object *favs = user_state("favorites");
        ASSERT_TRUE(id_in(favs, id));
        json_object_put(favs);
        for (int i = 0; i < 2; i++) {
                result_reset(&r);
                ASSERT_OK(e621_unfavorite(client, id, on_done, &r, NULL));
                wait_result(&r, 10);
                ASSERT_OK(r.error);
        }
        favs = user_state("favorites");
        ASSERT_FALSE(id_in(favs, id));
        json_object_put(favs);

        json_object *st = fake_site_control(&site, "GET", "/_test/stats", NULL), *votes, *fav;
        ASSERT_TRUE(json_object_object_get_ex(st, "votes", &votes));
        ASSERT_EQ(json_object_array_length(votes), 4);
        for (size_t i = 0; i < 3; i++) {
                json_object *v = json_object_array_get_idx(votes, i), *nu;
                ASSERT_TRUE(json_object_object_get_ex(v, "no_unvote", &nu));
                ASSERT_TRUE(json_object_get_boolean(nu));
        }
        ASSERT_TRUE(json_object_object_get_ex(st, "favorites", &fav));
        ASSERT_EQ(json_object_array_length(fav), 4);
        json_object_put(st);
        result_reset(&r);
}

TEST(anonymous)
{
        Result r = {};

        fixture(NULL);
        ASSERT_OK(e621_client_set_credentials(client, NULL, NULL));
        ASSERT_TRUE(e621_client_get_username(client) == NULL);
        result_reset(&r);
        ASSERT_OK(e621_vote(client, 1, 1, on_vote, &r, NULL));
        wait_result(&r, 10);
        ASSERT_ERROR(r.error, EPERM);
        assert_message_clean(&r);
        result_reset(&r);
        ASSERT_OK(e621_search_posts(client, NULL, 3, NULL, on_posts, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        ASSERT_OK(e621_client_set_credentials(client, site.user, site.api_key));
        result_reset(&r);
}

TEST(cancellation)
{
        enum { N = 6 };
        Result r[N] = {}, w = {};
        E621Request *req[N];
        unsigned done = 0;

        fixture(NULL);
        usleep(1100 * 1000);
        fake_site_reset_stats(&site);
        for (size_t i = 0; i < N; i++) {
                r[i].counter = &done;
                result_reset(&r[i]);
                ASSERT_OK(e621_get_post(client, 1 + i, on_posts, &r[i], &req[i]));
        }
        /* a walk cancelled before its first page never calls back */
        Walk walk = {};
        E621Request *wreq;
        result_reset(&walk.end);
        ASSERT_OK(e621_walk_posts(client, NULL, 5, on_page, on_walk_end, &walk, &wreq));
        /* every other one, while all still wait for tokens or run */
        for (size_t i = 1; i < N; i += 2)
                ASSERT_TRUE(e621_request_cancel(req[i]) == NULL);
        ASSERT_TRUE(e621_request_cancel(wreq) == NULL);
        ASSERT_EQ(e621_client_pending(client), N / 2);
        run_until_count(event, &done, N / 2, 20 * USEC_PER_SEC);
        /* nothing else comes, even given time */
        result_reset(&w);
        (void)sd_event_run(event, 800 * USEC_PER_MSEC);
        for (size_t i = 0; i < N; i++) {
                ASSERT_EQ(r[i].done, i % 2 == 0);
                result_reset(&r[i]);
        }
        ASSERT_FALSE(walk.end.done);
        ASSERT_EQ(walk.pages, 0);
        ASSERT_EQ(fake_site_stat(&site, "api_requests", NULL), N / 2);

        /* cancel_all empties the queue */
        done = 0;
        for (size_t i = 0; i < N; i++) {
                r[i].counter = &done;
                result_reset(&r[i]);
                ASSERT_OK(e621_get_post(client, 1 + i, on_posts, &r[i], NULL));
        }
        e621_client_cancel_all(client);
        ASSERT_EQ(e621_client_pending(client), 0);
        (void)sd_event_run(event, 300 * USEC_PER_MSEC);
        ASSERT_EQ(done, 0);
        ASSERT_TRUE(e621_request_cancel(NULL) == NULL);
}

TEST(what_the_site_saw)
{
        char ua[256];
        Result r = {};

        fixture(NULL);
        usleep(1100 * 1000);
        fake_site_reset_stats(&site);
        /* one of every kind of request */
        result_reset(&r);
        ASSERT_OK(e621_get_user(client, site.user, on_user, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        result_reset(&r);
        ASSERT_OK(e621_search_posts(client, "-animated", 20, "2", on_posts, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        size_t k = 0;
        while (k < r.n_posts && !post_image_url(r.posts[k]))
                k++;
        ASSERT_TRUE(k < r.n_posts);
        _cleanup_free_ char *url = strdup(post_image_url(r.posts[k]));
        uint64_t id = r.posts[k]->id;
        result_reset(&r);
        ASSERT_OK(e621_download(client, url, on_download, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        result_reset(&r);
        ASSERT_OK(e621_vote(client, id, 1, on_vote, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        result_reset(&r);
        ASSERT_OK(e621_favorite(client, id, on_done, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        result_reset(&r);
        ASSERT_OK(e621_unfavorite(client, id, on_done, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        result_reset(&r);
        ASSERT_OK(e621_unvote(client, id, on_done, &r, NULL));
        wait_result(&r, 10);
        ASSERT_OK(r.error);
        result_reset(&r);

        json_object *st = fake_site_control(&site, "GET", "/_test/stats", NULL), *v;
        ASSERT_TRUE(json_object_object_get_ex(st, "requests", &v));
        ASSERT_EQ(json_object_object_length(v), 7);
        ASSERT_TRUE(json_object_object_get_ex(st, "key_in_url", &v));
        ASSERT_EQ(json_object_array_length(v), 0);
        ASSERT_TRUE(json_object_object_get_ex(st, "user_agents", &v));
        (void)snprintf(ua, sizeof(ua), "fluff/%s (by %s on e621)", FLUFF_VERSION, site.user);
        ASSERT_EQ(json_object_array_length(v), 1);
        ASSERT_STREQ(json_object_get_string(json_object_array_get_idx(v, 0)), ua);
        json_object_put(st);
}

TEST_MAIN()
