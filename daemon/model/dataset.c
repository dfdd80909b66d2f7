/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "model.h"

int model_dataset_new(uint32_t dim, uint32_t vocab, const ModelFeatureSet *sets, size_t n_sets,
                      ModelDataset **ret)
{
        _cleanup_(model_dataset_freep) ModelDataset *ds = NULL;
        uint32_t next = 0;

        if (dim == 0 || dim > MODEL_DIM_MAX || vocab > MODEL_VOCAB_MAX || n_sets > MODEL_FEATURE_SETS_MAX)
                return -EINVAL;
        if (sets && n_sets == 0)
                return -EINVAL;
        for (size_t i = 0; sets && i < n_sets; i++) {
                /* the sets tile the vector in order: an offset typo must not pass silently */
                if (sets[i].offset != next || sets[i].dim == 0 || sets[i].dim > dim - next)
                        return -EINVAL;
                if (isempty(sets[i].name) || !memchr(sets[i].name, 0, MODEL_FEATURE_SET_NAME_MAX))
                        return -EINVAL;
                next += sets[i].dim;
        }
        if (sets && next != dim)
                return -EINVAL;

        ds = calloc(1, sizeof(*ds));
        if (!ds)
                return -ENOMEM;
        ds->dim = dim;
        ds->vocab = vocab;
        if (sets) {
                memcpy(ds->sets, sets, n_sets * sizeof(*sets));
                ds->n_sets = n_sets;
        } else {
                ds->sets[0] = (ModelFeatureSet){.name = "features", .offset = 0, .dim = dim};
                ds->n_sets = 1;
        }
        ds->tag_offsets = calloc(1, sizeof(uint32_t));
        if (!ds->tag_offsets)
                return -ENOMEM;
        *ret = TAKE_PTR(ds);
        return 0;
}

ModelDataset *model_dataset_free(ModelDataset *ds)
{
        if (!ds)
                return NULL;
        free(ds->features);
        free(ds->labels);
        free(ds->tag_offsets);
        free(ds->tags);
        free(ds);
        return NULL;
}

static int grow(void **p, size_t *n_alloc, size_t need, size_t elem)
{
        if (need <= *n_alloc)
                return 0;
        size_t n = MAX(need, MAX(*n_alloc * 2, (size_t)64));
        if (n > SIZE_MAX / elem)
                return -ENOMEM;
        void *q = realloc(*p, n * elem);
        if (!q)
                return -ENOMEM;
        *p = q;
        *n_alloc = n;
        return 0;
}

int model_dataset_add(ModelDataset *ds, const float *features, const uint32_t *tags, size_t n_tags,
                      int label)
{
        int r;

        if (label != 1 && label != -1)
                return -EINVAL;
        if (n_tags > MODEL_TAGS_PER_POST_MAX || (n_tags && !tags))
                return -EINVAL;
        /* rows without an image come first: the image rows stay one block */
        if (!features && ds->n > ds->n_no_image)
                return -EINVAL;
        for (size_t i = 0; i < n_tags; i++)
                if (tags[i] >= ds->vocab || (i > 0 && tags[i] <= tags[i - 1]))
                        return -EINVAL;
        for (uint32_t i = 0; features && i < ds->dim; i++)
                if (!isfinite(features[i]))
                        return -EINVAL;
        if (ds->n_tags + n_tags > UINT32_MAX)
                return -E2BIG;

        /* labels and offsets grow together, keyed on n_alloc; the image rows on their own */
        if (ds->n + 1 > ds->n_alloc) {
                size_t n = MAX((size_t)64, ds->n_alloc * 2);
                uint8_t *l = realloc(ds->labels, n);
                if (!l)
                        return -ENOMEM;
                ds->labels = l;
                uint32_t *o = realloc(ds->tag_offsets, (n + 1) * sizeof(uint32_t));
                if (!o)
                        return -ENOMEM;
                ds->tag_offsets = o;
                ds->n_alloc = n;
        }
        size_t row = ds->n - ds->n_no_image;
        if (features && row + 1 > ds->n_features_alloc) {
                size_t n = MAX((size_t)64, ds->n_features_alloc * 2);
                float *f = realloc(ds->features, n * ds->dim * sizeof(float));
                if (!f)
                        return -ENOMEM;
                ds->features = f;
                ds->n_features_alloc = n;
        }
        r = grow((void **)&ds->tags, &ds->n_tags_alloc, ds->n_tags + n_tags, sizeof(uint32_t));
        if (r < 0)
                return r;

        /* an adopted buffer's row moves down in place (the source is at or after it) */
        if (features)
                memmove(ds->features + row * ds->dim, features, ds->dim * sizeof(float));
        else
                ds->n_no_image++;
        if (n_tags)
                memcpy(ds->tags + ds->n_tags, tags, n_tags * sizeof(uint32_t));
        ds->n_tags += n_tags;
        ds->labels[ds->n] = label > 0;
        ds->n++;
        ds->tag_offsets[ds->n] = (uint32_t)ds->n_tags;
        return 0;
}

int model_dataset_adopt_features(ModelDataset *ds, float *features, size_t n_rows)
{
        _cleanup_free_ float *f = features;

        if (ds->n > 0 || (n_rows > 0 && !features))
                return -EINVAL;
        free(ds->features);
        ds->features = TAKE_PTR(f);
        /* a NULL buffer for 0 rows: the first add grows it as usual */
        ds->n_features_alloc = ds->features ? MAX(n_rows, (size_t)1) : 0;
        return 0;
}

void model_dataset_counts(const ModelDataset *ds, size_t *ret_likes, size_t *ret_dislikes)
{
        size_t likes = 0;

        for (size_t i = 0; i < ds->n; i++)
                likes += ds->labels[i];
        if (ret_likes)
                *ret_likes = likes;
        if (ret_dislikes)
                *ret_dislikes = ds->n - likes;
}

ModelDataset model_dataset_image_rows(const ModelDataset *ds)
{
        ModelDataset v = *ds;
        size_t k = ds->n_no_image;

        /* tag_offsets[k…n] still index ds->tags from its start */
        v.n = ds->n - k;
        v.n_alloc = v.n;
        v.n_no_image = 0;
        v.labels = ds->labels + k;
        v.tag_offsets = ds->tag_offsets + k;
        return v;
}
