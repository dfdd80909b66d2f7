/* SPDX-License-Identifier: MIT */
/* model_train(): the towers, their combination and calibration chosen by
 * pooled K-fold cross-validation, with a tags-only baseline on the same folds
 * (issues 13 and 14).
 *
 *  1. Stratified folds over every labelled post.
 *  2. The baseline: an L2 logistic regression on the tags seen at least
 *     twice, λ chosen by the folds' out-of-fold log loss; its out-of-fold
 *     logits. The same regression is the tag tower: on the hard world it
 *     beat the neural tag tower, whose embedding bag with input dropout and a
 *     small validation split for early stopping underfits the artists and
 *     rare tags a user's taste hangs on (issue 13's table).
 *  3. The head (train.c, image features and/or tags as the options say) once
 *     per fold on the other folds: its out-of-fold logits. Fine-tuning is
 *     left to the final model (the folds would need the tuned activations).
 *  3b. The similarity input (knn.h): each post's similarity to its
 *     nearest liked minus its nearest disliked posts in the image embedding,
 *     out of fold (neighbours only from the other folds), k by the folds'
 *     ROC AUC. Each feature set counts alike (its features weighted by
 *     1/√its size), so the 2560 floats of "final" do not drown the others.
 *  4. Combinations of the towers' out-of-fold logits — tags alone, head
 *     alone, a logistic-regression stack of both, the stack with the
 *     similarity as a third input, and without a backbone the stack with
 *     the cross-fitted CNN's logit as a fourth — scored by out-of-fold ROC AUC (the
 *     stack's own weights cross-validated on the same folds); the best is
 *     kept, so the whole is never worse than its best part on these folds.
 *  5. Calibration of the chosen combination's out-of-fold logits, so the
 *     score is P(like) and the default threshold 0.5: Platt scaling or
 *     isotonic regression, whichever has the lower Brier score when each is
 *     cross-fitted on the folds (quality_calibrate). Platt is preferred
 *     (ties): two parameters, stable between retrainings and rank-keeping.
 *     But the head's logits are not logistic in shape — early stopping on
 *     AUC leaves them overconfident with heavy, unreliable tails (measured:
 *     ECE 0.09 after Platt on a synthetic taste, its tails 0.07 → 0.23 and
 *     0.94 → 0.81 liked) — and there a monotone step function fits where a
 *     sigmoid cannot. The reliability table, Brier and ECE stored are the
 *     cross-fitted ones, so they are not flattered by the fit itself.
 *  6. A time-based check: rows are in the order the caller added them — the
 *     train job adds them by post id, i.e. upload time — so the towers are
 *     refitted on the oldest 80 % and scored on the newest 20 %, with the
 *     combination and calibration of step 4–5.
 *  7. The final towers on every post (the head with what is left of the
 *     budget, fine-tuning included), combined with the stack's weights
 *     refitted on all out-of-fold logits and the calibration of step 5.
 *
 * Posts without an image row (ds->n_no_image, the older posts beyond the
 * train job's image cap, issue 16) come first in the dataset: the tag
 * tower and the baseline (step 2, and the time check's and the final
 * regression) learn from them too, with folds of their own (stratified
 * among them) so every fold's regression leaves its own rows out; the
 * head, the similarity, the stack, the calibration and every score are
 * fitted and measured on the image rows only, where each post has every
 * input, and the tag tower's out-of-fold logits there are honest as
 * before. The quality's n is the image rows'.
 *
 * Small optimism remains and is said here rather than hidden: λ, the
 * combination and Platt's two numbers are chosen on the same out-of-fold
 * predictions they are scored on (three choices among a handful of options
 * for a thousand posts).
 *
 * Without a backbone the image features come from the small CNN trained on
 * these very posts (train/train-cnn.h), so it is cross-fitted before these
 * folds (cnn.h): two networks, each trained on one stratified half of the
 * labelled posts in half of the CNN's time, and a post's one image feature
 * is the logit of the network that did not see it: the head takes it
 * beside the tags, and the stack takes it as an input of its own (step 4;
 * through the head alone it was lost in the tags on short budgets). The
 * folds, the stack, the calibration and the time check therefore only
 * ever see out-of-sample CNN outputs, as they see a backbone's fixed
 * embeddings; the final model feeds a new post the mean of both networks'
 * logits. (The similarity input is left out: one feature has no direction
 * to be similar in.) (Before, one CNN trained on the posts' own 80 %
 * split gave every fold's head in-sample features: measured by
 * tests/bench/bench-cnn-insample.py on test-train-cnn's world, the CNN
 * model's cross-validated ROC AUC stood 0.08-0.12 further above its AUC on
 * 86 unseen posts than the tags-only model's did; cross-fitted, 0.06-0.07,
 * while its unseen AUC rose from 0.79-0.81 to 0.83-0.84. That rest is no
 * named leak: the tags model's folds also lose more to training on 80 %
 * of the posts.) What is left: a fold's
 * training rows carry logits of the network that trained on its held-out
 * posts (of the other half), the second-order leak every stacked
 * out-of-fold input has, the similarity's included; and the time check's
 * newest posts were seen by the network of the other half, which had
 * newer posts than the check's own training rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnn.h"
#include "knn.h"
#include "logreg.h"
#include "model-internal.h"
#include "model.h"

#define STACK_LAMBDA 1e-3
/* The baseline's λ search may use this share of the budget (it is CPU work
 * that grows with the posts and tags, not with the budget: measured 1.0 s of
 * a 6.6 s budget for 263 posts before its fits were warm-started). */
