/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <time.h>

#include "cnn-net.h"
#include "metrics.h"
#include "model-internal.h"

#define CNN_EVAL_BATCH 64u

static uint64_t splitmix(uint64_t *s)
{
        uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

/* He initialisation for the convolutions (fan-in 9·c_in), small for the linear layer. */
static void init_params(ModelCnn *c, uint64_t seed)
{
        CnnParam p[CNN_PARAMS_MAX];
        size_t n = cnn_param_layout(&c->arch, p);
        uint64_t s = seed ^ 0x5cbd1e5ull;

        for (size_t k = 0; k < n; k++) {
                bool bias = strstr(p[k].name, "bias") != NULL;
                double std = p[k].cols ? sqrt(2.0 / p[k].rows) : 0.01;
                for (size_t i = 0; i < cnn_param_count(&p[k]); i++) {
                        double u1 = ((splitmix(&s) >> 11) + 0.5) / 9007199254740992.0;
                        double u2 = ((splitmix(&s) >> 11) + 0.5) / 9007199254740992.0;
                        double g = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
                        c->params[p[k].offset + i] = bias ? 0.0f : (float)(g * std);
                }
        }
}

static void gather(const CnnArch *a, const uint8_t *rgb, const uint32_t *idx, uint32_t n, uint8_t *out)
{
        size_t sz = (size_t)a->stored * a->stored * 3;
        for (uint32_t i = 0; i < n; i++)
                memcpy(out + i * sz, rgb + idx[i] * sz, sz);
}

static int evaluate(CnnNet *net, const CnnArch *a, const uint8_t *rgb, const uint8_t *labels,
                    const CnnSplit *sp, uint8_t *batch, float *logits, uint8_t *val_labels, double *ret_auc)
{
        int r;

        for (size_t i = 0; i < sp->n_val; i += CNN_EVAL_BATCH) {
                uint32_t m = (uint32_t)MIN((size_t)CNN_EVAL_BATCH, sp->n_val - i);
                gather(a, rgb, sp->val + i, m, batch);
                r = cnn_net_forward(net, batch, m, NULL, NULL, logits + i);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < sp->n_val; i++)
                val_labels[i] = labels[sp->val[i]];
        *ret_auc = metrics_roc_auc(logits, val_labels, sp->n_val);
        return 0;
}

int cnn_train(VkEngine *e, const CnnArch *a, const uint8_t *rgb, const uint8_t *labels, size_t n,
              const CnnSplit *sp, const CnnTrainOptions *o, ModelCnn **ret, Error *error)
{
        _cleanup_(model_cnn_freep) ModelCnn *best = NULL;
        _cleanup_(cnn_net_freep) CnnNet *net = NULL;
        _cleanup_free_ uint32_t *order = NULL;
        _cleanup_free_ uint8_t *batch = NULL, *val_labels = NULL;
        _cleanup_free_ float *logits = NULL, *y = NULL;
        double deadline = model_now_s() + o->time_budget_s, best_auc = -1;
        uint32_t bs = o->batch_size, since_best = 0, step = 0;
        uint64_t rng = o->seed;
        size_t pos = 0;
        int r;

        if (cnn_arch_check(a) < 0 || !sp || sp->n_train < 2 || sp->n_val < 2 || bs == 0 || !(o->lr > 0) ||
            !(o->time_budget_s > 0) || o->patience == 0)
                return -EINVAL;
        for (size_t i = 0; i < sp->n_train; i++)
                if (sp->train[i] >= n)
                        return -EINVAL;
        for (size_t i = 0; i < sp->n_val; i++)
                if (sp->val[i] >= n)
                        return -EINVAL;
        bs = (uint32_t)MIN((size_t)bs, sp->n_train);
        for (size_t i = 0; i < sp->n_train; i++)
                pos += labels[sp->train[i]] != 0;
        if (pos == 0 || pos == sp->n_train)
                return -EINVAL;
        float pos_weight = (float)(sp->n_train - pos) / (float)pos;

        r = model_cnn_new(a, &best);
        if (r < 0)
                return r;
        init_params(best, o->seed);
        r = cnn_net_new(e, a, MAX(bs, CNN_EVAL_BATCH), &net);
        if (r < 0) {
                return error_setf(error, r, "Failed to set up the small CNN on the device: %s.",
                                  strerror(-r));
        }
        if ((r = cnn_net_upload(net, best->params)) < 0)
                return r;
        order = malloc(sp->n_train * sizeof(uint32_t));
        batch = malloc((size_t)MAX(bs, CNN_EVAL_BATCH) * a->stored * a->stored * 3);
        logits = malloc(sp->n_val * sizeof(float));
        val_labels = malloc(sp->n_val);
        y = malloc(bs * sizeof(float));
        if (!order || !batch || !logits || !val_labels || !y)
                return -ENOMEM;
        memcpy(order, sp->train, sp->n_train * sizeof(uint32_t));

        for (unsigned epoch = 1; o->max_epochs == 0 || epoch <= o->max_epochs; epoch++) {
                double sum = 0, auc;
                unsigned steps = 0;

                for (size_t i = sp->n_train; i > 1; i--) {
                        size_t j = splitmix(&rng) % i;
                        uint32_t t = order[i - 1];
                        order[i - 1] = order[j];
                        order[j] = t;
                }
                /* whole batches only: a last batch of a few posts gives noisy steps */
                for (size_t i = 0; i + bs <= sp->n_train; i += bs) {
                        OpAdamWParams p = {.lr = o->lr,
                                           .beta1 = 0.9f,
                                           .beta2 = 0.999f,
                                           .eps = 1e-8f,
                                           .weight_decay = o->weight_decay,
                                           .step = ++step};
                        CnnWindow w = {.augment = true, .seed = (uint32_t)splitmix(&rng)};
                        float loss;
                        if (o->cancel && atomic_load(o->cancel))
                                return -ECANCELED;
                        /* a big dataset must not overrun a small budget: end the epoch early */
                        if (steps > 0 && model_now_s() > deadline)
                                break;
                        gather(a, rgb, order + i, bs, batch);
                        for (uint32_t k = 0; k < bs; k++)
                                y[k] = labels[order[i + k]] ? 1.0f : 0.0f;
                        r = cnn_net_step(net, batch, y, bs, &w, pos_weight, &p, &loss, NULL);
                        if (r < 0)
                                return r;
                        sum += loss;
                        steps++;
                }
                if ((r = evaluate(net, a, rgb, labels, sp, batch, logits, val_labels, &auc)) < 0)
                        return r;
                if (auc > best_auc) {
                        best_auc = auc;
                        since_best = 0;
                        if ((r = cnn_net_download(net, best->params)) < 0)
                                return r;
                } else
                        since_best++;
                double left = deadline - model_now_s();
                if (o->progress && o->progress(MODEL_STAGE_CNN, epoch, sum / MAX(steps, 1u), auc,
                                               MAX(0.0, left), o->userdata))
                        return -ECANCELED;
                if (since_best >= o->patience || left <= 0)
                        break;
        }
        if (best_auc < 0) {
                return error_setf(error, -ETIME, "The small CNN did not finish one epoch.");
        }
        best->val_auc = best_auc;
        *ret = TAKE_PTR(best);
        return 0;
}

int cnn_features(VkEngine *e, const ModelCnn *c, const uint8_t *rgb, size_t n, float *ret_features,
                 float *ret_logits)
{
        _cleanup_(cnn_net_freep) CnnNet *net = NULL;
        size_t sz = (size_t)c->arch.stored * c->arch.stored * 3, F = cnn_feature_dim(&c->arch);
        int r;

        if ((r = cnn_net_new(e, &c->arch, CNN_EVAL_BATCH, &net)) < 0 ||
            (r = cnn_net_upload(net, c->params)) < 0)
                return r;
        for (size_t i = 0; i < n; i += CNN_EVAL_BATCH) {
                uint32_t m = (uint32_t)MIN((size_t)CNN_EVAL_BATCH, n - i);
                r = cnn_net_forward(net, rgb + i * sz, m, NULL, ret_features ? ret_features + i * F : NULL,
                                    ret_logits ? ret_logits + i : NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}
