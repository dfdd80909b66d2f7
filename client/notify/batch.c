/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "explain.h"
#include "notify.h"

static void post_done(NotifyPost *p)
{
        free(p->label);
        free(p->tags);
        free(p->image);
        free(p->url);
}

Batch *batch_free(Batch *b)
{
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n_posts; i++)
                post_done(&b->posts[i]);
        free(b->posts);
        free(b->query);
        free(b);
        return NULL;
}

static int post_copy(NotifyPost *to, uint64_t id, double score, const char *label, const char *tags,
                     const char *image, const char *url)
{
        *to = (NotifyPost){.id = id, .score = score};
        to->label = strdup(label);
        to->tags = strdup(tags);
        to->image = strdup(image);
        to->url = strdup(url);
        if (!to->label || !to->tags || !to->image || !to->url) {
                post_done(to);
                *to = (NotifyPost){};
                return -ENOMEM;
        }
        return 0;
}

int batch_read(sd_bus_message *m, Batch **ret)
{
        _cleanup_(batch_freep) Batch *b = NULL;
        const char *query, *label, *tags, *image, *url;
        uint64_t watch_id, id;
        double score;
        size_t skipped = 0;
        int r;

        b = calloc(1, sizeof(Batch));
        if (!b)
                return -ENOMEM;
        r = sd_bus_message_read(m, "ts", &watch_id, &query);
        if (r < 0)
                return r;
        b->watch_id = watch_id;
        b->query = strdup(query);
        b->posts = calloc(NOTIFY_MAX_POSTS, sizeof(NotifyPost));
        if (!b->query || !b->posts)
                return -ENOMEM;
        bool explained = sd_bus_message_has_signature(m, "tsa(tdssssa{sv})");
        r = sd_bus_message_enter_container(m, 'a', explained ? "(tdssssa{sv})" : "(tdssss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'r', explained ? "tdssssa{sv}" : "tdssss")) > 0) {
                Explanation e = {};
                r = sd_bus_message_read(m, "tdssss", &id, &score, &label, &tags, &image, &url);
                if (r >= 0 && explained)
                        r = explanation_read(m, &e);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                if (b->n_posts >= NOTIFY_MAX_POSTS) {
                        skipped++;
                        continue;
                }
                NotifyPost *p = &b->posts[b->n_posts];
                r = post_copy(p, id, score, label, tags, image, url);
                if (r < 0)
                        return r;
                p->explained = e.present;
                p->logit = e.logit;
                p->bias = e.bias;
                p->image_share = e.image;
                p->tags_share = e.tags;
                b->n_posts++;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        if (skipped > 0)
                log_info("Watch %" PRIu64 " announced %zu posts; showing the best %d.", watch_id,
                         NOTIFY_MAX_POSTS + skipped, NOTIFY_MAX_POSTS);
        *ret = TAKE_PTR(b);
        return 0;
}

int batch_pick(const Batch *b, size_t i, Batch **ret)
{
        _cleanup_(batch_freep) Batch *n = NULL;
        const NotifyPost *p = &b->posts[i];
        int r;

        n = calloc(1, sizeof(Batch));
        if (!n)
                return -ENOMEM;
        n->watch_id = b->watch_id;
        n->query = strdup(b->query);
        n->posts = calloc(1, sizeof(NotifyPost));
        if (!n->query || !n->posts)
                return -ENOMEM;
        r = post_copy(&n->posts[0], p->id, p->score, p->label, p->tags, p->image, p->url);
        if (r < 0)
                return r;
        n->posts[0].explained = p->explained;
        n->posts[0].logit = p->logit;
        n->posts[0].bias = p->bias;
        n->posts[0].image_share = p->image_share;
        n->posts[0].tags_share = p->tags_share;
        n->n_posts = 1;
        *ret = TAKE_PTR(n);
        return 0;
}