#define LAMBDA_SHARE 0.1

typedef struct Cv {
        VkEngine *engine;
        const ModelDataset *ds; /* the rows with an image (model_dataset_image_rows()) */
        const ModelTrainOptions *o;
        double end;
        unsigned k;
        /* Every row, those without an image first (n0 of them): the tag
         * tower (ld) learns from all, each fold leaving its own rows out,
         * so its out-of-fold logits on the image rows are as honest as the
         * head's. fold and oof_tags point at the image rows' part. */
        size_t n0;
        uint8_t *fold_all;
        float *oof_tags_all;
        uint8_t *fold;
        uint8_t *use; /* tags seen ≥ QUALITY_BASELINE_MIN_COUNT times */
        uint32_t n_use;
        LogregData ld;
        double lambda;
        float *oof_tags, *oof_head, *oof; /* logits: the tag tower, the head, the chosen combination */
        bool have_tags, have_head;
        float *oof_knn, *knn_weight; /* the similarity input (step 3b), its features' weights */
        uint32_t knn_k;
        bool have_knn;
        const float *oof_cnn; /* the cross-fitted CNN's out-of-fold logits (ds's one feature), or NULL */
} Cv;

static void cv_done(Cv *cv)
{
        free(cv->fold_all);
        free(cv->use);
        free(cv->oof_tags_all);
        free(cv->oof_head);
        free(cv->oof);
        free(cv->oof_knn);
        free(cv->knn_weight);
}

static int progress_overall(ModelStage stage, unsigned epoch, double loss, double val_auc, double left,
                            void *userdata)
{
        /* the folds' trainers know their own deadline; the caller wants the whole call's */
        Cv *cv = userdata;
        return cv->o->progress(stage, epoch, loss, val_auc, MAX(0.0, cv->end - model_now_s()),
                               cv->o->userdata);
}

/* What each stage took, in the debug log: the per-fold overheads are what
 * breaks a budget, and they are only seen when measured. */
static void stage_took(const char *what, double *since)
{
        double now = model_now_s();
        log_debug("cv: %s took %.2f s", what, now - *since);
        *since = now;
}

static float logit_of(float p)
{
        double q = CLAMP((double)p, 1e-6, 1 - 1e-6);
        return (float)log(q / (1 - q));
}

