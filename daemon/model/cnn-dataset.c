/* SPDX-License-Identifier: MIT */
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

int cnn_train_dataset(VkEngine *e, const CnnArch *a, ModelDataset *ds, const char *const *crops,
                      const ModelTrainOptions *o, double budget_s, ModelCnn **ret, Error *error)
{
        _cleanup_(model_cnn_freep) ModelCnn *c = NULL;
        _cleanup_free_ uint8_t *rgb = NULL;
        _cleanup_free_ int *status = NULL;
        _cleanup_free_ uint32_t *train = NULL, *val = NULL;
        size_t n_train, n_val, sz = (size_t)a->stored * a->stored * 3;
        CnnTrainOptions co = CNN_TRAIN_OPTIONS_DEFAULT;
        double start = model_now_s();
        int r;

        if (cnn_arch_check(a) < 0 || ds->dim != cnn_feature_dim(a) || ds->n_sets != 1 || ds->n == 0)
                return -EINVAL;
        rgb = malloc(ds->n * sz);
        status = calloc(ds->n, sizeof(int));
        if (!rgb || !status)
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
        r = model_split(ds, o, &train, &n_train, &val, &n_val);
        if (r < 0)
                return r;
        /* decoding the crops comes out of the CNN's share */
        co.time_budget_s = MAX(budget_s - (model_now_s() - start), 0.1 * budget_s);
        co.seed = o->seed;
        Relay rl = {o->progress, o->userdata, MAX(o->time_budget_s - budget_s, 0.0)};
        if (o->progress) {
                co.progress = relay;
                co.userdata = &rl;
        }
        co.cancel = o->cancel;
        uint8_t *labels = ds->labels;
        r = cnn_train(e, a, rgb, labels, ds->n, &(CnnSplit){train, val, n_train, n_val}, &co, &c, error);
        if (r < 0)
                return r;
        r = cnn_features(e, c, rgb, ds->n, ds->features, NULL);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
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
