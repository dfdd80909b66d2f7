/* SPDX-License-Identifier: MIT */
#include "core/events.h"
#include "fluff/util.h"

/* A handful of subscribers per kind at most: a small array is plenty. */
#define EVENTS_PER_KIND_MAX 8

typedef struct Subscriber {
        EventHandler handler;
        void *userdata;
} Subscriber;

struct Events {
        Subscriber subscribers[_EVENT_MAX][EVENTS_PER_KIND_MAX];
        unsigned n[_EVENT_MAX];
};

int events_new(Events **ret)
{
        Events *e = calloc(1, sizeof(Events));
        if (!e)
                return -ENOMEM;
        *ret = e;
        return 0;
}

Events *events_free(Events *e)
{
        free(e);
        return NULL;
}

int events_subscribe(Events *e, EventKind kind, EventHandler handler, void *userdata)
{
        if (kind < 0 || kind >= _EVENT_MAX || !handler)
                return -EINVAL;
        if (e->n[kind] >= EVENTS_PER_KIND_MAX)
                return -ENOBUFS;
        e->subscribers[kind][e->n[kind]++] = (Subscriber){.handler = handler, .userdata = userdata};
        return 0;
}

void events_emit(Events *e, EventKind kind, const void *payload)
{
        if (!e || kind < 0 || kind >= _EVENT_MAX)
                return;
        for (unsigned i = 0; i < e->n[kind]; i++)
                e->subscribers[kind][i].handler(kind, payload, e->subscribers[kind][i].userdata);
}
