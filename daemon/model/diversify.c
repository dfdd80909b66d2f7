/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "diversify.h"
#include "fluff/util.h"

/* Descending score, then ascending index: a total order (NaN last). */
static int cmp_desc(const void *a, const void *b, void *ud)
{
        const float *s = ud;
        uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
        float x = isnan(s[i]) ? -INFINITY : s[i], y = isnan(s[j]) ? -INFINITY : s[j];
        if (x != y)
                return x > y ? -1 : 1;
        return i < j ? -1 : i > j;
}

static int cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        return (x > y) - (x < y);
}

int diversify_by_artist(const float *scores, const uint32_t *artist_offsets, const uint32_t *artist_ids,
                        size_t n, unsigned cap, uint32_t *order)
{
        _cleanup_free_ uint32_t *sorted = malloc(MAX(n, (size_t)1) * sizeof(uint32_t));
        _cleanup_free_ uint32_t *ids = NULL, *count = NULL, *wait = NULL;
        size_t n_ids, n_distinct = 0, out = 0, n_wait = 0;

        if (!sorted)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                sorted[i] = (uint32_t)i;
        qsort_r(sorted, n, sizeof(uint32_t), cmp_desc, (void *)scores);
        if (cap == 0 || n == 0 || !artist_offsets) {
                memcpy(order, sorted, n * sizeof(uint32_t));
                return 0;
        }
        /* artist ids may be anything (store ids): count them by their rank
         * among this list's distinct ids */
        n_ids = artist_offsets[n];
        ids = malloc(MAX(n_ids, (size_t)1) * sizeof(uint32_t));
        count = calloc(MAX(n_ids, (size_t)1), sizeof(uint32_t));
        wait = malloc(n * sizeof(uint32_t));
        if (!ids || !count || !wait)
                return -ENOMEM;
        memcpy(ids, artist_ids, n_ids * sizeof(uint32_t));
        qsort(ids, n_ids, sizeof(uint32_t), cmp_u32);
        for (size_t a = 0; a < n_ids; a++)
                if (n_distinct == 0 || ids[n_distinct - 1] != ids[a])
                        ids[n_distinct++] = ids[a];

        for (size_t k = 0; k < n; k++) {
                uint32_t i = sorted[k];
                bool full = false;
                for (uint32_t a = artist_offsets[i]; a < artist_offsets[i + 1] && !full; a++) {
                        uint32_t *p = bsearch(&artist_ids[a], ids, n_distinct, sizeof(uint32_t), cmp_u32);
                        full = count[p - ids] >= cap;
                }
                if (full) {
                        wait[n_wait++] = i;
                        continue;
                }
                for (uint32_t a = artist_offsets[i]; a < artist_offsets[i + 1]; a++) {
                        uint32_t *p = bsearch(&artist_ids[a], ids, n_distinct, sizeof(uint32_t), cmp_u32);
                        count[p - ids]++;
                }
                order[out++] = i;
        }
        memcpy(order + out, wait, n_wait * sizeof(uint32_t));
        return 0;
}
