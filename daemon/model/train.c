/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <time.h>

#include "ensemble.h"
#include "finetune.h"
#include "head.h"
#include "model.h"
#include "model-internal.h"

#define EVAL_BATCH 256u
#define FEATURES_KEPT 256u

typedef struct Rng {
        uint64_t s;
} Rng;

static uint64_t rng_next(Rng *g)
{
        /* splitmix64: tiny, seedable, good enough for shuffles and init */
        uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

static double rng_uniform(Rng *g)
{
        return ((rng_next(g) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static float rng_normal(Rng *g)
{
        return (float)(sqrt(-2 * log(rng_uniform(g))) * cos(2 * M_PI * rng_uniform(g)));
}

static void shuffle(Rng *g, uint32_t *a, size_t n)
{
        for (size_t i = n; i > 1; i--) {
                size_t j = rng_next(g) % i;
                uint32_t t = a[i - 1];
                a[i - 1] = a[j];
                a[j] = t;
        }
}

typedef struct Candidate {
        uint32_t set_mask;
        bool use_tags;
} Candidate;

typedef struct Trainer {
        VkEngine *engine;
        const ModelDataset *ds;
        const ModelTrainOptions *o;
        Rng rng;
        double deadline; /* of the head stages */
        double end;      /* of the whole call: what progress reports */

        uint32_t *train, *val; /* post indices */
        size_t n_train, n_val;
        float pos_weight;
        float *mean, *std; /* D, over the train split */

        uint32_t max_batch, max_nnz; /* the head's sizes */

        /* per candidate */
        /* The rows a batch reads, standardised as it is assembled by
         * this model's mean and inv_std: a standardised copy of all n×D
         * would be a second dataset in memory (18 KB a post). */
        FeatureRows x_src;  /* n×D, borrowed: ds's rows (floats or half floats), or the tuned ones */
        const Model *x_std; /* borrowed */
        Head *head;

        /* batch scratch */
        float *bx, *by;
        uint32_t *boffs, *btags;
        float *logits;
        uint8_t *val_labels;
} Trainer;

static void trainer_done(Trainer *t)
{
        free(t->train);
        free(t->val);
        free(t->mean);
        free(t->std);
        head_free(t->head);
        free(t->bx);
        free(t->by);
        free(t->boffs);
        free(t->btags);
        free(t->logits);
        free(t->val_labels);
}

static bool cancelled(const Trainer *t)
{
        return t->o->cancel && atomic_load(t->o->cancel);
}

/* Stratified: the same share of likes and dislikes is held out, at least one of each. */
static int split(Trainer *t)
{
        const ModelDataset *ds = t->ds;
        _cleanup_free_ uint32_t *by_cls = malloc(ds->n * sizeof(uint32_t));

        t->train = malloc(ds->n * sizeof(uint32_t));
        t->val = malloc(ds->n * sizeof(uint32_t));
        if (!by_cls || !t->train || !t->val)
                return -ENOMEM;
        for (int c = 0; c < 2; c++) {
                size_t k = 0;
                for (size_t i = 0; i < ds->n; i++)
                        if (ds->labels[i] == c && (!t->o->rows || t->o->rows[i]))
                                by_cls[k++] = (uint32_t)i;
                shuffle(&t->rng, by_cls, k);
                size_t nv = (size_t)lround(t->o->val_fraction * (double)k);
                nv = CLAMP(nv, (size_t)1, k - 1);
                memcpy(t->val + t->n_val, by_cls, nv * sizeof(uint32_t));
                t->n_val += nv;
                memcpy(t->train + t->n_train, by_cls + nv, (k - nv) * sizeof(uint32_t));
                t->n_train += k - nv;
        }
        size_t train_pos = 0;
        for (size_t i = 0; i < t->n_train; i++)
                train_pos += ds->labels[t->train[i]];
        t->pos_weight = (float)(t->n_train - train_pos) / (float)train_pos;
        return 0;
}

int model_split(const ModelDataset *ds, const ModelTrainOptions *o, uint32_t **ret_train,
                size_t *ret_n_train, uint32_t **ret_val, size_t *ret_n_val)
{
        /* split() is the trainer's first use of its generator */
        Trainer t = {.ds = ds, .o = o, .rng = {o->seed}};
        size_t likes, dislikes;
        int r;

        model_dataset_counts(ds, &likes, &dislikes);
        if (likes < 2 || dislikes < 2 || !(o->val_fraction > 0 && o->val_fraction < 1))
                return -EINVAL;
        r = split(&t);
        if (r < 0) {
                free(t.train);
                free(t.val);
                return r;
        }
        *ret_train = t.train;
        *ret_n_train = t.n_train;
        *ret_val = t.val;
        *ret_n_val = t.n_val;
        return 0;
}

static int standardisation(Trainer *t)
{
        const ModelDataset *ds = t->ds;
        uint32_t D = ds->dim;
        _cleanup_free_ double *s = calloc(D, sizeof(double)), *s2 = calloc(D, sizeof(double));
        _cleanup_free_ float *conv = malloc(D * sizeof(float));
        FeatureRows rows = model_dataset_rows(ds);

        t->mean = calloc(D, sizeof(float));
        t->std = calloc(D, sizeof(float));
        if (!s || !s2 || !conv || !t->mean || !t->std)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_train; i++) {
                const float *x = feature_row(&rows, t->train[i], conv);
                for (uint32_t j = 0; j < D; j++) {
                        s[j] += x[j];
                        s2[j] += (double)x[j] * x[j];
                }
        }
        for (uint32_t j = 0; j < D; j++) {
                double m = s[j] / t->n_train, var = s2[j] / t->n_train - m * m;
                t->mean[j] = (float)m;
                t->std[j] = var > 1e-12 ? (float)sqrt(var) : 0;
        }
        return 0;
}

static void model_apply_candidate(Model *m, const Trainer *t, const Candidate *c)
{
        const ModelDataset *ds = t->ds;

        memcpy(m->sets, ds->sets, sizeof(ds->sets));
        m->n_sets = ds->n_sets;
        m->set_mask = c->set_mask;
        m->use_tags = c->use_tags;
        memcpy(m->mean, t->mean, ds->dim * sizeof(float));
        /* Each used set gets the same total input variance as the smallest: a
         * 2560-wide set would otherwise drown a 192-wide one that carries the
         * taste, and a few hundred posts cannot tell them apart. */
        uint32_t min_dim = UINT32_MAX;
        for (size_t s = 0; s < ds->n_sets; s++)
                if (c->set_mask & (1u << s))
                        min_dim = MIN(min_dim, ds->sets[s].dim);
        for (size_t s = 0; s < ds->n_sets; s++) {
                float scale = t->o->balance_sets ? sqrtf((float)min_dim / (float)ds->sets[s].dim) : 1.0f;
                for (uint32_t j = ds->sets[s].offset; j < ds->sets[s].offset + ds->sets[s].dim; j++)
                        m->inv_std[j] = (c->set_mask & (1u << s)) && t->std[j] > 0 ? scale / t->std[j] : 0;
        }
}

static void init_weights(Model *m, Rng *g)
{
        uint32_t used = 0;
        for (uint32_t j = 0; j < m->dim; j++)
                used += m->inv_std[j] != 0;
        /* He initialisation over the inputs that actually carry signal */
        float sx = sqrtf(2.0f / (float)(used + m->tag_dim)), sh = sqrtf(1.0f / (float)m->hidden);
        for (size_t i = 0; i < (size_t)m->dim * m->hidden; i++)
                m->w1x[i] = rng_normal(g) * sx;
        for (size_t i = 0; i < (size_t)m->tag_dim * m->hidden; i++)
                m->w1t[i] = rng_normal(g) * sx;
        for (size_t i = 0; i < (size_t)m->vocab * m->tag_dim; i++)
                m->emb[i] = rng_normal(g) * 0.1f;
        for (uint32_t i = 0; i < m->hidden; i++) {
                m->b1[i] = 0;
                m->w2[i] = rng_normal(g) * sh;
        }
        m->b2[0] = 0;
}

/* Gathers posts idx[0…n) into the batch scratch. tag_dropout > 0 (training
 * only) drops each tag with that probability: the tag tower overfits a few
 * hundred posts quickly, and this is the cheapest regulariser for a bag. */
static void assemble(Trainer *t, const Model *m, const uint32_t *idx, uint32_t n, float tag_dropout,
                     float feature_dropout, HeadBatch *b)
{
        const ModelDataset *ds = t->ds;
        uint32_t nnz = 0;

        t->boffs[0] = 0;
        for (uint32_t i = 0; i < n; i++) {
                uint32_t p = idx[i];
                float *x = t->bx + (size_t)i * ds->dim;
                /* a half-float row is converted into the batch, then standardised there */
                model_standardise(t->x_std, feature_row(&t->x_src, p, x), x, 1);
                /* inverted dropout on the inputs: thousands of features, hundreds of posts */
                if (feature_dropout > 0) {
                        float keep = 1.0f / (1.0f - feature_dropout);
                        for (uint32_t j = 0; j < ds->dim; j++)
                                x[j] = rng_uniform(&t->rng) >= feature_dropout ? x[j] * keep : 0;
                }
                t->by[i] = ds->labels[p];
                if (m->use_tags) {
                        uint32_t a = ds->tag_offsets[p], e = ds->tag_offsets[p + 1];
                        if (tag_dropout > 0) {
                                for (uint32_t j = a; j < e; j++)
                                        if (rng_uniform(&t->rng) >= tag_dropout)
                                                t->btags[nnz++] = ds->tags[j];
                        } else if (e > a) { /* a dataset without any tag has no tag array */
                                memcpy(t->btags + nnz, ds->tags + a, (e - a) * sizeof(uint32_t));
                                nnz += e - a;
                        }
                }
                t->boffs[i + 1] = nnz;
        }
        *b = (HeadBatch){.n = n, .x = t->bx, .tag_offsets = t->boffs, .tags = t->btags, .y = t->by};
}

static int evaluate(Trainer *t, const Model *m, double *ret_auc)
{
        HeadBatch b;
        int r;

        for (size_t i = 0; i < t->n_val; i += EVAL_BATCH) {
                uint32_t n = (uint32_t)MIN((size_t)EVAL_BATCH, t->n_val - i);
                assemble(t, m, t->val + i, n, 0, 0, &b);
                r = head_forward(t->head, &b, t->logits + i, NULL);
                if (r < 0)
                        return r;
        }
        *ret_auc = metrics_roc_auc(t->logits, t->val_labels, t->n_val);
        return 0;
}

/* Trains one candidate until its deadline or patience runs out; best holds the
 * weights of its best epoch. */
static int run_candidate(Trainer *t, const Candidate *c, ModelStage stage, double deadline, Model *best,
                         double *ret_best_auc)
{
        const ModelTrainOptions *o = t->o;
        const ModelDataset *ds = t->ds;
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_free_ uint32_t *order = NULL;
        double best_auc = -1;
        unsigned bad = 0;
        uint32_t step = 0;
        int r;

        r = model_new(ds->dim, best->vocab, o->tag_dim, o->hidden, &m);
        if (r < 0)
                return r;
        model_apply_candidate(m, t, c);
        init_weights(m, &t->rng);
        t->x_src = model_dataset_rows(ds);
        t->x_std = m;
        r = head_upload(t->head, m);
        if (r < 0)
                return r;
        order = malloc(t->n_train * sizeof(uint32_t));
        if (!order)
                return -ENOMEM;
        memcpy(order, t->train, t->n_train * sizeof(uint32_t));

        uint32_t bs = (uint32_t)MIN((size_t)o->batch_size, t->n_train);
        float feature_dropout = o->feature_dropout;
        if (feature_dropout < 0) {
                /* auto: each step sees about FEATURES_KEPT of the used features, so
                 * thousands of backbone activations cannot memorise a few hundred
                 * posts, while a small vector is left alone */
                uint32_t used = 0;
                for (uint32_t j = 0; j < ds->dim; j++)
                        used += m->inv_std[j] != 0;
                feature_dropout = used > FEATURES_KEPT ? 1.0f - (float)FEATURES_KEPT / (float)used : 0;
                feature_dropout = MIN(feature_dropout, 0.9f);
        }
        for (unsigned epoch = 1; !o->max_epochs || epoch <= o->max_epochs; epoch++) {
                double loss_sum = 0;
                unsigned steps = 0;
                bool out_of_time = false;

                shuffle(&t->rng, order, t->n_train);
                /* full batches only: the tail is a different random few every epoch */
                for (size_t i = 0; i + bs <= t->n_train; i += bs) {
                        HeadBatch b;
                        float loss;
                        OpAdamWParams a = {.lr = o->lr,
                                           .beta1 = 0.9f,
                                           .beta2 = 0.999f,
                                           .eps = 1e-8f,
                                           .weight_decay = o->weight_decay,
                                           .step = ++step};

                        if (cancelled(t))
                                return -ECANCELED;
                        if (model_now_s() >= deadline) {
                                out_of_time = true;
                                break;
                        }
                        assemble(t, m, order + i, bs, o->tag_dropout, feature_dropout, &b);
                        r = head_train_step(t->head, &b, t->pos_weight, &a, &loss);
                        if (r < 0)
                                return r;
                        loss_sum += loss;
                        steps++;
                }
                if (steps == 0)
                        break;
                double auc;
                r = evaluate(t, m, &auc);
                if (r < 0)
                        return r;
                if (!isnan(auc) && auc > best_auc + 1e-4) {
                        best_auc = auc;
                        bad = 0;
                        r = head_download(t->head, m);
                        if (r < 0)
                                return r;
                        model_apply_candidate(best, t, c);
                        memcpy(best->w1x, m->w1x, (size_t)m->dim * m->hidden * sizeof(float));
                        memcpy(best->w1t, m->w1t, (size_t)m->tag_dim * m->hidden * sizeof(float));
                        memcpy(best->b1, m->b1, m->hidden * sizeof(float));
                        memcpy(best->w2, m->w2, m->hidden * sizeof(float));
                        memcpy(best->b2, m->b2, sizeof(float));
                        memcpy(best->emb, m->emb, (size_t)m->vocab * m->tag_dim * sizeof(float));
                } else
                        bad++;
                log_debug("model: %s epoch %u loss %.4f val AUC %.4f", model_stage_to_string(stage), epoch,
                          loss_sum / steps, auc);
                if (o->progress && o->progress(stage, epoch, loss_sum / steps, auc,
                                               MAX(0.0, t->end - model_now_s()), o->userdata))
                        return -ECANCELED;
                if (out_of_time || bad >= o->patience || model_now_s() >= deadline)
                        break;
        }
        *ret_best_auc = best_auc;
        return 0;
}

/* With time left, more heads of the winning candidate from other initial
 * weights, averaged: on a ~100-post validation set one head's early-stopped
 * epoch is as much luck as skill, and the mean of several is steadier. The
 * members share the split, so the validation AUC stays held out. */
static int ensemble(Trainer *t, const Candidate *c, Model **best)
{
        const ModelTrainOptions *o = t->o;
        Model *members[64] = {*best};
        size_t n = 1, want = MIN((size_t)o->ensemble, ELEMENTSOF(members));
        _cleanup_(model_freep) Model *merged = NULL;
        _cleanup_(head_freep) Head *head = NULL;
        double auc;
        int r = 0;

        want = MIN(want, (size_t)(4096 / o->hidden));
        want = MIN(want, (size_t)(1024 / o->tag_dim));
        if (want <= 1)
                return 0;
        if (o->progress &&
            o->progress(MODEL_STAGE_ENSEMBLE, 0, NAN, NAN, MAX(0.0, t->end - model_now_s()), o->userdata))
                return -ECANCELED;
        while (n < want && model_now_s() < t->deadline - 0.05 * o->time_budget_s) {
                double now = model_now_s(), deadline = now + (t->deadline - now) / (double)(want - n);
                r = model_new(t->ds->dim, (*best)->vocab, o->tag_dim, o->hidden, &members[n]);
                if (r < 0)
                        goto out;
                r = run_candidate(t, c, MODEL_STAGE_ENSEMBLE, deadline, members[n++], &auc);
                if (r < 0)
                        goto out;
                if (auc < 0) { /* not one epoch in its share of the time */
                        members[n - 1] = model_free(members[n - 1]);
                        n--;
                        break;
                }
        }
        if (n == 1)
                goto out;
        /* the final evaluation needs a head of the wider shape */
        if ((r = model_ensemble(members, n, &merged)) < 0 ||
            (r = head_new(t->engine, merged, t->max_batch, t->max_nnz, &head)) < 0)
                goto out;
        log_debug("model: %zu heads averaged", n);
        head_free(t->head);
        t->head = TAKE_PTR(head);
        model_free(*best);
        *best = TAKE_PTR(merged);
out:
        for (size_t k = 1; k < n; k++)
                model_free(members[k]);
        return r;
}

static int check_options(const ModelTrainOptions *o)
{
        if (!(o->time_budget_s > 0) || o->batch_size == 0 || o->hidden == 0 || o->hidden > 4096 ||
            o->tag_dim == 0 || o->tag_dim > 1024 || !(o->val_fraction > 0 && o->val_fraction < 1) ||
            !(o->lr > 0) || !(o->tag_dropout >= 0 && o->tag_dropout < 1) || !(o->feature_dropout < 1) ||
            !(o->tag_lr_scale > 0) || !(o->weight_decay >= 0) || o->patience == 0 || o->ensemble == 0 ||
            (!o->use_features && !o->use_tags))
                return -EINVAL;
        if (o->finetune && (!(o->finetune->budget_share > 0 && o->finetune->budget_share <= 0.9) ||
                            !(o->finetune->lr > 0) || o->finetune->n_views == 0 || !o->use_features))
                return -EINVAL;
        return 0;
}

int model_train_head(VkEngine *engine, const ModelDataset *ds, const ModelTrainOptions *o, Model **ret_model,
                     ModelMetrics *ret_metrics, Error *error)
{
        _cleanup_(model_freep) Model *best = NULL, *cand = NULL;
        _cleanup_free_ uint16_t *tuned_features = NULL;
        Trainer t = {.engine = engine, .ds = ds, .o = o, .rng = {o->seed}};
        Candidate cands[1 + MODEL_FEATURE_SETS_MAX];
        size_t n_cands = 0, likes, dislikes, best_c = 0;
        double start = model_now_s(), best_auc = -1;
        int r;

        /* the head stages leave fine-tuning its share */
        t.end = start + o->time_budget_s;
        t.deadline = start + o->time_budget_s * (1 - (o->finetune ? o->finetune->budget_share : 0));
        r = check_options(o);
        if (r < 0) {
                return error_setf(error, r, "Invalid training options.");
        }
        model_dataset_counts(ds, &likes, &dislikes);
        if (o->rows) {
                likes = dislikes = 0;
                for (size_t i = 0; i < ds->n; i++)
                        if (o->rows[i]) {
                                likes += ds->labels[i];
                                dislikes += !ds->labels[i];
                        }
        }
        if (likes < MAX(o->min_per_class, 2u) || dislikes < MAX(o->min_per_class, 2u)) {
                return error_setf(
                        error, -ENODATA,
                        "Not enough labelled posts to train: %zu liked and %zu disliked, at least %u of "
                        "each "
                        "are needed. Like or dislike more posts (e.g. vote on a prediction run), then train "
                        "again.",
                        likes, dislikes, MAX(o->min_per_class, 2u));
        }
        if (o->progress && o->progress(MODEL_STAGE_PREPARE, 0, NAN, NAN, o->time_budget_s, o->userdata))
                return -ECANCELED;

        uint32_t all = ds->n_sets >= 32 ? UINT32_MAX : (1u << ds->n_sets) - 1;
        cands[n_cands++] = (Candidate){.set_mask = o->use_features ? all : 0, .use_tags = o->use_tags};
        if (o->use_features && o->select_feature_sets && ds->n_sets > 1)
                for (size_t s = 0; s < ds->n_sets; s++)
                        cands[n_cands++] = (Candidate){.set_mask = 1u << s, .use_tags = o->use_tags};

        uint32_t max_tags = 0;
        for (size_t i = 0; i < ds->n; i++)
                max_tags = MAX(max_tags, ds->tag_offsets[i + 1] - ds->tag_offsets[i]);
        uint32_t max_batch = MAX(o->batch_size, EVAL_BATCH);
        uint64_t max_nnz = MIN((uint64_t)max_tags * max_batch, (uint64_t)ds->n_tags);

        if ((r = split(&t)) < 0 || (r = standardisation(&t)) < 0)
                goto finish;
        r = -ENOMEM;
        t.bx = malloc((size_t)max_batch * ds->dim * sizeof(float));
        t.by = malloc(max_batch * sizeof(float));
        t.boffs = malloc((max_batch + 1) * sizeof(uint32_t));
        t.btags = malloc(MAX(max_nnz, 1) * sizeof(uint32_t));
        t.logits = malloc(t.n_val * sizeof(float));
        t.val_labels = malloc(t.n_val);
        if (!t.bx || !t.by || !t.boffs || !t.btags || !t.logits || !t.val_labels)
                goto finish;
        for (size_t i = 0; i < t.n_val; i++)
                t.val_labels[i] = ds->labels[t.val[i]];

        /* A vocabulary of 0 tags still gets one (unused) row: no zero-sized tensors. */
        uint32_t vocab = MAX(ds->vocab, 1u);
        if ((r = model_new(ds->dim, vocab, o->tag_dim, o->hidden, &best)) < 0 ||
            (r = model_new(ds->dim, vocab, o->tag_dim, o->hidden, &cand)) < 0)
                goto finish;
        t.max_batch = max_batch;
        t.max_nnz = (uint32_t)max_nnz;
        r = head_new(engine, best, max_batch, (uint32_t)max_nnz, &t.head);
        if (r < 0)
                goto finish;
        head_set_emb_lr_scale(t.head, o->tag_lr_scale);

        for (size_t c = 0; c < n_cands; c++) {
                double now = model_now_s(), auc = -1;
                if (c > 0 && now >= t.deadline)
                        break;
                /* the first candidate may use the whole budget; later ones share what is left */
                double deadline = c == 0 ? t.deadline : now + (t.deadline - now) / (double)(n_cands - c);
                ModelStage stage = c == 0 ? MODEL_STAGE_HEAD : MODEL_STAGE_SELECT;
                if (c == 1 && o->progress &&
                    o->progress(stage, 0, NAN, best_auc, MAX(0.0, t.end - now), o->userdata)) {
                        r = -ECANCELED;
                        goto finish;
                }
                r = run_candidate(&t, &cands[c], stage, deadline, cand, &auc);
                if (r < 0)
                        goto finish;
                if (auc > best_auc) {
                        Model *tmp = best;
                        best = cand;
                        cand = tmp;
                        best_auc = auc;
                        best_c = c;
                }
        }
        if (best_auc >= 0 && (r = ensemble(&t, &cands[best_c], &best)) < 0)
                goto finish;
        if (best_auc >= 0 && o->finetune) {
                FinetuneContext fc = {.engine = engine,
                                      .ds = ds,
                                      .o = o,
                                      .train = t.train,
                                      .val = t.val,
                                      .n_train = t.n_train,
                                      .n_val = t.n_val,
                                      .val_labels = t.val_labels,
                                      .std = t.std,
                                      .pos_weight = t.pos_weight,
                                      .max_nnz = t.max_nnz,
                                      .deadline = t.end,
                                      .seed = o->seed};
                tuned_features = malloc(ds->n * ds->dim * sizeof(uint16_t));
                if (!tuned_features) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = model_finetune(&fc, &best, tuned_features, NULL, NULL);
                if (r < 0)
                        goto finish;
                if (!best->tail) {
                        /* the head alone stays: its features are the backbone's */
                        free(tuned_features);
                        tuned_features = NULL;
                }
        }
        if (best_auc < 0) {
                r = error_setf(error, -ETIME,
                               "The time budget ended before the first epoch; give training more time.");
                goto finish;
        }

        if (o->progress && o->progress(MODEL_STAGE_FINISH, 0, NAN, best_auc, MAX(0.0, t.end - model_now_s()),
                                       o->userdata)) {
                r = -ECANCELED;
                goto finish;
        }
        /* Final metrics with the best weights, on probabilities. */
        t.x_src = tuned_features ? (FeatureRows){.f16 = tuned_features, .dim = ds->dim}
                                 : model_dataset_rows(ds);
        t.x_std = best;
        if ((r = head_upload(t.head, best)) < 0 || (r = evaluate(&t, best, &best_auc)) < 0)
                goto finish;
        /* The head's own logit scale, fitted on its validation posts: heads
         * trained per fold stop at different confidence, and their logits
         * are pooled and calibrated as one (quality-train.c). A head that
         * ranks its validation posts backwards keeps its raw logit. */
        if (quality_platt(t.logits, t.val_labels, t.n_val, &best->head_a, &best->head_b) < 0 ||
            !(best->head_a > 0)) {
                best->head_a = 1;
                best->head_b = 0;
        }
        for (size_t i = 0; i < t.n_val; i++)
                t.logits[i] = 1.0f / (1.0f + expf(-t.logits[i]));
        r = metrics_compute(t.logits, t.val_labels, t.n_val, true, 0.5, &best->metrics);
        if (r < 0)
                goto finish;
        best->threshold = best->metrics.threshold;
        best->n_train = (uint32_t)t.n_train;

        time_t now = time(NULL);
        struct tm tm;
        char date[32];
        if (!gmtime_r(&now, &tm) || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                date[0] = 0;
        if ((r = model_set_string(&best->created, date)) < 0 ||
            (r = model_set_string(&best->fluff_version, FLUFF_VERSION)) < 0 ||
            (r = model_set_string(&best->vocabulary, o->vocabulary)) < 0 ||
            (r = model_set_string(&best->backbone, o->backbone)) < 0)
                goto finish;

        if (ret_metrics)
                *ret_metrics = best->metrics;
        *ret_model = TAKE_PTR(best);
        r = 0;
finish:
        (void)model_train_error(error, r);
        trainer_done(&t);
        return r;
}
