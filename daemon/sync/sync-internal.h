/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the two halves of the Sync job: sync.c walks the lists,
 * sync-images.c fetches and crops the images. */

#include "config.h"
#include "core/counts.h"
#include "core/events.h"
#include "core/session.h"
#include "e621.h"
#include "images.h"
#include "jobs/runner.h"
#include "services/refresh.h"
#include "store.h"

typedef struct ImageFetch ImageFetch;
typedef struct WorkPool WorkPool;

typedef struct SyncJob {
        /* What a sync touches, borrowed from the core, not the whole Context. */
        sd_event *event; /* the page is stored a chunk a loop iteration */
        Store *store;
        E621Client *e621;       /* the lists, the account and the images */
        const Config *config;   /* page size, skip rules, image size */
        const Session *session; /* whose lists are walked */
        Counts *counts;         /* refreshed as pages and images land */
        Events *events;         /* EVENT_IMAGES_ADDED when done */
        WorkPool *work;         /* the crops run there */
        const char *images_dir; /* the dataset's crops */

        Job *job; /* borrowed: the job owns us */
        uint64_t generation;
        bool generation_open, lists_complete, stopped;
        unsigned list;        /* index into the lists being walked */
        E621Request *request; /* borrowed handle of the API call in progress */
        char *page_error;     /* owned; why a page could not be stored */
        Post **page;          /* owned: the page's posts, taken from the site's list */
        size_t n_page, page_next;
        sd_event_source *page_source; /* owned; stores the next chunk */

        SyncMode mode;   /* FULL or INCREMENTAL once started */
        bool automatic;  /* the timer's refresh, not the user */
        bool list_known; /* incremental: this page reached a post already known */
        uint64_t list_posts, posts, skipped, dropped;

        ImageNeeded *needed; /* owned batch */
        size_t n_needed, next_needed;
        ImageFetch *fetch; /* owned; the downloads and crops in flight */
        uint64_t images_done, images_total, images_new, images_failed, images_found;
        uint64_t last_counts_usec;

        /* the end, said once the counts include it */
        int result;
        char *message; /* owned */
        bool summarize;
} SyncJob;

/* Ends the job once (later calls do nothing), stopping all it has in flight;
 * the job finishes when the counts include what it stored. */
void sync_finish(SyncJob *s, int r, const char *fmt, ...) _printf_(3, 4);
/* "Failed to <what> in the database: <the store's reason>". */
void sync_finish_store_error(SyncJob *s, int r, const Error *db, const char *what);
/* Ends the job as done, with a summary of the dataset. */
void sync_summary(SyncJob *s);
/* Re-reads the counts for the manager off the loop, at most once a second. */
void sync_refresh_counts(SyncJob *s);

/* The image phase: starts it, stops what it has in flight, frees its memory. */
void sync_images_begin(SyncJob *s);
void sync_images_stop(SyncJob *s);
void sync_images_free(SyncJob *s);
