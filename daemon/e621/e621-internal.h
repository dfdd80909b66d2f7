/* SPDX-License-Identifier: MIT */
#pragma once

/* What the files of daemon/e621 share: the client and request structs, the
 * scheduler (client.c), the curl glue (http.c). Not for use outside. */

#include <curl/curl.h>

#include "e621.h"

typedef enum RequestClass {
        REQUEST_API,      /* takes a token from the bucket */
        REQUEST_DOWNLOAD, /* takes a download slot */
        REQUEST_WALK,     /* a series of API requests; never in curl itself */
} RequestClass;

typedef enum RequestState {
        REQUEST_NEW,
        REQUEST_QUEUED,      /* in queue_api / queue_download */
        REQUEST_RUNNING,     /* in curl, in list running */
        REQUEST_WAITING,     /* backoff before the next attempt, in list waiting */
        REQUEST_DONE,        /* outcome known, in list done until dispatched */
        REQUEST_DISPATCHING, /* its callback runs; in no list */
        REQUEST_WALKING,     /* a walk, in list walks */
} RequestState;

typedef struct RequestList {
        E621Request *head, *tail;
        unsigned n;
} RequestList;

typedef struct IoWatch IoWatch;

struct E621Request {
        E621Client *client; /* borrowed; NULL once out of the client's lists */
        RequestClass cls;
        RequestState state;
        RequestList *list; /* the list it is in, or NULL */
        E621Request *prev, *next;

        /* what to ask */
        char *url;
        const char *method; /* static string */
        char *post_fields;
        bool json; /* a JSON answer is expected */
        bool auth; /* send credentials (API requests only) */
        size_t max_size;
        unsigned attempt;
        unsigned max_attempts; /* 0: the client's policy */
        bool fresh_connect;    /* the last attempt failed on the network: do not reuse its connection */

        /* one attempt */
        CURL *easy;
        struct curl_slist *headers;
        char errbuf[CURL_ERROR_SIZE];
        char *body;
        size_t size, alloc;
        bool too_large;
        char *retry_after;
        sd_event_source *retry_timer;

        /* the outcome */
        long status;
        char *content_type;
        int error;
        char *message;

        /* parses the outcome and calls the user's callback; runs from dispatch */
        void (*complete)(E621Request *r);
        union {
                E621DoneCallback done;
                E621UserCallback user;
                E621PostsCallback posts;
                E621VoteCallback vote;
                E621DownloadCallback download;
        } cb;
        void *userdata;
        unsigned limit; /* searches: the limit asked for */
        bool ok_422;    /* favourite: "already favorited" */
        bool ok_404;    /* unfavourite: already gone */

        /* walks */
        struct {
                char *tags;
                unsigned limit;
                uint64_t cursor;
                E621PageCallback page_cb;
                E621DoneCallback done_cb;
                E621Request *current; /* the page request in flight (borrowed) */
                bool in_callback, cancelled;
                bool paused; /* the page callback said E621_WALK_PAUSE: e621_walk_resume() goes on */
                size_t page_entries;
                uint64_t page_min_id;
        } walk;
};

struct E621Client {
        sd_event *event;
        CURLM *multi;
        sd_event_source *curl_timer; /* curl's CURLMOPT_TIMERFUNCTION */
        sd_event_source *kick;       /* the scheduler: tokens and slots */
        sd_event_source *dispatch;   /* runs finished requests' callbacks, one per iteration */
        IoWatch *watches;

        char *site;         /* normalised, no trailing '/' */
        char **image_hosts; /* owned strv, or NULL for the real site's */
        char *username, *api_key, *user_agent;

        double rate;
        unsigned download_concurrency;
        uint64_t max_image_bytes, max_json_bytes;
        E621RetryPolicy retry;

        double tokens;
        uint64_t tokens_at, api_blocked_until;
        unsigned n_downloads_running;
        uint64_t rng;

        RequestList queue_api, queue_download, running, waiting, done, walks;
};

/* client.c */
int request_new(E621Client *c, RequestClass cls, E621Request **ret);
E621Request *request_free(E621Request *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(E621Request *, request_free);
/* Queues r (taking it) and wakes the scheduler. */
int request_submit(E621Request *r);
/* Records the outcome of the last attempt: retried after a backoff when
 * retryable and attempts are left, else handed to dispatch. */
void request_finish_attempt(E621Request *r, int error, bool retryable, char *message, unsigned retry_after_s,
                            bool throttled);
void request_list_remove(E621Request *r);
void request_list_append(RequestList *l, E621Request *r, RequestState state);
void client_kick(E621Client *c);
/* Copies msg with the API key, if it appears, replaced. */
char *client_scrub(const E621Client *c, const char *msg);

/* http.c */
int http_init(E621Client *c);
void http_done(E621Client *c);
int http_start(E621Request *r);
void http_abort(E621Request *r);
/* "https://host:port" → 0 when it is an allowed site/image address. */
int url_check_safe(const char *url, bool allow_path, char **ret_normalised);

/* walk.c */
void walk_cancel(E621Request *w);