static double sigmoid(double z)
{
        return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

/* A held-out fold is predicted this many rows at a time, gathered from ds:
 * a copy of the fold's rows would be a fifth of the dataset again (and
 * each model_predict() call sets its head up on the device: not smaller). */
#define PREDICT_CHUNK 1024

/* m's probabilities for the rows with flag[i] set, written to prob[j] in
 * row order. */
static int predict_rows(const Model *m, VkEngine *engine, const ModelDataset *ds, const uint8_t *flag,
                        float *prob)
{
        uint32_t max_tags = 0;
        for (size_t i = 0; i < ds->n; i++)
                max_tags = MAX(max_tags, ds->tag_offsets[i + 1] - ds->tag_offsets[i]);
        _cleanup_free_ float *x = malloc((size_t)PREDICT_CHUNK * ds->dim * sizeof(float));
        _cleanup_free_ uint32_t *offsets = malloc((PREDICT_CHUNK + 1) * sizeof(uint32_t)),
                                *tags = malloc(MAX((size_t)max_tags * PREDICT_CHUNK, (size_t)1) *
                                               sizeof(uint32_t));
        FeatureRows rows = model_dataset_rows(ds);
        size_t k = 0, done = 0;
        int r;

        if (!x || !offsets || !tags)
                return -ENOMEM;
        offsets[0] = 0;
        for (size_t i = 0; i <= ds->n; i++) {
                if (k == PREDICT_CHUNK || (i == ds->n && k > 0)) {
                        r = model_predict(m, engine, x, offsets, tags, k, prob + done, NULL);
                        if (r < 0)
                                return r;
                        done += k;
                        k = 0;
                }
                if (i == ds->n || !flag[i])
                        continue;
                uint32_t a = ds->tag_offsets[i], e = ds->tag_offsets[i + 1];
                float *row = x + k * ds->dim;
                const float *f = feature_row(&rows, i, row);
                if (f != row)
                        memcpy(row, f, ds->dim * sizeof(float));
                if (e > a)
                        memcpy(tags + offsets[k], ds->tags + a, (e - a) * sizeof(uint32_t));
                offsets[k + 1] = offsets[k] + (e - a);
                k++;
        }
        return 0;
}

/* The head trained on rows with train[i], its logits for rows with test[i]
 * written to out[i]. Neither fold is copied: the head trains on ds's rows
 * in place (o.rows) and the test rows are gathered a chunk at a time. */
static int head_held_out(Cv *cv, const uint8_t *train, const uint8_t *test, double budget, float *out,
                         Error *error)
{
        const ModelDataset *ds = cv->ds;
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_free_ float *prob = NULL;
        ModelTrainOptions o = *cv->o;
        double mark = model_now_s(), t0 = mark;
        size_t n_train = 0, n_test = 0;
        int r;

        for (size_t i = 0; i < ds->n; i++) {
                n_train += train[i] != 0;
                n_test += test[i] != 0;
        }
        o.time_budget_s = MAX(budget, 0.05);
        o.finetune = NULL;
        o.oof_prob = NULL;
        o.rows = train;
        /* A fold's head estimates the head's out-of-fold logits in a small
         * share of the budget: no averaged heads and no feature-set search
         * there (each would split that share and add a device set-up per
         * fold); the final head does both with its larger share. */
        o.ensemble = 1;
        o.select_feature_sets = false;
        o.min_per_class = 2;
        o.progress = cv->o->progress ? progress_overall : NULL;
        o.userdata = cv;
        r = model_train_head(cv->engine, ds, &o, &m, NULL, error);
        if (r < 0)
                return r;
        stage_took("  the fold's head", &mark);
        prob = malloc(MAX(n_test, (size_t)1) * sizeof(float));
        if (!prob)
                return -ENOMEM;
        r = predict_rows(m, cv->engine, ds, test, prob);
        if (r < 0)
                return r;
        stage_took("  predicting the held-out fold", &mark);
        log_debug("cv: a head on %zu rows: %.2f s for a budget of %.2f s", n_train, model_now_s() - t0,
                  o.time_budget_s);
        /* model_predict gives σ(raw logit) for a head without a combination */
        for (size_t i = 0, j = 0; i < ds->n; i++)
                if (test[i])
                        out[i] = (float)(m->head_a * logit_of(prob[j++]) + m->head_b);
        return 0;
}

static int fit_stack(const Cv *cv, const uint32_t *rows, size_t n_rows, Logreg *ret, float *dense,
                     uint32_t n_dense)
{
        /* dense: n × n_dense out-of-fold logits (tag tower, head[, similarity]) */
        LogregData d = {.n = cv->ds->n, .labels = cv->ds->labels, .dense = dense, .n_dense = n_dense};
        return logreg_fit(&d, rows, n_rows, STACK_LAMBDA, ret);
}

/* The stack's out-of-fold logits (out), its weights fitted on the folds. */
static int stack_oof(const Cv *cv, float *dense, uint32_t n_dense, uint32_t *rows, float *out)
{
        size_t n = cv->ds->n;
        LogregData d = {.n = n, .labels = cv->ds->labels, .dense = dense, .n_dense = n_dense};
        int r;

        for (unsigned f = 0; f < cv->k; f++) {
                size_t nr = 0;
                Logreg m = {0};
                for (size_t i = 0; i < n; i++)
                        if (cv->fold[i] != f)
                                rows[nr++] = (uint32_t)i;
                if ((r = fit_stack(cv, rows, nr, &m, dense, n_dense)) < 0)
                        return r;
                for (size_t i = 0; i < n; i++)
                        if (cv->fold[i] == f)
                                out[i] = (float)logreg_logit(&m, &d, i);
                logreg_done(&m);
        }
        return 0;
}

/* Step 3b: the similarity input's out-of-fold scores and k. */
static int knn_cross_validate(Cv *cv)
{
        const ModelDataset *ds = cv->ds;
        int r;

        /* one feature (the cross-fitted CNN's logit, cnn.h) has no direction
         * to be similar in: the head alone takes it */
        if (!cv->o->use_features || ds->dim < 2)
                return 0;
        cv->oof_knn = malloc(ds->n * sizeof(float));
        cv->knn_weight = malloc(ds->dim * sizeof(float));
        if (!cv->oof_knn || !cv->knn_weight)
                return -ENOMEM;
        for (uint32_t d = 0; d < ds->dim; d++)
                cv->knn_weight[d] = 1.f;
        for (size_t s = 0; s < ds->n_sets; s++)
                for (uint32_t d = ds->sets[s].offset;
                     d < ds->sets[s].offset + ds->sets[s].dim && d < ds->dim; d++)
                        cv->knn_weight[d] = 1.f / sqrtf((float)ds->sets[s].dim);
        FeatureRows rows = model_dataset_rows(ds);
        r = knn_cv_rows(&rows, ds->labels, ds->n, cv->fold, cv->k, knn_k_grid, knn_k_grid_n,
                        cv->o->seed & 0xffffffffu, cv->knn_weight, &cv->knn_k, cv->oof_knn);
        if (r == -EINVAL)
                return 0; /* a fold without both classes: no similarity input */
        if (r < 0)
                return r;
        cv->have_knn = true;
        log_debug("Similarity input: k %u, out-of-fold ROC AUC %.4f", cv->knn_k,
                  metrics_roc_auc(cv->oof_knn, ds->labels, ds->n));
        return 0;
}

/* The stack's inputs, in the order the stacks add them: the tag tower, the
 * head, the similarity, the cross-fitted CNN's logit (an input of its own
 * beside the head, which sees it among the tags). NULL: not trained. */
#define STACK_INPUTS 4
static const float *stack_input(const Cv *cv, unsigned j)
{
        switch (j) {
        case 0:
                return cv->have_tags ? cv->oof_tags : NULL;
        case 1:
                return cv->have_head ? cv->oof_head : NULL;
        case 2:
                return cv->have_knn ? cv->oof_knn : NULL;
        default:
                return cv->oof_cnn;
        }
}

/* The stack of the first k inputs is tried when its newest input exists
 * beside a tower; a tower that is missing there is a column of zeros, so
 * its weight is 0. The stack of the two towers needs both. */
static bool stack_possible(const Cv *cv, unsigned k)
{
        if (k == 2)
                return cv->have_tags && cv->have_head;
        return (cv->have_tags || cv->have_head) && stack_input(cv, k - 1);
}

static void stack_fill(const Cv *cv, unsigned k, float *dense)
{
        for (unsigned j = 0; j < k; j++) {
                const float *in = stack_input(cv, j);
                for (size_t i = 0; i < cv->ds->n; i++)
                        dense[k * i + j] = in ? in[i] : 0;
        }
}

/* Step 4: the combination by out-of-fold ROC AUC; cv->oof gets its logits.
 * The candidates, simplest first: each tower alone, then the stacks of 2,
 * 3 and 4 inputs; one wins only by beating every simpler one. */
static int choose_combination(Cv *cv, ModelCombine *c)
{
        const ModelDataset *ds = cv->ds;
        size_t n = ds->n;
        _cleanup_free_ float *dense = malloc(STACK_INPUTS * n * sizeof(float)),
                             *stack = malloc(n * sizeof(float));
        _cleanup_free_ uint32_t *rows = malloc(n * sizeof(uint32_t));
        double auc_tags = -1, auc_head = -1, auc_stack[STACK_INPUTS + 1] = {-1, -1, -1, -1, -1};
        unsigned best_k = 0;
        int r;

        if (!dense || !stack || !rows)
                return -ENOMEM;
        if (cv->have_tags)
                auc_tags = metrics_roc_auc(cv->oof_tags, ds->labels, n);
        if (cv->have_head)
                auc_head = metrics_roc_auc(cv->oof_head, ds->labels, n);
        double best = MAX(auc_tags, auc_head);
        for (unsigned k = 2; k <= STACK_INPUTS; k++) {
                if (!stack_possible(cv, k))
                        continue;
                stack_fill(cv, k, dense);
                if ((r = stack_oof(cv, dense, k, rows, stack)) < 0)
                        return r;
                auc_stack[k] = metrics_roc_auc(stack, ds->labels, n);
                if (auc_stack[k] > best) {
                        best = auc_stack[k];
                        best_k = k;
                        memcpy(cv->oof, stack, n * sizeof(float));
                }
        }

        *c = (ModelCombine){0};
        if (best_k > 0) {
                Logreg m = {0};
                double w[STACK_INPUTS] = {0};
                stack_fill(cv, best_k, dense);
                if ((r = fit_stack(cv, NULL, 0, &m, dense, best_k)) < 0)
                        return r;
                for (unsigned j = 0; j < best_k; j++)
                        w[j] = stack_input(cv, j) ? m.w[j] : 0;
                *c = (ModelCombine){.kind = "stack",
                                    .w_tags = w[0],
                                    .w_head = w[1],
                                    .w_knn = w[2],
                                    .w_cnn = w[3],
                                    .bias = m.bias};
                logreg_done(&m);
        } else if (auc_tags >= auc_head) {
                *c = (ModelCombine){.kind = "tags", .w_tags = 1};
                memcpy(cv->oof, cv->oof_tags, n * sizeof(float));
        } else {
                *c = (ModelCombine){.kind = "head", .w_head = 1};
                memcpy(cv->oof, cv->oof_head, n * sizeof(float));
        }
        log_debug("Cross-validated ROC AUC: tags %.4f, head %.4f, stack %.4f, stack with similarity %.4f, "
                  "stack with the CNN's logit %.4f: %s (CNN's weight %.3f)",
                  auc_tags, auc_head, auc_stack[2], auc_stack[3], auc_stack[4], c->kind, c->w_cnn);
        return 0;
}

static int scores_of_logits(const float *logits, const uint8_t *labels, size_t n, uint64_t seed,
                            QualityScores *ret)
{
        _cleanup_free_ float *p = malloc(MAX(n, (size_t)1) * sizeof(float));
        if (!p)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                p[i] = (float)sigmoid(logits[i]);
        return quality_scores(p, labels, n, QUALITY_BOOTSTRAP, seed, ret);
}

/* Step 6: oldest 80 % → newest 20 %, the model's combination and calibration. */
static int time_check(Cv *cv, const ModelCombine *c, double budget, ModelQuality *q, Error *error)
{
        const ModelDataset *ds = cv->ds;
        size_t n = ds->n, n_test = (size_t)lround(QUALITY_TIME_TEST_FRACTION * (double)n),
               n_old = n - n_test, n0 = cv->n0;
        _cleanup_free_ uint8_t *old = calloc(n, 1), *new = calloc(n, 1), *ylab = malloc(n);
        _cleanup_free_ uint32_t *rows = malloc((n0 + n) * sizeof(uint32_t));
        _cleanup_free_ float *zk = calloc(n, sizeof(float));
        _cleanup_free_ float *zt = calloc(n, sizeof(float)), *zh = calloc(n, sizeof(float)),
                             *pb = malloc(n * sizeof(float)), *pm = malloc(n * sizeof(float));
        size_t pos_old = 0, pos_new = 0;
        int r;

        if (!old || !new || !ylab || !rows || !zk || !zt || !zh || !pb || !pm)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                old[i] = i < n_old;
                new[i] = !old[i];
                if (old[i])
                        pos_old += ds->labels[i] != 0;
                else
                        pos_new += ds->labels[i] != 0;
        }
        /* the tag tower: every row older than the newest fifth, those
         * without an image included (they are older still) */
        for (size_t i = 0; i < n0 + n_old; i++)
                rows[i] = (uint32_t)i;
        /* both classes on both sides, or there is nothing to measure */
        if (n_test < 10 || pos_old < 2 || pos_old + 2 > n_old || pos_new == 0 || pos_new == n_test)
                return 0;
        Logreg lr = {0};
        r = logreg_fit(&cv->ld, rows, n0 + n_old, cv->lambda, &lr);
        if (r < 0)
                return r;
        for (size_t i = n_old; i < n; i++)
                zt[i] = (float)logreg_logit(&lr, &cv->ld, n0 + i);
        logreg_done(&lr);
        if (c->w_head != 0) {
                Error held_out_error = {};
                r = head_held_out(cv, old, new, budget, zh, &held_out_error);
                if (r == -ETIME)
                        return 0; /* no time left for it: the check is left out, not the training */
                if (r < 0)
                        return error_setf(error, r, "%s", error_message(&held_out_error, r));
        }
        if (c->w_knn != 0) {
                _cleanup_(knn_freep) Knn *kn = NULL;
                FeatureRows all = model_dataset_rows(ds), newest = feature_rows_from(&all, n_old);
                if ((r = knn_fit_rows(&all, ds->labels, old, n, cv->knn_k, cv->o->seed & 0xffffffffu,
                                      cv->knn_weight, &kn)) < 0 ||
                    (r = knn_scores_rows(kn, &newest, n_test, zk + n_old)) < 0)
                        return r;
        }
        for (size_t i = n_old; i < n; i++) {
                size_t j = i - n_old;
                double s = c->bias + c->w_tags * zt[i] + c->w_head * zh[i] + c->w_knn * zk[i] +
                           (c->w_cnn != 0 ? c->w_cnn * cv->oof_cnn[i] : 0);
                pb[j] = (float)sigmoid(zt[i]);
                pm[j] = (float)quality_calibrator_apply(&c->cal, s);
                ylab[j] = ds->labels[i];
        }
        if ((r = quality_scores(pb, ylab, n_test, QUALITY_BOOTSTRAP, cv->o->seed, &q->time_baseline)) < 0 ||
            (r = quality_scores(pm, ylab, n_test, QUALITY_BOOTSTRAP, cv->o->seed, &q->time_model)) < 0)
                return r;
        q->time_n_train = (uint32_t)n_old;
        q->time_n_test = (uint32_t)n_test;
        return 0;
}

