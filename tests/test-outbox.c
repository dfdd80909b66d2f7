/* SPDX-License-Identifier: MIT */
/* The vote outbox (services/outbox.c) as a unit: the real store in a SQLite
 * file, the real e621 client, and the fake site over HTTP; no D-Bus, no
 * fluffd. A vote and its favourite reach the site once; a 5xx keeps the vote
 * pending and it goes out after the backoff; a 404 (no such post) fails it
 * for good with "(not retried)"; and a process killed with a vote in flight
 * leaves its queue in the file: the next process sends the rest and does not
 * send the vote in flight a second time. */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "core/counts.h"
#include "core/events.h"
#include "core/session.h"
#include "e621.h"
#include "services/outbox.h"
#include "store.h"
#include "test-e621-fake.h"
#include "tests.h"

#define VOTES_PATH "^/posts/[0-9]+/votes\\.json"
#define VOTES_ENDPOINT "POST /posts/<id>/votes.json"
#define NOT_ON_SITE UINT64_C(999999999)

static FakeSite site;
static uint64_t post_ids[4]; /* posts the fake site has */

/* One process's outbox and everything it borrows. */
typedef struct Rig {
        sd_event *event;
        Store *store;
        Events *events;
        E621Client *e621;
        Session session;
        Counts counts;
        Outbox *outbox;
        unsigned changed; /* EVENT_OUTBOX_CHANGED seen */
} Rig;

static void on_outbox_changed(EventKind kind, const void *payload, void *userdata)
{
        Rig *r = userdata;
        r->changed++;
}

static void rig_open(Rig *r, const char *db)
{
        E621Config c;
        Error e = {};

        *r = (Rig){};
        ASSERT_OK(sd_event_new(&r->event));
        if (store_open(db, &r->store, &e) < 0)
                TEST_FAIL("store_open: %s", e.message);
        ASSERT_OK(events_new(&r->events));
        ASSERT_OK(events_subscribe(r->events, EVENT_OUTBOX_CHANGED, on_outbox_changed, r));
        e621_config_init(&c);
        c.site = site.url;
        c.rate_limit = 2;
        /* quick retries: a 5xx costs milliseconds here, the outbox's own backoff seconds */
        c.retry.base_delay_usec = 50 * USEC_PER_MSEC;
        c.retry.max_delay_usec = USEC_PER_SEC;
        ASSERT_OK(e621_client_new(r->event, &c, &r->e621));
        ASSERT_OK(e621_client_set_credentials(r->e621, site.user, site.api_key));
        r->session.events = r->events;
        ASSERT_OK(session_set(&r->session, site.user, site.api_key));
        r->counts = (Counts){.store = r->store, .events = r->events};
        ASSERT_OK(outbox_new(r->event, r->store, r->e621, &r->session, &r->counts, r->events, &r->outbox));
}

static void rig_close(Rig *r)
{
        outbox_free(r->outbox);
        e621_client_free(r->e621);
        session_done(&r->session);
        events_free(r->events);
        store_free(r->store);
        sd_event_unref(r->event);
        *r = (Rig){};
}

static StoreCounts counts(Rig *r)
{
        StoreCounts c;
        ASSERT_OK(store_counts(r->store, &c, NULL));
        return c;
}

/* Runs the loop until the outbox announced a change n times in all. */
static void run_until_changed(Rig *r, unsigned n, double timeout_s)
{
        run_until_count(r->event, &r->changed, n, (uint64_t)(timeout_s * USEC_PER_SEC));
}

/* The votes (or favourite changes) the site recorded for post_id. */
static unsigned site_count(const char *key, uint64_t post_id)
{
        json_object *o = fake_site_control(&site, "GET", "/_test/stats", NULL), *list;
        unsigned n = 0;

        ASSERT_TRUE(json_object_object_get_ex(o, key, &list));
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *v, *item = json_object_array_get_idx(list, i);
                if (json_object_object_get_ex(item, "post_id", &v) &&
                    (uint64_t)json_object_get_int64(v) == post_id)
                        n++;
        }
        json_object_put(o);
        return n;
}

