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
        free(ds->features_half);
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

/* A row of floats (f) or half floats (h), or neither: no image. */
static int dataset_add(ModelDataset *ds, const float *features, const uint16_t *h, const uint32_t *tags,
                       size_t n_tags, int label)
{
        int r;

        if (label != 1 && label != -1)
                return -EINVAL;
        if (n_tags > MODEL_TAGS_PER_POST_MAX || (n_tags && !tags))
                return -EINVAL;
        /* rows without an image come first: the image rows stay one block */
        if (!features && !h && ds->n > ds->n_no_image)
                return -EINVAL;
        for (size_t i = 0; i < n_tags; i++)
                if (tags[i] >= ds->vocab || (i > 0 && tags[i] <= tags[i - 1]))
                        return -EINVAL;
        for (uint32_t i = 0; features && i < ds->dim; i++)
                if (!isfinite(features[i]))
                        return -EINVAL;
        for (uint32_t i = 0; h && i < ds->dim; i++)
                if ((h[i] & 0x7c00u) == 0x7c00u) /* inf or NaN */
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
        bool half = ds->features_half;
        if ((features || h) && row + 1 > ds->n_features_alloc) {
                size_t n = MAX((size_t)64, ds->n_features_alloc * 2);
                void *f = realloc(half ? (void *)ds->features_half : (void *)ds->features,
                                  n * ds->dim * (half ? sizeof(uint16_t) : sizeof(float)));
                if (!f)
                        return -ENOMEM;
                if (half)
                        ds->features_half = f;
                else
                        ds->features = f;
                ds->n_features_alloc = n;
        }
        r = grow((void **)&ds->tags, &ds->n_tags_alloc, ds->n_tags + n_tags, sizeof(uint32_t));
        if (r < 0)
                return r;

        /* an adopted buffer's row moves down in place (the source is at or after it) */
        if (features && half)
                floats_to_half(features, ds->features_half + row * ds->dim, ds->dim);
        else if (features)
                memmove(ds->features + row * ds->dim, features, ds->dim * sizeof(float));
        else if (h && half)
                memmove(ds->features_half + row * ds->dim, h, ds->dim * sizeof(uint16_t));
        else if (h)
                for (uint32_t i = 0; i < ds->dim; i++)
                        ds->features[row * ds->dim + i] = half_to_float(h[i]);
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

int model_dataset_add(ModelDataset *ds, const float *features, const uint32_t *tags, size_t n_tags,
                      int label)
{
        return dataset_add(ds, features, NULL, tags, n_tags, label);
}

int model_dataset_add_half(ModelDataset *ds, const uint16_t *features, const uint32_t *tags, size_t n_tags,
                           int label)
{
        if (!features)
                return -EINVAL;
        return dataset_add(ds, NULL, features, tags, n_tags, label);
}

int model_dataset_adopt_features_half(ModelDataset *ds, uint16_t *features, size_t n_rows)
{
        _cleanup_free_ uint16_t *f = features;

        if (ds->n > 0 || !features)
                return -EINVAL;
        free(ds->features);
        ds->features = NULL;
        free(ds->features_half);
        ds->features_half = TAKE_PTR(f);
        ds->n_features_alloc = MAX(n_rows, (size_t)1);
        return 0;
}

FeatureRows model_dataset_rows(const ModelDataset *ds)
{
        return (FeatureRows){.f32 = ds->features, .f16 = ds->features_half, .dim = ds->dim};
}

int model_dataset_adopt_features(ModelDataset *ds, float *features, size_t n_rows)
{
        _cleanup_free_ float *f = features;

        if (ds->n > 0 || (n_rows > 0 && !features) || ds->features_half)
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
