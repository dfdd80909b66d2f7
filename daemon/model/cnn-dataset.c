/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <time.h>

#include "cnn.h"
#include "model-internal.h"

/* Reports the time left of the whole training, not of the CNN's share. */
typedef struct Relay {
        ModelProgressFn progress;
        void *userdata;
        double after; /* seconds the head gets after the CNN's share */
} Relay;

static int relay(ModelStage stage, unsigned epoch, double loss, double val_auc, double seconds_left,
                 void *userdata)
{
        Relay *r = userdata;
        return r->progress(stage, epoch, loss, val_auc, seconds_left + r->after, r->userdata);
}

static uint64_t splitmix(uint64_t *s)
{
        uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

int cnn_crossfit_halves(const uint8_t *labels, size_t n, uint64_t seed, uint8_t *half)
{
        _cleanup_free_ uint32_t *order = malloc(MAX(n, (size_t)1) * sizeof(uint32_t));
        uint64_t rng = seed ^ 0x6a09e667f3bcc909ull;
        size_t k = 0;

        if (!order)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                order[i] = (uint32_t)i;
        for (size_t i = n; i > 1; i--) {
                size_t j = splitmix(&rng) % i, t = order[i - 1];
                order[i - 1] = order[j];
                order[j] = (uint32_t)t;
        }
        /* each class dealt alternately, in the shuffled order: both halves
         * get half of the likes and half of the dislikes */
        for (int c = 0; c < 2; c++)
                for (size_t i = 0; i < n; i++)
                        if ((labels[order[i]] != 0) == c)
                                half[order[i]] = (uint8_t)(k++ % 2);
        return 0;
}

/* One network on the rows of half h: its own stratified train/validation
 * split there (val_fraction of each class), early-stopped on it. */
static int train_half(VkEngine *e, const CnnArch *a, const uint8_t *rgb, const uint8_t *labels, size_t n,
                      const uint8_t *half, uint8_t h, const ModelTrainOptions *o, CnnTrainOptions *co,
                      ModelCnn **ret, Error *error)
{
        _cleanup_free_ uint32_t *train = malloc(MAX(n, (size_t)1) * sizeof(uint32_t)),
                                *val = malloc(MAX(n, (size_t)1) * sizeof(uint32_t));
        size_t n_train = 0, n_val = 0, seen[2] = {}, count[2] = {};

        if (!train || !val)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (half[i] == h)
                        count[labels[i] != 0]++;
        for (size_t i = 0; i < n; i++) {
                if (half[i] != h)
                        continue;
                int c = labels[i] != 0;
                /* every (1/val_fraction)-th of its class, at least two */
                size_t want = MAX((size_t)lround(o->val_fraction * (double)count[c]), (size_t)2);
                size_t k = seen[c]++;
                if (k * want / count[c] != (k + 1) * want / count[c])
                        val[n_val++] = (uint32_t)i;
                else
                        train[n_train++] = (uint32_t)i;
        }
        co->seed = o->seed + h;
        return cnn_train(e, a, rgb, labels, n, &(CnnSplit){train, val, n_train, n_val}, co, ret, error);
}

int cnn_train_dataset(VkEngine *e, const CnnArch *a, ModelDataset *ds, const char *const *crops,
                      const ModelTrainOptions *o, double budget_s, ModelCnn **ret_a, ModelCnn **ret_b,
                      Error *error)
{
        _cleanup_(model_cnn_freep) ModelCnn *net_a = NULL, *net_b = NULL;
        ModelCnn **net[2] = {&net_a, &net_b};
        _cleanup_free_ uint8_t *rgb = NULL, *half = NULL;
        _cleanup_free_ int *status = NULL;
        _cleanup_free_ float *logits = NULL;
        size_t sz = (size_t)a->stored * a->stored * 3;
        double start = model_now_s();
        int r;

        if (cnn_arch_check(a) < 0 || ds->dim != CNN_HEAD_DIM || ds->n_sets != 1 || ds->n == 0 ||
            !(o->val_fraction > 0 && o->val_fraction < 1))
                return -EINVAL;
        rgb = malloc(ds->n * sz);
        status = calloc(ds->n, sizeof(int));
        half = malloc(ds->n);
        logits = malloc(ds->n * sizeof(float));
        if (!rgb || !status || !half || !logits)
                return -ENOMEM;
        r = cnn_images_load(crops, ds->n, a->stored, rgb, status);
        if (r < 0) {
                return error_setf(error, r, "libvips cannot start to read the crops.");
        }
        for (size_t i = 0; i < ds->n; i++)
                if (status[i] < 0) {
                        /* zeros would be a real (black) picture to the CNN */
                        return error_setf(error, status[i], "The crop \"%s\" does not read: %s.",
                                          strna(crops[i]), strerror(-status[i]));
                }
        if ((r = cnn_crossfit_halves(ds->labels, ds->n, o->seed, half)) < 0)
                return r;
        /* Two networks, one per half, each in half of the share (what
         * decoding the crops took comes out of it); every post's feature is
         * the logit of the network that did not train on it. */
        for (uint8_t h = 0; h < 2; h++) {
                CnnTrainOptions co = CNN_TRAIN_OPTIONS_DEFAULT;
                double until = start + budget_s * (h + 1) / 2;
                co.time_budget_s = MAX(until - model_now_s(), 0.05 * budget_s);
                Relay rl = {o->progress, o->userdata,
                            MAX(o->time_budget_s - budget_s, 0.0) + (h == 0 ? budget_s / 2 : 0)};
                if (o->progress) {
                        co.progress = relay;
                        co.userdata = &rl;
                }
                co.cancel = o->cancel;
                r = train_half(e, a, rgb, ds->labels, ds->n, half, h, o, &co, net[h], error);
                if (r < 0)
                        return r;
                r = cnn_features(e, *net[h], rgb, ds->n, NULL, logits);
                if (r < 0)
                        return r;
                /* the other half: out of this network's sight */
                size_t n_out = 0, k = 0;
                for (size_t i = 0; i < ds->n; i++)
                        if (half[i] != h) {
                                ds->features[i] = logits[i];
                                n_out++;
                        }
                /* its ROC AUC on the half it never saw: the CNN alone, honestly */
                _cleanup_free_ float *z = malloc(MAX(n_out, (size_t)1) * sizeof(float));
                _cleanup_free_ uint8_t *y = malloc(MAX(n_out, (size_t)1));
                if (!z || !y)
                        return -ENOMEM;
                for (size_t i = 0; i < ds->n; i++)
                        if (half[i] != h) {
                                z[k] = logits[i];
                                y[k++] = ds->labels[i];
                        }
                (*net[h])->val_auc = metrics_roc_auc(z, y, n_out);
        }
        *ret_a = TAKE_PTR(net_a);
        *ret_b = TAKE_PTR(net_b);
        return 0;
}

int cnn_features_of_files(VkEngine *e, const ModelCnn *c, const char *const *paths, size_t n,
                          float *ret_features, int *status)
{
        size_t sz = (size_t)c->arch.stored * c->arch.stored * 3;
        uint32_t F = cnn_feature_dim(&c->arch);
        _cleanup_free_ uint8_t *rgb = malloc(MAX(n, (size_t)1) * sz);
        int r;

        if (!rgb)
                return -ENOMEM;
        r = cnn_images_load(paths, n, c->arch.stored, rgb, status);
        if (r < 0)
                return r;
        r = cnn_features(e, c, rgb, n, ret_features, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (status[i] < 0)
                        memset(ret_features + i * F, 0, F * sizeof(float));
        return 0;
}

int model_cnn_features_of_files(VkEngine *e, const Model *m, const char *const *paths, size_t n,
                                float *ret_features, int *status)
{
        _cleanup_free_ uint8_t *rgb = NULL;
        _cleanup_free_ float *za = NULL, *zb = NULL;
        size_t sz;
        int r;

        if (!m->cnn)
                return -EINVAL;
        if (!m->cnn_b)
                /* a file from before the cross-fitting: the CNN's features */
                return cnn_features_of_files(e, m->cnn, paths, n, ret_features, status);
        if (m->dim != CNN_HEAD_DIM || memcmp(&m->cnn->arch, &m->cnn_b->arch, sizeof(CnnArch)) != 0)
                return -EINVAL;
        sz = (size_t)m->cnn->arch.stored * m->cnn->arch.stored * 3;
        rgb = malloc(MAX(n, (size_t)1) * sz);
        za = malloc(MAX(n, (size_t)1) * sizeof(float));
        zb = malloc(MAX(n, (size_t)1) * sizeof(float));
        if (!rgb || !za || !zb)
                return -ENOMEM;
        r = cnn_images_load(paths, n, m->cnn->arch.stored, rgb, status);
        if (r < 0)
                return r;
        if ((r = cnn_features(e, m->cnn, rgb, n, NULL, za)) < 0 ||
            (r = cnn_features(e, m->cnn_b, rgb, n, NULL, zb)) < 0)
                return r;
        /* a new post was seen by neither network: both halves' views, averaged */
        for (size_t i = 0; i < n; i++)
                ret_features[i] = status[i] < 0 ? 0 : 0.5f * (za[i] + zb[i]);
        return 0;
}
