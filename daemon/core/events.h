/* SPDX-License-Identifier: MIT */
#pragma once

/* fluffd's in-process event bus: a layer announces what happened, and whoever
 * above it cares subscribes, so calls never run back up. Delivery is
 * synchronous, in the order of subscription, on the loop's thread: an event
 * is handled before events_emit() returns, exactly where a direct call used
 * to be, so the order of replies and signals is unchanged. */

#include <stddef.h>
#include <stdint.h>

typedef struct Events Events;
typedef struct Job Job;
typedef struct PredictionRow PredictionRow;

typedef enum EventKind {
        EVENT_SESSION_CHANGED,       /* no payload: logged in or out */
        EVENT_COUNTS_CHANGED,        /* no payload: the dataset counts (core/counts.h) */
        EVENT_OUTBOX_CHANGED,        /* no payload: the outbox's counts or last error */
        EVENT_IMAGES_ADDED,          /* no payload: new dataset images (sync, a vote's crop) */
        EVENT_BACKBONE_CHANGED,      /* no payload: id, info or embedded count */
        EVENT_MODEL_CHANGED,         /* no payload: the taste model was replaced */
        EVENT_PREDICTIONS_ANNOUNCED, /* EventPredictions */
        EVENT_JOBS_CHANGED,          /* no payload: a job was added or removed, or its state changed */
        EVENT_JOB_ADDED,             /* EventJob */
        EVENT_JOB_REMOVED,           /* EventJob */
        EVENT_JOB_CHANGED,           /* EventJob with mask */
        EVENT_JOB_FINISHED,          /* EventJob */
        _EVENT_MAX,
        _EVENT_INVALID = -22,
} EventKind;

typedef struct EventJob {
        Job *job;
        unsigned mask; /* JOB_PROP_* for EVENT_JOB_CHANGED */
} EventJob;

/* A watch's run, stored and to be shown to the user. */
typedef struct EventPredictions {
        uint64_t watch_id;
        const char *tags;
        const PredictionRow *rows;
        size_t n;
} EventPredictions;

typedef void (*EventHandler)(EventKind kind, const void *payload, void *userdata);

int events_new(Events **ret);
Events *events_free(Events *e);

/* Handlers stay until the Events object goes; subscribers outlive it or
 * never go before fluffd stops. */
int events_subscribe(Events *e, EventKind kind, EventHandler handler, void *userdata);
/* NULL-safe: nothing happens without an event bus (unit tests). */
void events_emit(Events *e, EventKind kind, const void *payload);