/* Steps 4.–6.: the combination, its calibration, the scores and the time
 * check (with time_budget seconds for its head). prob (n) gets the
 * cross-fitted calibrated out-of-fold probabilities. */
static int measure(Cv *cv, ModelCombine *c, ModelQuality *q, float *prob, double time_budget, Error *error)
{
        const ModelDataset *ds = cv->ds;
        const ModelTrainOptions *o = cv->o;
        size_t n = ds->n;
        QualityScores rank;
        int r;

        q->tower_head = (QualityScores){0};
        if ((r = choose_combination(cv, c)) < 0)
                return r;
        if ((r = quality_calibrate(cv->oof, ds->labels, n, cv->fold, cv->k, &q->calibration, &c->cal,
                                   prob)) < 0)
                return r;
        /* the ranking is the combination's (the final calibrator is one
         * monotone map); calibration numbers are the cross-fitted ones */
        if ((r = quality_scores(prob, ds->labels, n, QUALITY_BOOTSTRAP, o->seed, &q->model)) < 0 ||
            (r = scores_of_logits(cv->oof, ds->labels, n, o->seed, &rank)) < 0)
                return r;
        q->model.roc_auc = rank.roc_auc;
        q->model.roc_auc_lo = rank.roc_auc_lo;
        q->model.roc_auc_hi = rank.roc_auc_hi;
        q->model.pr_auc = rank.pr_auc;
        q->model.pr_auc_lo = rank.pr_auc_lo;
        q->model.pr_auc_hi = rank.pr_auc_hi;
        q->model.precision_at_10 = rank.precision_at_10;
        q->model.precision_at_50 = rank.precision_at_50;
        if ((r = scores_of_logits(cv->oof_tags, ds->labels, n, o->seed, &q->baseline)) < 0)
                return r;
        if (cv->have_tags)
                q->tower_tags = q->baseline;
        if (cv->have_head &&
            (r = scores_of_logits(cv->oof_head, ds->labels, n, o->seed, &q->tower_head)) < 0)
                return r;
        /* the similarity score is not a logit, but AUC and PR AUC only rank */
        if (cv->have_knn && (r = scores_of_logits(cv->oof_knn, ds->labels, n, o->seed, &q->tower_knn)) < 0)
                return r;
        /* 6. the newest fifth */
        return time_check(cv, c, time_budget, q, error);
}

