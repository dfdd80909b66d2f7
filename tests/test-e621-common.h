/* SPDX-License-Identifier: MIT */
#pragma once

/* What the e621 client's HTTP tests share: one fake site, one loop and one
 * client per test program (a new client per test would start with a fresh
 * token and could break the site's 2/s rule across tests), and callbacks that
 * record what they got. */

#include "e621.h"
#include "test-e621-fake.h"

extern FakeSite site;
extern sd_event *event;
extern E621Client *client;

/* Starts the site (with args) and the client (rate 2/s, quick retries) once. */
void fixture(const char *const *site_args);

/* Short backoff and timeouts so fault tests take seconds. */
extern const E621RetryPolicy quick_policy;

typedef struct Result {
        bool done;
        int error;
        char *message;
        uint64_t id;
        char *blacklist;
        Post **posts;
        size_t n_posts;
        E621VoteResult vote;
        uint8_t *data;
        size_t size;
        uint64_t started, finished; /* CLOCK_MONOTONIC µs */
        unsigned *counter;          /* incremented when done, if set */
} Result;

void result_reset(Result *r);
void on_user(int error, const char *message, const E621User *user, void *userdata);
void on_posts(int error, const char *message, E621PostList *list, void *userdata);
void on_vote(int error, const char *message, const E621VoteResult *vote, void *userdata);
void on_done(int error, const char *message, void *userdata);
void on_download(int error, const char *message, E621Buffer *buf, void *userdata);

/* Runs the loop until r->done (timeout in seconds). */
void wait_result(Result *r, double timeout_s);
/* Fails unless the message is there and holds neither key. */
void assert_message_clean(const Result *r);
