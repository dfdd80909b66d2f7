/* SPDX-License-Identifier: MIT */
#pragma once

/* A vote: the label at once, the site through the outbox.
 *
 * A like or dislike of a post of a kept prediction run (manual or watch) also
 * moves the post's crop into the dataset, $XDG_DATA_HOME/fluff/images/<md5>.jpg,
 * and records it ok, so the next training and the Embed job use it without a
 * download (EVENT_IMAGES_ADDED starts the Embed job). The runs are pointed at
 * the moved file: they still show an image that exists, and a re-predict
 * (which deletes only files in its own folder) leaves it alone. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluff/error.h"

typedef struct Config Config;
typedef struct Context Context;
typedef struct Counts Counts;
typedef struct E621Client E621Client;
typedef struct Events Events;
typedef struct Outbox Outbox;
typedef struct Session Session;
typedef struct Store Store;

/* What a vote touches (all borrowed), not the whole Context. */
typedef struct Voter {
        Store *store;
        E621Client *e621;       /* fetches a post Fluff has not stored */
        const char *site;       /* named when the site does not have the post */
        const Config *config;   /* like_favourites, the crops' size */
        const Session *session; /* a vote needs a login */
        Counts *counts;         /* refreshed after a vote */
        Events *events;         /* EVENT_IMAGES_ADDED, EVENT_OUTBOX_CHANGED */
        const char *images_dir; /* where an adopted crop goes */
        Outbox *outbox;         /* kicked after a vote: the site hears of it */
} Voter;

/* The Voter of the core ctx and the outbox. */
Voter voter_make(Context *ctx, Outbox *outbox);

/* score: 1 like, -1 dislike, 0 clear; post_id 1…INT64_MAX (the caller
 * checks both). The label and its outbox entry land in one transaction; then
 * the crop moves (a failure there is only logged: the next sync fetches the
 * image) and the outbox is kicked. -ENOKEY when logged out, -ENOENT for a
 * post Fluff does not know, and for a clear of a post that has no label at
 * all. The counts are vote_count()'s. */
int vote_record(const Voter *v, uint64_t post_id, int score, Error *error);

/* After votes were recorded: counts the dataset off the loop (a pass over
 * every label, 0.3-0.9 s at 100,000 posts, which the loop would spend away
 * from the bus), announces the counts and EVENT_OUTBOX_CHANGED, then calls
 * done(userdata) on the loop, where a vote's reply goes so that a client
 * reads the new counts once it has it. 1 when done follows; 0 when it
 * counted on the loop already (no worker took it) and done will not be
 * called. */
typedef void (*vote_counted_t)(void *userdata);
int vote_count(const Voter *v, vote_counted_t done, void *userdata);

/* The same for any post on the site: one Fluff does not know yet is fetched
 * first (GET /posts/<id>.json, once: afterwards it is stored) and then voted
 * on. Returns 0 when recorded at once (a known post, or a refusal that needs
 * no fetch: logged out, a clear), 1 when the fetch started: done() then gets
 * vote_record()'s result, or -ENOENT for a post the site does not have or
 * deleted, with a sentence in error. < 0 with error set when it failed at once. */
typedef void (*VoteFetchDone)(int r, const Error *error, void *userdata);
int vote_record_any(const Voter *v, uint64_t post_id, int score, VoteFetchDone done, void *userdata,
                    Error *error);

/* After a like or dislike of post_id: brings its prediction crop into the
 * dataset as described above. 1 when moved, 0 when there was nothing to do
 * (not predicted, no crop left on disk, or the dataset already has a good
 * image, which is kept), < 0 on failure (the label stands regardless; the
 * next sync fetches the image). Logs at debug only. */
int vote_adopt_crop(const Voter *v, uint64_t post_id);

/* Whether path is <cache>/predictions/<md5>.jpg or <cache>/watches/<md5>.jpg
 * for this md5: the only prediction crops a vote moves. */
bool vote_crop_is_ours(const char *cache_dir, const char *md5, const char *path);

/* Moves src to dst: rename(2), or across file systems a copy written through
 * a temporary file with fsync and rename, then src deleted. dst's folder is
 * synced either way. At most max_size bytes are copied (-EFBIG beyond). */
int file_move(const char *src, const char *dst, size_t max_size);
