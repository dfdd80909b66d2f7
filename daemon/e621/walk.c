/* SPDX-License-Identifier: MIT */
/* A whole search, page after page with page=b<lowest id seen>: numbered pages
 * end at 750 and shift while the list changes, the cursor does neither. */
#include <assert.h>
#include <inttypes.h>

#include "e621-internal.h"

static void walk_free(E621Request *w)
{
        request_list_remove(w);
        request_free(w);
}

/* Ends the walk with its done callback. */
static void walk_end(E621Request *w, int error, const char *message)
{
        E621DoneCallback done = w->walk.done_cb;
        void *userdata = w->userdata;

        /* out of the client first: the callback may free the client */
        request_list_remove(w);
        w->client = NULL;
        w->state = REQUEST_DISPATCHING;
        if (done)
                done(error, message, userdata);
        request_free(w);
}

static void walk_on_page(int error, const char *message, E621PostList *list, void *userdata);

static int walk_next(E621Request *w)
{
        char page[32];

        if (w->walk.cursor > 0)
                (void)snprintf(page, sizeof(page), "b%" PRIu64, w->walk.cursor);
        int r = e621_search_posts(w->client, w->walk.tags, w->walk.limit, w->walk.cursor > 0 ? page : NULL,
                                  walk_on_page, w, &w->walk.current);
        if (r >= 0)
                w->walk.current->max_attempts = w->max_attempts;
        return r;
}

/* After a page: the next one, or the end. */
static void walk_go_on(E621Request *w, int r)
{
        if (r < 0) {
                /* the callback's owner has its own words for it; these are for the others */
                walk_end(w, r, "the walk stopped while a page of results was handled");
                return;
        }
        if (r == E621_WALK_STOP || w->walk.page_entries < w->walk.limit || w->walk.page_min_id == 0) {
                walk_end(w, 0, NULL);
                return;
        }
        /* a site that does not move the cursor down would loop forever */
        if (w->walk.cursor > 0 && w->walk.page_min_id >= w->walk.cursor) {
                walk_end(w, -EPROTO, "the site repeated posts while paging; stopping");
                return;
        }
        w->walk.cursor = w->walk.page_min_id;
        r = walk_next(w);
        if (r < 0)
                walk_end(w, r, "Fluff could not request the next page");
}

static void walk_on_page(int error, const char *message, E621PostList *list, void *userdata)
{
        E621Request *w = userdata;
        int r;

        w->walk.current = NULL; /* finishing now; freed after this returns */
        if (error < 0) {
                walk_end(w, error, message);
                return;
        }
        w->walk.page_entries = list->n_entries;
        w->walk.page_min_id = list->min_id;
        w->walk.in_callback = true;
        r = w->walk.page_cb ? w->walk.page_cb(list, w->userdata) : 0;
        w->walk.in_callback = false;
        if (w->walk.cancelled) {
                request_free(w);
                return;
        }
        if (r == E621_WALK_PAUSE) {
                w->walk.paused = true;
                return;
        }
        walk_go_on(w, r);
}

void e621_walk_resume(E621Request *w, int r)
{
        assert(w && w->cls == REQUEST_WALK && w->walk.paused && !w->walk.in_callback);
        w->walk.paused = false;
        walk_go_on(w, r);
}

int e621_walk_posts(E621Client *c, const char *tags, unsigned limit, E621PageCallback page_cb,
                    E621DoneCallback done_cb, void *userdata, E621Request **ret_request)
{
        _cleanup_(request_freep) E621Request *w = NULL;
        int r;

        if (!page_cb || !done_cb || limit > E621_POSTS_LIMIT_MAX)
                return -EINVAL;
        r = request_new(c, REQUEST_WALK, &w);
        if (r < 0)
                return r;
        w->walk.tags = strdup(tags ? tags : "");
        if (!w->walk.tags)
                return -ENOMEM;
        w->walk.limit = limit > 0 ? limit : E621_POSTS_LIMIT_MAX;
        w->walk.page_cb = page_cb;
        w->walk.done_cb = done_cb;
        w->userdata = userdata;
        r = walk_next(w);
        if (r < 0)
                return r;
        request_list_append(&c->walks, w, REQUEST_WALKING);
        if (ret_request)
                *ret_request = w;
        TAKE_PTR(w);
        return 0;
}

void walk_cancel(E621Request *w)
{
        request_list_remove(w);
        if (w->walk.in_callback) {
                /* walk_on_page frees it once the page callback returns */
                w->walk.cancelled = true;
                w->client = NULL;
                return;
        }
        (void)e621_request_cancel(w->walk.current);
        w->walk.current = NULL;
        walk_free(w);
}
