/* SPDX-License-Identifier: MIT */
/* Fine-tuning the backbone's last layer jointly with the head.
 *
 * The head stages trained on frozen features; here the layer that computes
 * one feature set (the top 1×1 conv → "final") trains with it, on views of
 * each image cached as the activations entering that layer: each epoch draws
 * one view per post (random crops and flips, made on the device when the
 * views were computed), so a few hundred posts do not simply get memorised.
 * The layer starts from the backbone's weights and the head from the best
 * head, so the first evaluation is the head-only model; if the feature set
 * was not used by that head, it is switched on with zero head weights,
 * which leaves the function unchanged until training moves them. Per step:
 * the layer forward (one submit), the head's step with its input gradient
 * (one), the layer's backward and AdamW update (one). */
#include <math.h>
#include <time.h>

#include "finetune.h"
#include "ft-tail.h"
#include "half.h"
#include "head.h"
#include "model-internal.h"

#define FT_BATCH 32u
#define FT_FEATURES_KEPT 256u

typedef struct Tuner {
        const FinetuneContext *c;
        const ModelFinetuneData *fd;
        const ModelDataset *ds;
        uint32_t D, set_off, cout;
        uint64_t rng;

        Model *m;     /* the model being tuned (owned) */
        Head *head;   /* owned */
        FtTail *tail; /* owned */

        /* batch scratch, FT_BATCH rows */
        float *act, *xraw, *bx, *gain, *fmean, *fmax, *dx, *dmean, *dmax, *by, *logits;
        uint32_t *boffs, *btags;
} Tuner;

static void tuner_done(Tuner *t)
{
        model_free(t->m);
        head_free(t->head);
        ft_tail_free(t->tail);
        float *f[] = {t->act, t->xraw,  t->bx,   t->gain, t->fmean, t->fmax,
                      t->dx,  t->dmean, t->dmax, t->by,   t->logits};
        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                free(f[i]);
        free(t->boffs);
        free(t->btags);
}

