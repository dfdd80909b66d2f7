/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "test-e621-common.h"
#include "tests.h"

FakeSite site;
sd_event *event;
E621Client *client;

const E621RetryPolicy quick_policy = {
        .max_attempts = 4,
        .base_delay_usec = 50 * USEC_PER_MSEC,
        .max_delay_usec = 2 * USEC_PER_SEC,
        .connect_timeout_usec = 2 * USEC_PER_SEC,
        .stall_timeout_usec = 2 * USEC_PER_SEC,
        .total_timeout_usec = 1500 * USEC_PER_MSEC,
};

static void teardown(void)
{
        client = e621_client_free(client);
        event = sd_event_unref(event);
        fake_site_stop(&site);
}

void fixture(const char *const *site_args)
{
        E621Config c;

        if (client)
                return;
        fake_site_start(&site, site_args);
        atexit(teardown);
        ASSERT_OK(sd_event_new(&event));
        e621_config_init(&c);
        c.site = site.url;
        c.rate_limit = 2;
        c.retry = quick_policy;
        ASSERT_OK(e621_client_new(event, &c, &client));
        ASSERT_OK(e621_client_set_credentials(client, site.user, site.api_key));
}

void result_reset(Result *r)
{
        free(r->message);
        free(r->blacklist);
        post_array_free(r->posts, r->n_posts);
        free(r->data);
        unsigned *counter = r->counter;
        *r = (Result){.started = now_usec(CLOCK_MONOTONIC), .counter = counter};
}

static void finish(Result *r, int error, const char *message)
{
        if (r->done)
                TEST_FAIL("a callback ran twice");
        r->done = true;
        r->error = error;
        r->message = message ? strdup(message) : NULL;
        r->finished = now_usec(CLOCK_MONOTONIC);
        if (error < 0 && !message)
                TEST_FAIL("an error (%s) came without a message", strerror(-error));
        if (r->counter)
                (*r->counter)++;
}

void on_user(int error, const char *message, const E621User *user, void *userdata)
{
        Result *r = userdata;
        if (user) {
                r->id = user->id;
                r->blacklist = user->blacklisted_tags ? strdup(user->blacklisted_tags) : NULL;
        }
        finish(r, error, message);
}

void on_posts(int error, const char *message, E621PostList *list, void *userdata)
{
        Result *r = userdata;
        if (list) {
                /* the posts are taken, as a caller keeping them would */
                r->posts = calloc(list->n_posts + 1, sizeof(Post *));
                for (size_t i = 0; i < list->n_posts; i++)
                        r->posts[i] = TAKE_PTR(list->posts[i]);
                r->n_posts = list->n_posts;
        }
        finish(r, error, message);
}

void on_vote(int error, const char *message, const E621VoteResult *vote, void *userdata)
{
        Result *r = userdata;
        if (vote)
                r->vote = *vote;
        finish(r, error, message);
}

void on_done(int error, const char *message, void *userdata)
{
        finish(userdata, error, message);
}

void on_download(int error, const char *message, E621Buffer *buf, void *userdata)
{
        Result *r = userdata;
        if (buf) {
                r->data = TAKE_PTR(buf->data);
                r->size = buf->size;
        }
        finish(r, error, message);
}

void wait_result(Result *r, double timeout_s)
{
        run_until(event, &r->done, (uint64_t)(timeout_s * 1e6));
}

void assert_message_clean(const Result *r)
{
        ASSERT_TRUE(r->message != NULL);
        ASSERT_TRUE(strstr(r->message, site.api_key) == NULL);
        fprintf(stderr, "    message: %s\n", r->message);
}