static void add_post(Store *s, uint64_t id)
{
        Post p = {.id = id, .rating = 's', .width = 10, .height = 10};
        p.md5 = (char *)"0123456789abcdef0123456789abcdef";
        p.ext = (char *)"jpg";
        ASSERT_OK(store_post_upsert(s, &p, NULL));
}

static char *db_path(const char *name)
{
        _cleanup_free_ char *dir = test_tmpdir();
        char *path;
        ASSERT_TRUE(asprintf(&path, "%s/%s", dir, name) > 0);
        return path;
}

TEST(setup)
{
        json_object *o, *posts;

        fake_site_start(&site, NULL);
        o = fake_site_control(&site, "GET", "/posts.json?limit=4", NULL);
        ASSERT_TRUE(json_object_object_get_ex(o, "posts", &posts));
        ASSERT_EQ(json_object_array_length(posts), 4u);
        for (size_t i = 0; i < 4; i++) {
                json_object *id;
                ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(posts, i), "id", &id));
                post_ids[i] = (uint64_t)json_object_get_int64(id);
        }
        json_object_put(o);
}

TEST(sent_once)
{
        _cleanup_free_ char *db = db_path("sent.db");
        uint64_t post = post_ids[0], when;
        Rig r;

        rig_open(&r, db);
        add_post(r.store, post);
        ASSERT_OK(store_outbox_add(r.store, post, 1, 1, NULL, NULL));
        outbox_kick(r.outbox);
        run_until_changed(&r, 1, 15);
        ASSERT_EQ(counts(&r).outbox_sent, 1u);
        ASSERT_EQ(counts(&r).outbox_pending, 0u);
        ASSERT_ERROR(store_outbox_next_due(r.store, &when, NULL), ENOENT);
        ASSERT_STREQ(outbox_last_error(r.outbox), "");
        ASSERT_EQ(site_count("votes", post), 1u);
        ASSERT_EQ(site_count("favorites", post), 1u);
        rig_close(&r);
}

TEST(server_error_then_retry)
{
        _cleanup_free_ char *db = db_path("retry.db");
        uint64_t post = post_ids[1], t0;
        Rig r;

        rig_open(&r, db);
        add_post(r.store, post);
        ASSERT_OK(store_outbox_add(r.store, post, -1, 0, NULL, NULL));
        fake_site_reset_stats(&site);
        /* both of the request's own attempts fail: the outbox takes over */
        fake_site_fault(&site, "503", 2, VOTES_PATH, 0);
        t0 = now_usec(CLOCK_MONOTONIC);
        outbox_kick(r.outbox);
        run_until_changed(&r, 1, 15);
        ASSERT_EQ(counts(&r).outbox_pending, 1u);
        ASSERT_TRUE(strstr(outbox_last_error(r.outbox), "(will retry)"));
        ASSERT_EQ(site_count("votes", post), 0u);

        /* the backoff's timer sends it again, 1 to 2 s later (equal jitter) */
        run_until_changed(&r, 2, 15);
        fprintf(stderr, "  sent %.2f s after the first try: %s\n",
                (double)(now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_SEC, "503 twice, then ok");
        ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) - t0 >= OUTBOX_BACKOFF_BASE_USEC / 2);
        ASSERT_EQ(counts(&r).outbox_sent, 1u);
        ASSERT_EQ(counts(&r).outbox_pending, 0u);
        ASSERT_STREQ(outbox_last_error(r.outbox), ""); /* a success clears its post's failure */
        ASSERT_EQ(site_count("votes", post), 1u);
        ASSERT_EQ(fake_site_stat(&site, "requests", VOTES_ENDPOINT), 3);
        fake_site_clear_faults(&site);
        rig_close(&r);
}