static uint64_t rng_next(uint64_t *s)
{
        uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *s)
{
        return ((rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static int copy_model(const Model *src, Model **ret)
{
        _cleanup_(model_freep) Model *m = NULL;
        int r = model_new(src->dim, src->vocab, src->tag_dim, src->hidden, &m);
        if (r < 0)
                return r;
        m->n_sets = src->n_sets;
        memcpy(m->sets, src->sets, sizeof(src->sets));
        m->set_mask = src->set_mask;
        m->use_tags = src->use_tags;
        memcpy(m->mean, src->mean, src->dim * sizeof(float));
        memcpy(m->inv_std, src->inv_std, src->dim * sizeof(float));
        memcpy(m->w1x, src->w1x, (size_t)src->dim * src->hidden * sizeof(float));
        memcpy(m->w1t, src->w1t, (size_t)src->tag_dim * src->hidden * sizeof(float));
        memcpy(m->b1, src->b1, src->hidden * sizeof(float));
        memcpy(m->w2, src->w2, src->hidden * sizeof(float));
        memcpy(m->b2, src->b2, sizeof(float));
        memcpy(m->emb, src->emb, (size_t)src->vocab * src->tag_dim * sizeof(float));
        *ret = TAKE_PTR(m);
        return 0;
}

/* Switches the tuned set on when the head left it out: zero head weights,
 * so the model computes what it did, and the same per-set scale the trainer
 * gives a set (the smallest used set's total variance). */
static void enable_set(Tuner *t, int s)
{
        Model *m = t->m;
        if (m->set_mask & (1u << s))
                return;
        uint32_t min_dim = m->sets[s].dim;
        for (size_t k = 0; k < m->n_sets; k++)
                if (m->set_mask & (1u << k))
                        min_dim = MIN(min_dim, m->sets[k].dim);
        float scale = t->c->o->balance_sets ? sqrtf((float)min_dim / (float)m->sets[s].dim) : 1.0f;
        for (uint32_t j = m->sets[s].offset; j < m->sets[s].offset + m->sets[s].dim; j++) {
                m->inv_std[j] = t->c->std[j] > 0 ? scale / t->c->std[j] : 0;
                memset(m->w1x + (size_t)j * m->hidden, 0, m->hidden * sizeof(float));
        }
        m->set_mask |= 1u << s;
}

/* One batch's raw features: the views' stored sets, the tuned set from the
 * layer; a random view per post when training, the plain one otherwise. */
static int batch_features(Tuner *t, const uint32_t *idx, uint32_t n, bool random_view)
{
        const ModelFinetuneData *fd = t->fd;
        size_t per = (size_t)fd->hw * fd->cin;
        int r;

        for (uint32_t i = 0; i < n; i++) {
                uint32_t v = random_view ? (uint32_t)(rng_next(&t->rng) % fd->n_views) : 0;
                size_t row = (size_t)idx[i] * fd->n_views + v;
                const uint16_t *a = fd->act + row * per;
                for (size_t k = 0; k < per; k++)
                        t->act[i * per + k] = half_to_float(a[k]);
                memcpy(t->xraw + (size_t)i * t->D, fd->features + row * t->D, t->D * sizeof(float));
        }
        r = ft_tail_forward(t->tail, t->act, n, t->fmean, t->fmax);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < n; i++) {
                float *x = t->xraw + (size_t)i * t->D + t->set_off;
                memcpy(x, t->fmean + (size_t)i * t->cout, t->cout * sizeof(float));
                memcpy(x + t->cout, t->fmax + (size_t)i * t->cout, t->cout * sizeof(float));
        }
        return 0;
}

/* Standardises xraw into bx, with inverted dropout when training; gain gets
 * ∂bx/∂xraw over the tuned set, for the layer's gradient. */
static void assemble(Tuner *t, const uint32_t *idx, uint32_t n, float dropout, float tag_dropout,
                     HeadBatch *b)
{
        const ModelDataset *ds = t->ds;
        const Model *m = t->m;
        uint32_t nnz = 0, D = t->D;
        float keep = dropout > 0 ? 1.0f / (1.0f - dropout) : 1.0f;

        t->boffs[0] = 0;
        for (uint32_t i = 0; i < n; i++) {
                const float *xr = t->xraw + (size_t)i * D;
                float *x = t->bx + (size_t)i * D, *g = t->gain + (size_t)i * 2 * t->cout;
                for (uint32_t j = 0; j < D; j++) {
                        float s = m->inv_std[j];
                        if (dropout > 0)
                                s = rng_uniform(&t->rng) >= dropout ? s * keep : 0;
                        x[j] = (xr[j] - m->mean[j]) * s;
                        if (j >= t->set_off && j < t->set_off + 2 * t->cout)
                                g[j - t->set_off] = s;
                }
                uint32_t p = idx[i];
                t->by[i] = ds->labels[p];
                if (m->use_tags)
                        for (uint32_t j = ds->tag_offsets[p]; j < ds->tag_offsets[p + 1]; j++)
                                if (tag_dropout <= 0 || rng_uniform(&t->rng) >= tag_dropout)
                                        t->btags[nnz++] = ds->tags[j];
                t->boffs[i + 1] = nnz;
        }
        *b = (HeadBatch){.n = n, .x = t->bx, .tag_offsets = t->boffs, .tags = t->btags, .y = t->by};
}

static int evaluate(Tuner *t, double *ret_auc)
{
        const FinetuneContext *c = t->c;
        _cleanup_free_ float *logits = malloc(MAX(c->n_val, (size_t)1) * sizeof(float));
        int r;

        if (!logits)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_val; i += FT_BATCH) {
                uint32_t n = (uint32_t)MIN((size_t)FT_BATCH, c->n_val - i);
                HeadBatch b;
                if ((r = batch_features(t, c->val + i, n, false)) < 0)
                        return r;
                assemble(t, c->val + i, n, 0, 0, &b);
                if ((r = head_forward(t->head, &b, logits + i, NULL)) < 0)
                        return r;
        }
        *ret_auc = metrics_roc_auc(logits, c->val_labels, c->n_val);
        return 0;
}

static int train_epoch(Tuner *t, uint32_t *order, unsigned *step, float dropout, double *ret_loss,
                       bool *ret_out_of_time)
{
        const FinetuneContext *c = t->c;
        const ModelTrainOptions *o = c->o;
        uint32_t bs = (uint32_t)MIN((size_t)FT_BATCH, c->n_train);
        double loss_sum = 0;
        unsigned steps = 0;
        int r;

        for (size_t i = c->n_train; i > 1; i--) {
                size_t j = rng_next(&t->rng) % i;
                uint32_t x = order[i - 1];
                order[i - 1] = order[j];
                order[j] = x;
        }
        *ret_out_of_time = false;
        for (size_t i = 0; i + bs <= c->n_train; i += bs) {
                OpAdamWParams ah = {.lr = o->lr * 0.1f,
                                    .beta1 = 0.9f,
                                    .beta2 = 0.999f,
                                    .eps = 1e-8f,
                                    .weight_decay = o->weight_decay,
                                    .step = ++*step};
                OpAdamWParams at = ah;
                HeadBatch b;
                float loss;

                at.lr = t->fd->lr;
                at.weight_decay =
                        0; /* towards the pretrained weights would make sense, towards 0 does not */
                if (o->cancel && atomic_load(o->cancel))
                        return -ECANCELED;
                if (model_now_s() >= c->deadline) {
                        *ret_out_of_time = true;
                        break;
                }
                if ((r = batch_features(t, order + i, bs, true)) < 0)
                        return r;
                assemble(t, order + i, bs, dropout, o->tag_dropout, &b);
                if ((r = head_train_step_dx(t->head, &b, c->pos_weight, &ah, &loss, t->dx)) < 0)
                        return r;
                for (uint32_t k = 0; k < bs; k++) {
                        const float *dx = t->dx + (size_t)k * t->D + t->set_off;
                        const float *g = t->gain + (size_t)k * 2 * t->cout;
                        for (uint32_t q = 0; q < t->cout; q++) {
                                t->dmean[(size_t)k * t->cout + q] = dx[q] * g[q];
                                t->dmax[(size_t)k * t->cout + q] = dx[t->cout + q] * g[t->cout + q];
                        }
                }
                /* the layer's activations are still those of this batch's forward */
                if ((r = ft_tail_backward(t->tail, t->dmean, t->dmax, bs, &at, NULL, NULL)) < 0)
                        return r;
                loss_sum += loss;
                steps++;
        }
        *ret_loss = steps ? loss_sum / steps : NAN;
        return 0;
}

static int setup(Tuner *t, const Model *best, int s)
{
        const ModelFinetuneData *fd = t->fd;
        size_t B = FT_BATCH, D = t->D;
        int r;

        if ((r = copy_model(best, &t->m)) < 0)
                return r;
        enable_set(t, s);
        if ((r = head_new(t->c->engine, t->m, FT_BATCH, t->c->max_nnz, &t->head)) < 0 ||
            (r = head_upload(t->head, t->m)) < 0 ||
            (r = ft_tail_new(t->c->engine, fd->hw, fd->cin, fd->cout, FT_BATCH, &t->tail)) < 0 ||
            (r = ft_tail_upload(t->tail, fd->weight, fd->bias)) < 0)
                return r;
        head_set_emb_lr_scale(t->head, t->c->o->tag_lr_scale);
        t->act = malloc(B * fd->hw * fd->cin * sizeof(float));
        t->xraw = malloc(B * D * sizeof(float));
        t->bx = malloc(B * D * sizeof(float));
        t->dx = malloc(B * D * sizeof(float));
        t->gain = malloc(B * 2 * fd->cout * sizeof(float));
        t->fmean = malloc(B * fd->cout * sizeof(float));
        t->fmax = malloc(B * fd->cout * sizeof(float));
        t->dmean = malloc(B * fd->cout * sizeof(float));
        t->dmax = malloc(B * fd->cout * sizeof(float));
        t->by = malloc(B * sizeof(float));
        t->boffs = malloc((B + 1) * sizeof(uint32_t));
        t->btags = malloc(MAX(t->c->max_nnz, 1u) * sizeof(uint32_t));
        if (!t->act || !t->xraw || !t->bx || !t->dx || !t->gain || !t->fmean || !t->fmax || !t->dmean ||
            !t->dmax || !t->by || !t->boffs || !t->btags)
                return -ENOMEM;
        return 0;
}

/* The tuned model's plain-view features of every post, for the final
 * metrics: half floats, as the dataset's own rows (rows.h), so the tuned
 * copy costs what the rows cost. */
static int all_features(Tuner *t, uint16_t *ret)
{
        const ModelDataset *ds = t->ds;
        _cleanup_free_ uint32_t *idx = malloc(FT_BATCH * sizeof(uint32_t));
        _cleanup_free_ float *conv = malloc(t->D * sizeof(float));
        FeatureRows rows = model_dataset_rows(ds);
        int r;

        if (!idx || !conv)
                return -ENOMEM;
        for (size_t i = 0; i < ds->n; i += FT_BATCH) {
                uint32_t n = (uint32_t)MIN((size_t)FT_BATCH, ds->n - i);
                for (uint32_t k = 0; k < n; k++)
                        idx[k] = (uint32_t)(i + k);
                if ((r = batch_features(t, idx, n, false)) < 0)
                        return r;
                for (uint32_t k = 0; k < n; k++) {
                        uint16_t *out = ret + (i + k) * t->D;
                        floats_to_half(feature_row(&rows, i + k, conv), out, t->D);
                        floats_to_half(t->xraw + (size_t)k * t->D + t->set_off, out + t->set_off,
                                       2 * t->cout);
                }
        }
        return 0;
}

int model_finetune(const FinetuneContext *c, Model **best, uint16_t *ret_features, double *ret_auc_before,
                   double *ret_auc_after)
{
        const ModelFinetuneData *fd = c->o->finetune;
        const ModelTrainOptions *o = c->o;
        Tuner t = {
                .c = c, .fd = fd, .ds = c->ds, .D = c->ds->dim, .cout = fd->cout, .rng = c->seed ^ 0xf17e};
        _cleanup_(model_freep) Model *snap = NULL;
        _cleanup_free_ float *snap_w = NULL, *snap_b = NULL;
        _cleanup_free_ uint32_t *order = NULL;
        double before, best_auc;
        unsigned bad = 0, step = 0, epochs = 0;
        int s = -1, r;

        for (size_t k = 0; k < c->ds->n_sets; k++)
                if (streq(c->ds->sets[k].name, fd->set))
                        s = (int)k;
        if (s < 0 || c->ds->sets[s].dim != 2 * fd->cout || fd->n_views == 0 || !fd->act || !fd->features ||
            c->n_train == 0 || c->n_val == 0)
                return -EINVAL;
        t.set_off = c->ds->sets[s].offset;

        r = setup(&t, *best, s);
        if (r < 0)
                goto out;
        order = malloc(c->n_train * sizeof(uint32_t));
        snap_w = malloc((size_t)fd->cin * fd->cout * sizeof(float));
        snap_b = malloc(fd->cout * sizeof(float));
        if (!order || !snap_w || !snap_b) {
                r = -ENOMEM;
                goto out;
        }
        memcpy(order, c->train, c->n_train * sizeof(uint32_t));
        if ((r = evaluate(&t, &before)) < 0)
                goto out;
        best_auc = before;
        if (o->progress && o->progress(MODEL_STAGE_FINETUNE, 0, NAN, before,
                                       MAX(0.0, c->deadline - model_now_s()), o->userdata)) {
                r = -ECANCELED;
                goto out;
        }

        uint32_t used = 0;
        for (uint32_t j = 0; j < t.D; j++)
                used += t.m->inv_std[j] != 0;
        float dropout =
                used > FT_FEATURES_KEPT ? MIN(1.0f - (float)FT_FEATURES_KEPT / (float)used, 0.9f) : 0;
        double started = model_now_s();
        for (unsigned epoch = 1; model_now_s() < c->deadline; epoch++) {
                double loss, auc;
                bool out_of_time;
                if ((r = train_epoch(&t, order, &step, dropout, &loss, &out_of_time)) < 0)
                        goto out;
                if (isnan(loss))
                        break;
                epochs++;
                if ((r = evaluate(&t, &auc)) < 0)
                        goto out;
                log_debug("model: fine-tuning epoch %u loss %.4f val AUC %.4f (%.2f s per epoch)", epoch,
                          loss, auc, (model_now_s() - started) / epochs);
                if (!isnan(auc) && auc > best_auc + 1e-4) {
                        best_auc = auc;
                        bad = 0;
                        model_free(snap);
                        snap = NULL;
                        if ((r = head_download(t.head, t.m)) < 0 || (r = copy_model(t.m, &snap)) < 0 ||
                            (r = ft_tail_download(t.tail, snap_w, snap_b)) < 0)
                                goto out;
                } else
                        bad++;
                if (o->progress && o->progress(MODEL_STAGE_FINETUNE, epoch, loss, auc,
                                               MAX(0.0, c->deadline - model_now_s()), o->userdata)) {
                        r = -ECANCELED;
                        goto out;
                }
                if (out_of_time || bad >= MAX(fd->patience, 1u))
                        break;
        }
        log_info(
                "Fine-tuning %s: validation ROC AUC %.4f with the head alone, %.4f tuned (%u epochs, %.2f s "
                "per epoch); %s.",
                fd->node, before, best_auc, epochs, epochs ? (model_now_s() - started) / epochs : 0.0,
                snap ? "keeping the tuned layer" : "keeping the head alone");
        if (snap) {
                _cleanup_(model_tail_freep) ModelTail *tail = NULL;
                if ((r = model_tail_new(fd->set, fd->node, fd->hw, fd->cin, fd->cout, &tail)) < 0)
                        goto out;
                memcpy(tail->weight, snap_w, (size_t)fd->cin * fd->cout * sizeof(float));
                memcpy(tail->bias, snap_b, fd->cout * sizeof(float));
                tail->auc_head = before;
                tail->auc_tuned = best_auc;
                /* the final features through the tuned layer */
                if ((r = ft_tail_upload(t.tail, snap_w, snap_b)) < 0 ||
                    (r = all_features(&t, ret_features)) < 0)
                        goto out;
                snap->tail = TAKE_PTR(tail);
                /* the strings (vocabulary, ids) are set by the caller afterwards */
                Model *old = *best;
                *best = TAKE_PTR(snap);
                model_free(old);
        }
        if (ret_auc_before)
                *ret_auc_before = before;
        if (ret_auc_after)
                *ret_auc_after = best_auc;
        r = 0;
out:
        tuner_done(&t);
        return r;
}