int model_train(VkEngine *engine, const ModelDataset *all, const ModelTrainOptions *o, Model **ret_model,
                ModelMetrics *ret_metrics, Error *error)
{
        /* the image rows: everything but the tag tower sees only these */
        const ModelDataset img = model_dataset_image_rows(all);
        const ModelDataset *ds = &img;
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_free_ float *prob = NULL;
        _cleanup_free_ uint8_t *train = NULL, *test = NULL;
        _cleanup_free_ uint32_t *count = NULL;
        Cv cv = {.engine = engine, .ds = ds, .o = o, .k = o->folds, .n0 = all->n_no_image};
        ModelQuality q = {.version = QUALITY_VERSION};
        ModelCombine c;
        size_t n = ds->n, likes, dislikes;
        double start = model_now_s(), mark = start;
        int r;

        if (o->oof_prob)
                for (size_t i = 0; i < all->n; i++)
                        o->oof_prob[i] = NAN;
        model_dataset_counts(ds, &likes, &dislikes);
        /* at least two of each class in every fold: fewer folds for a small
         * class; fewer than two folds, or no folds asked: the head alone, as before */
        size_t fewest = MIN(likes, dislikes);
        if (o->folds >= 2 && fewest < 2 * (size_t)o->folds) {
                cv.k = (unsigned)(fewest / 2);
                log_info("Only %zu %s: %u folds of cross-validation instead of %u.", fewest,
                         likes < dislikes ? "likes" : "dislikes", cv.k, o->folds);
        }
        if (o->folds < 2 || cv.k < 2 || likes < MAX(o->min_per_class, 2u) ||
            dislikes < MAX(o->min_per_class, 2u) || !(o->time_budget_s > 0)) {
                if (o->folds >= 2)
                        log_info("Too few likes or dislikes to cross-validate: the model is trained and "
                                 "measured on one validation split, its score not calibrated.");
                return model_train_head(engine, ds, o, ret_model, ret_metrics, error);
        }
        cv.end = start + o->time_budget_s;

        cv.fold_all = malloc(all->n);
        cv.use = calloc(MAX(ds->vocab, 1u), 1);
        count = calloc(MAX(ds->vocab, 1u), sizeof(uint32_t));
        cv.oof_tags_all = malloc(all->n * sizeof(float));
        cv.oof_head = malloc(n * sizeof(float));
        cv.oof = malloc(n * sizeof(float));
        prob = malloc(n * sizeof(float));
        train = malloc(n);
        test = malloc(n);
        r = -ENOMEM;
        if (!cv.fold_all || !cv.use || !count || !cv.oof_tags_all || !cv.oof_head || !cv.oof || !prob ||
            !train || !test)
                goto finish;
        cv.fold = cv.fold_all + cv.n0;
        cv.oof_tags = cv.oof_tags_all + cv.n0;
        /* stratified among the image rows, and among the others on their own */
        if ((cv.n0 > 0 && (r = quality_folds(all->labels, cv.n0, cv.k, o->seed, cv.fold_all)) < 0) ||
            (r = quality_folds(ds->labels, n, cv.k, o->seed, cv.fold)) < 0)
                goto finish;
        if (cv.n0 > 0)
                log_info("The tag tower and the baseline learn from %zu more posts without an image row; "
                         "the image towers and the scores from the %zu with one.",
                         cv.n0, n);

        /* 2. the baseline, which is also the tag tower, on every row */
        for (size_t a = 0; a < all->tag_offsets[all->n]; a++)
                count[all->tags[a]]++;
        for (uint32_t t = 0; t < ds->vocab; t++)
                if (count[t] >= QUALITY_BASELINE_MIN_COUNT) {
                        cv.use[t] = 1;
                        cv.n_use++;
                }
        cv.ld = (LogregData){.n = all->n,
                             .labels = all->labels,
                             .offsets = all->tag_offsets,
                             .ids = all->tags,
                             .n_sparse = ds->vocab,
                             .use_sparse = cv.use};
        r = logreg_cv(&cv.ld, cv.fold_all, cv.k, logreg_lambda_grid, logreg_lambda_grid_n,
                      start + LAMBDA_SHARE * o->time_budget_s, &cv.lambda, cv.oof_tags_all);
        if (r < 0)
                goto finish;
        cv.have_tags = o->use_tags;
        stage_took("the baseline's λ search", &mark);

        /* 3. the head per fold: each of the folds, the time check and the
         * final head gets an equal share of the budget (less what fine-tuning
         * keeps for the final one). Shares end at fixed times from the start,
         * so what a fold spends around its training (copies, the device's
         * set-up, prediction) comes out of its own share, not the final's. */
        double share = o->finetune ? o->finetune->budget_share : 0, t0 = model_now_s();
        double per = MAX(start + o->time_budget_s * (1 - share) - t0, 0.0) / (double)(cv.k + 2);
        cv.have_head = true;
        for (unsigned f = 0; f < cv.k && cv.have_head; f++) {
                for (size_t i = 0; i < n; i++) {
                        train[i] = cv.fold[i] != f;
                        test[i] = cv.fold[i] == f;
                }
                Error fold_error = {};
                double until = t0 + (double)(f + 1) * per;
                /* never less than half a share: the first fold also pays for the device's start */
                r = head_held_out(&cv, train, test, MAX(until - model_now_s(), per / 2), cv.oof_head,
                                  &fold_error);
                if (r == -ETIME && !cv.have_tags) {
                        /* too little time to cross-validate an image-only head: it alone, as before */
                        log_debug("No time to cross-validate the head; training it without folds.");
                        ModelTrainOptions ho = *o;
                        ho.time_budget_s = MAX(cv.end - model_now_s(), 0.05);
                        cv_done(&cv);
                        return model_train_head(engine, ds, &ho, ret_model, ret_metrics, error);
                }
                if (r == -ETIME) {
                        /* too little time for the head per fold: the tag tower alone */
                        log_debug("No time to cross-validate the head; the tag tower alone.");
                        cv.have_head = false;
                        r = 0;
                }
                if (r < 0) {
                        if (error_is_set(&fold_error))
                                (void)error_setf(error, r, "%s", fold_error.message);
                        goto finish;
                }
                stage_took("a fold's head", &mark);
        }

        /* 3b. the similarity input */
        if ((r = knn_cross_validate(&cv)) < 0)
                goto finish;
        /* 3c. without a backbone, the cross-fitted CNN's logit: out of fold already (cnn.h) */
        if (o->use_features && ds->dim == CNN_HEAD_DIM && ds->n_sets == 1 &&
            streq(ds->sets[0].name, CNN_FEATURE_SET))
                cv.oof_cnn = ds->features;

        /* 4.–6. */
        if ((r = measure(&cv, &c, &q, prob, t0 + (double)(cv.k + 1) * per - model_now_s(), error)) < 0)
                goto finish;
        stage_took("combination, calibration, bootstrap and the time check", &mark);

        /* 7. the final towers */
        ModelTrainOptions fo = *o;
        /* what is left, and at least a quarter of a share on a busy machine */
        fo.time_budget_s = MAX(cv.end - model_now_s(), per / 4);
        if (c.w_head != 0 || !cv.have_tags) {
                Error head_error = {};
                r = model_train_head(engine, ds, &fo, &m, NULL, &head_error);
                if (r == -ETIME && cv.have_tags) {
                        /* The folds' overruns left the final head too little
                         * time for an epoch (a short budget on a slow
                         * machine): the tag tower alone, measured and
                         * calibrated as such, rather than a failed training
                         * or one over its budget. */
                        log_info("No time left for the final head: the model is the tag tower alone.");
                        cv.have_head = false;
                        if ((r = measure(&cv, &c, &q, prob, 0, error)) < 0)
                                goto finish;
                } else if (r < 0) {
                        (void)error_setf(error, r, "%s", error_message(&head_error, r));
                        goto finish;
                }
        }
        if (c.w_head == 0 && cv.have_tags) {
                /* the tag tower alone: a head with zero weights keeps the file's layout */
                uint32_t vocab = MAX(ds->vocab, 1u);
                if ((r = model_new(ds->dim, vocab, o->tag_dim, o->hidden, &m)) < 0)
                        goto finish;
                m->use_tags = false;
                m->set_mask = 0;
                m->n_sets = ds->n_sets;
                memcpy(m->sets, ds->sets, sizeof(ds->sets));
                if ((r = model_set_string(&m->vocabulary, o->vocabulary)) < 0 ||
                    (r = model_set_string(&m->backbone, o->backbone)) < 0 ||
                    (r = model_set_string(&m->fluff_version, FLUFF_VERSION)) < 0)
                        goto finish;
                time_t now = time(NULL);
                struct tm tm;
                char date[32];
                if (gmtime_r(&now, &tm) && strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0 &&
                    (r = model_set_string(&m->created, date)) < 0)
                        goto finish;
        }
        if (c.w_tags != 0) {
                Logreg lr = {0};
                if ((r = logreg_fit(&cv.ld, NULL, 0, cv.lambda, &lr)) < 0)
                        goto finish;
                m->tag_lr = calloc(m->vocab, sizeof(float));
                if (!m->tag_lr) {
                        logreg_done(&lr);
                        r = -ENOMEM;
                        goto finish;
                }
                for (uint32_t t = 0; t < ds->vocab && t < m->vocab; t++)
                        m->tag_lr[t] = (float)lr.w[t];
                m->tag_lr_bias = lr.bias;
                logreg_done(&lr);
        }
        FeatureRows rows = model_dataset_rows(ds);
        if (c.w_knn != 0 && (r = knn_fit_rows(&rows, ds->labels, NULL, n, cv.knn_k, o->seed & 0xffffffffu,
                                              cv.knn_weight, &m->knn)) < 0)
                goto finish;
        m->combine = c;
        stage_took("the final towers", &mark);

        q.folds = cv.k;
        q.n = (uint32_t)n;
        q.n_pos = (uint32_t)likes;
        q.n_neg = (uint32_t)dislikes;
        q.threshold = 0.5;
        snprintf(q.combination, sizeof(q.combination), "%s", c.kind);
        q.baseline_min_count = QUALITY_BASELINE_MIN_COUNT;
        q.baseline_tags = cv.n_use;
        q.baseline_lambda = cv.lambda;
        m->quality = q;

        /* What status and train show: the pooled out-of-fold numbers at 0.5. */
        r = metrics_compute(prob, ds->labels, n, false, 0.5, &m->metrics);
        if (r < 0)
                goto finish;
        m->metrics.roc_auc = q.model.roc_auc;
        m->metrics.precision_at_10 = q.model.precision_at_10;
        m->metrics.precision_at_50 = q.model.precision_at_50;
        m->threshold = 0.5;
        m->n_train = (uint32_t)n;
        log_debug("cv: %.2f s of a %.2f s budget", model_now_s() - start, o->time_budget_s);
        if (o->oof_prob)
                memcpy(o->oof_prob + cv.n0, prob, n * sizeof(float));
        if (ret_metrics)
                *ret_metrics = m->metrics;
        *ret_model = TAKE_PTR(m);
        r = 0;
finish:
        (void)model_train_error(error, r);
        cv_done(&cv);
        return r;
}