TEST(refused_for_good)
{
        _cleanup_free_ char *db = db_path("refused.db");
        uint64_t when;
        Rig r;

        rig_open(&r, db);
        add_post(r.store, NOT_ON_SITE);
        ASSERT_OK(store_outbox_add(r.store, NOT_ON_SITE, 1, 0, NULL, NULL));
        fake_site_reset_stats(&site);
        outbox_kick(r.outbox);
        run_until_changed(&r, 1, 15);
        fprintf(stderr, "  %s\n", outbox_last_error(r.outbox));
        ASSERT_EQ(counts(&r).outbox_failed, 1u);
        ASSERT_EQ(counts(&r).outbox_pending, 0u);
        ASSERT_TRUE(strstr(outbox_last_error(r.outbox), "(not retried)"));
        ASSERT_ERROR(store_outbox_next_due(r.store, &when, NULL), ENOENT); /* no timer left */
        /* a 404 is an answer, not trouble on the way: asked once */
        ASSERT_EQ(fake_site_stat(&site, "requests", VOTES_ENDPOINT), 1);
        rig_close(&r);
}

/* The child: queues two votes and sends until it is killed. */
_noreturn_ static void killed_child(const char *db, pid_t parent)
{
        Rig r;

        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(1);
        rig_open(&r, db);
        add_post(r.store, post_ids[2]);
        add_post(r.store, post_ids[3]);
        ASSERT_OK(store_outbox_add(r.store, post_ids[2], 1, 0, NULL, NULL));
        ASSERT_OK(store_outbox_add(r.store, post_ids[3], 1, 0, NULL, NULL));
        outbox_kick(r.outbox);
        for (;;)
                (void)sd_event_run(r.event, UINT64_MAX);
}

TEST(killed_with_a_vote_in_flight)
{
        _cleanup_free_ char *db = db_path("killed.db");
        uint64_t in_flight = post_ids[2], queued = post_ids[3], deadline;
        pid_t child;
        Rig r;

        fake_site_reset_stats(&site);
        /* the site takes 3 s over the first vote: the process dies meanwhile */
        json_object *spec = json_object_new_object();
        json_object_object_add(spec, "mode", json_object_new_string("slow"));
        json_object_object_add(spec, "count", json_object_new_int(1));
        json_object_object_add(spec, "delay_ms", json_object_new_int(3000));
        json_object_object_add(spec, "path", json_object_new_string(VOTES_PATH));
        json_object_put(fake_site_control(&site, "POST", "/_test/faults", json_object_to_json_string(spec)));
        json_object_put(spec);
        child = fork();
        ASSERT_TRUE(child >= 0);
        if (child == 0)
                killed_child(db, getppid());

        deadline = now_usec(CLOCK_MONOTONIC) + 20 * USEC_PER_SEC;
        while (fake_site_stat(&site, "requests", VOTES_ENDPOINT) < 1) {
                ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) < deadline);
                (void)nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
        }
        ASSERT_OK(kill(child, SIGKILL));
        ASSERT_EQ(waitpid(child, NULL, 0), child);
        /* the site still records the vote it was holding (the answer finds nobody) */
        while (site_count("votes", in_flight) < 1) {
                ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) < deadline);
                (void)nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
        }

        /* a new process on the same file: both votes still queued */
        rig_open(&r, db);
        ASSERT_EQ(counts(&r).outbox_pending, 2u);
        outbox_kick(r.outbox);
        run_until_changed(&r, 2, 20);
        ASSERT_EQ(counts(&r).outbox_sent, 2u);
        ASSERT_EQ(counts(&r).outbox_pending, 0u);
        /* the one in flight was asked about, found, and not sent again */
        ASSERT_EQ(site_count("votes", in_flight), 1u);
        ASSERT_EQ(site_count("votes", queued), 1u);
        rig_close(&r);
        fake_site_stop(&site);
}

TEST_MAIN()
