/* SPDX-License-Identifier: MIT */
#include "notify.h"

/* The table is tiny (NOTIFY_MAX_SHOWN) and kept oldest first, so a linear
 * search is simplest and eviction takes the front. */

int shown_add(Context *c, uint32_t id, Batch *batch, uint32_t *ret_evicted)
{
        uint32_t evicted = 0;

        if (id == 0) {
                batch_free(batch);
                return -EINVAL;
        }
        /* A server may hand an id out again once its notification is gone. */
        batch_free(shown_take(c, id));
        if (c->n_shown == NOTIFY_MAX_SHOWN) {
                evicted = c->shown[0].id;
                batch_free(c->shown[0].batch);
                free(c->shown[0].activation_token);
                memmove(c->shown, c->shown + 1, (c->n_shown - 1) * sizeof(Shown));
                c->n_shown--;
        }
        c->shown[c->n_shown++] = (Shown){.id = id, .batch = batch};
        if (ret_evicted)
                *ret_evicted = evicted;
        return 0;
}

Shown *shown_find(Context *c, uint32_t id)
{
        for (size_t i = 0; i < c->n_shown; i++)
                if (c->shown[i].id == id)
                        return &c->shown[i];
        return NULL;
}

Batch *shown_take(Context *c, uint32_t id)
{
        Shown *s = shown_find(c, id);
        Batch *b;

        if (!s)
                return NULL;
        b = s->batch;
        free(s->activation_token);
        memmove(s, s + 1, (size_t)(c->shown + c->n_shown - (s + 1)) * sizeof(Shown));
        c->n_shown--;
        return b;
}

void shown_clear(Context *c)
{
        for (size_t i = 0; i < c->n_shown; i++) {
                batch_free(c->shown[i].batch);
                free(c->shown[i].activation_token);
        }
        c->n_shown = 0;
}
