/* SPDX-License-Identifier: MIT */
/* The order of a list of scored posts, not flooded by one artist (issue 13):
 * model/diversify.c's per-artist cap over the posts' artist tags. */
#include <stdlib.h>
#include <string.h>

#include "diversify.h"
#include "predict/predict.h"

/* Tags the site files under "artist" that name no one: they would make
 * unrelated posts wait for each other. */
static const char *const not_an_artist[] = {
        "anonymous_artist", "avoid_posting",    "conditional_dnp", "epilepsy_warning",
        "sound_warning",    "third-party_edit", "unknown_artist",  "unknown_artist_signature",
};

static bool is_artist(const PostTag *t)
{
        if (!t->name || !t->category || !streq(t->category, "artist"))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(not_an_artist); i++)
                if (streq(t->name, not_an_artist[i]))
                        return false;
        return true;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int predict_artist_order(Post *const *posts, const float *scores, size_t n, unsigned cap, uint32_t *order)
{
        _cleanup_free_ const char **names = NULL;
        _cleanup_free_ uint32_t *offsets = NULL, *ids = NULL;
        size_t n_names = 0, n_distinct = 0;

        if (cap == 0)
                return diversify_by_artist(scores, NULL, NULL, n, 0, order);
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < posts[i]->n_tags; j++)
                        n_names += is_artist(&posts[i]->tags[j]);
        names = malloc(MAX(n_names, (size_t)1) * sizeof(char *));
        offsets = malloc((n + 1) * sizeof(uint32_t));
        ids = malloc(MAX(n_names, (size_t)1) * sizeof(uint32_t));
        if (!names || !offsets || !ids)
                return -ENOMEM;
        /* the distinct names, sorted: a name's id is its rank */
        n_names = 0;
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < posts[i]->n_tags; j++)
                        if (is_artist(&posts[i]->tags[j]))
                                names[n_names++] = posts[i]->tags[j].name;
        qsort(names, n_names, sizeof(char *), cmp_str);
        for (size_t a = 0; a < n_names; a++)
                if (n_distinct == 0 || !streq(names[n_distinct - 1], names[a]))
                        names[n_distinct++] = names[a];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                offsets[i] = (uint32_t)k;
                for (size_t j = 0; j < posts[i]->n_tags; j++) {
                        if (!is_artist(&posts[i]->tags[j]))
                                continue;
                        const char **p =
                                bsearch(&posts[i]->tags[j].name, names, n_distinct, sizeof(char *), cmp_str);
                        ids[k++] = (uint32_t)(p - names);
                }
        }
        offsets[n] = (uint32_t)k;
        return diversify_by_artist(scores, offsets, ids, n, cap, order);
}
