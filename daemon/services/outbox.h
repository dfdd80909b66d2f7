/* SPDX-License-Identifier: MIT */
#pragma once

/* The sender of the vote outbox: takes the due entries of the store's
 * vote_outbox one at a time, on fluffd's event loop, and sends each to the
 * site (the vote or its removal, then the favourite change), recording the
 * outcome only after the site answered.
 *
 * The entry in flight is marked in the store before its request leaves, so
 * after a kill the next start first asks the site (a search for
 * `id:N votedup:<user>`, `voteddown:` or `fav:`) whether the vote or the
 * favourite already arrived, and sends only what did not: the site sees each
 * vote once. Should that question fail, the entry is sent again, which is
 * still harmless: votes go out with no_unvote=true (a repeat keeps the vote),
 * "already favorited" counts as success, and removing a vote or a favourite
 * twice changes nothing.
 *
 * Transient failures (network, 5xx, 423, 429, 403, a rejected key, a 422
 * saying the vote limit was reached) keep the entry pending with an
 * exponential backoff plus jitter, stored as next_try so it holds across
 * restarts; refusals that will not change (other 422s and 400 with the site's
 * message, 404) mark it failed with that message. */

#include <stdint.h>

#include <systemd/sd-event.h>

#include "fluff/util.h"

typedef struct Counts Counts;
typedef struct E621Client E621Client;
typedef struct Events Events;
typedef struct Outbox Outbox;
typedef struct Session Session;
typedef struct Store Store;

#define OUTBOX_BACKOFF_BASE_USEC (2 * USEC_PER_SEC)
#define OUTBOX_BACKOFF_MAX_USEC (60 * 60 * USEC_PER_SEC)

/* After each outcome the counts are refreshed and EVENT_OUTBOX_CHANGED goes out. */
int outbox_new(sd_event *event, Store *store, E621Client *e621, const Session *session, Counts *counts,
               Events *events, Outbox **ret);
Outbox *outbox_free(Outbox *o);

/* Sends what is due now, or arms a timer for the next due entry. Does nothing
 * while logged out or while an entry is in flight. Call it after queueing, at
 * start and after a login. */
void outbox_kick(Outbox *o);
/* Drops the request in flight (logout): its entry stays pending. */
void outbox_stop(Outbox *o);

/* The last failure in words, "" when none; for status. */
const char *outbox_last_error(const Outbox *o);

/* The delay before attempt number attempts+1 after attempts failures:
 * base·2^(attempts−1), capped, then "equal jitter" (half fixed, half random)
 * from random_bits. */
uint64_t outbox_backoff_usec(unsigned attempts, uint64_t random_bits);
