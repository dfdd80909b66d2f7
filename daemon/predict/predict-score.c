/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include "cnn.h"
#include "services/backbone.h"
#include "model.h"
#include "post.h"
#include "predict/predict.h"
#include "vocab.h"

void predict_score_free(void *userdata)
{
        PredictScore *s = userdata;
        if (!s)
                return;
        post_array_free(s->posts, s->n);
        for (size_t i = 0; i < s->n; i++) {
                /* A run that was not stored leaves no crops no later run would know of. */
                if (!s->keep_crops && s->paths && s->paths[i] && unlink(s->paths[i]) < 0 && errno != ENOENT)
                        log_debug_errno(errno, "Failed to delete the unused crop \"%s\", ignoring: %m",
                                        s->paths[i]);
                free(s->paths ? s->paths[i] : NULL);
                free(s->top_tags ? s->top_tags[i] : NULL);
                free(s->tags_up ? s->tags_up[i] : NULL);
                free(s->tags_down ? s->tags_down[i] : NULL);
        }
        free(s->paths);
        free(s->top_tags);
        free(s->tags_up);
        free(s->tags_down);
        free(s->explain);
        free(s->probs);
        free(s->model_path);
        bb_handle_unref(s->handle);
        free(s);
}

/* "blue_eyes +0.31, canine -0.12" (digits decimals; 0: six significant
 * digits, "+3.1e-05", so the smallest push keeps its sign): the listed pushes. */
static int format_pushes(const Vocab *v, const ModelTagPush *const *p, size_t k, int digits, char **ret)
{
        _cleanup_free_ char *out = strdup("");
        if (!out)
                return -ENOMEM;
        for (size_t j = 0; j < k; j++) {
                const char *category, *name;
                unsigned count;
                char *n;
                if (p[j]->tag == UINT32_MAX || vocab_entry(v, p[j]->tag, &category, &name, &count) < 0)
                        continue;
                int q = digits > 0 ? asprintf(&n, "%s%s%s %+.*f", out, isempty(out) ? "" : ", ", name,
                                              digits, (double)p[j]->push)
                                   : asprintf(&n, "%s%s%s %+.6g", out, isempty(out) ? "" : ", ", name,
                                              (double)p[j]->push);
                if (q < 0)
                        return -ENOMEM;
                free(out);
                out = n;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* top_tags (strongest up, then strongest down, two decimals, as clients
 * before explanations read it), tags_up and tags_down (six digits). */
static int format_explanation(const Vocab *v, const ModelExplanation *e, char **ret_top, char **ret_up,
                              char **ret_down)
{
        const ModelTagPush *all[2 * MODEL_EXPLAIN_TAGS], *up[MODEL_EXPLAIN_TAGS], *down[MODEL_EXPLAIN_TAGS];
        for (size_t k = 0; k < MODEL_EXPLAIN_TAGS; k++) {
                all[k] = up[k] = &e->up[k];
                all[MODEL_EXPLAIN_TAGS + k] = down[k] = &e->down[k];
        }
        int r = format_pushes(v, all, ELEMENTSOF(all), 2, ret_top);
        if (r >= 0)
                r = format_pushes(v, up, ELEMENTSOF(up), 0, ret_up);
        if (r >= 0)
                r = format_pushes(v, down, ELEMENTSOF(down), 0, ret_down);
        return r;
}

PredictionRow predict_score_row(const PredictScore *s, size_t i, double threshold)
{
        const ModelExplanation *e = &s->explain[i];
        PredictionRow row = {
                .post_id = s->posts[i]->id,
                .score = s->probs[i],
                .label = s->probs[i] >= threshold ? 1 : -1,
                .top_tags = s->top_tags[i],
                .image_path = s->paths[i],
                .explained = true,
                .logit = e->logit,
                .bias = e->bias,
                .image = e->image,
                .tags = e->tags,
                .tags_up = s->tags_up[i],
                .tags_down = s->tags_down[i],
        };
        (void)snprintf(row.calibration, sizeof(row.calibration), "%s", e->calibration);
        return row;
}

/* On a worker. The loaded model may be replaced by a training that finishes
 * meanwhile, so this reads its own copy from the file (written atomically). */
int predict_score_run(void *userdata)
{
        PredictScore *s = userdata;
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_vocab_free_ Vocab *v = NULL;
        Error error = {};
        _cleanup_free_ float *features = NULL;
        _cleanup_free_ uint32_t *offsets = NULL, *ids = NULL;
        _cleanup_free_ int *status = NULL;
        size_t n_ids = 0, cap = 0;
        int r;

        r = model_load(s->model_path, &m, &error);
        if (r < 0)
                return error_setf(&s->error, r, "The model file \"%s\" does not load: %s", s->model_path,
                                  error_message(&error, r));
        if (!m->vocabulary)
                return error_setf(&s->error, -EBADMSG,
                                  "The model file carries no tag vocabulary: train again.");
        r = vocab_from_json(m->vocabulary, strlen(m->vocabulary), &v);
        if (r < 0)
                return error_setf(&s->error, r, "The model's tag vocabulary does not read: %s",
                                  strerror(-r));
        s->threshold = model_like_threshold(m, s->like_threshold);

        features = calloc(MAX(s->n, (size_t)1) * m->dim, sizeof(float));
        offsets = calloc(s->n + 1, sizeof(uint32_t));
        s->probs = calloc(MAX(s->n, (size_t)1), sizeof(float));
        s->top_tags = calloc(MAX(s->n, (size_t)1), sizeof(char *));
        s->tags_up = calloc(MAX(s->n, (size_t)1), sizeof(char *));
        s->tags_down = calloc(MAX(s->n, (size_t)1), sizeof(char *));
        s->explain = calloc(MAX(s->n, (size_t)1), sizeof(ModelExplanation));
        status = calloc(MAX(s->n, (size_t)1), sizeof(int));
        if (!features || !offsets || !s->probs || !s->top_tags || !s->tags_up || !s->tags_down ||
            !s->explain || !status)
                return -ENOMEM;

        if (!isempty(m->backbone)) {
                if (!s->handle || m->dim != BACKBONE_EMBED_DIM)
                        return error_setf(
                                &s->error, -ENOMEDIUM,
                                "The model was trained on image embeddings of backbone %.12s, which "
                                "is not loaded: import it (\"fluffctl backbone import\") or train "
                                "again.",
                                m->backbone);
                uint64_t t0 = now_usec(CLOCK_MONOTONIC);
                if (m->tail) /* fine-tuned: its own features, never the shared cache's */
                        r = backbone_service_run_tuned(s->backbone, s->handle, m->tail->node, m->tail->cin,
                                                       m->tail->cout, m->tail->weight, m->tail->bias,
                                                       (const char *const *)s->paths, s->n, features,
                                                       status);
                else
                        r = backbone_service_run(s->backbone, s->handle, (const char *const *)s->paths, s->n,
                                                 features, NULL, status);
                s->embed_usec = now_usec(CLOCK_MONOTONIC) - t0;
                if (r < 0)
                        return error_setf(&s->error, r, "Failed to embed the images: %s", strerror(-r));
                for (size_t i = 0; i < s->n; i++)
                        if (status[i] < 0)
                                /* Zeros would score as a real image: say so rather than guess. */
                                return error_setf(&s->error, status[i],
                                                  "The crop \"%s\" could not be embedded: %s", s->paths[i],
                                                  strerror(-status[i]));
        }

        for (size_t i = 0; i < s->n; i++)
                cap += s->posts[i]->n_tags;
        ids = calloc(MAX(cap, (size_t)1), sizeof(uint32_t));
        if (!ids)
                return -ENOMEM;
        for (size_t i = 0; i < s->n; i++) {
                size_t k = 0;
                r = vocab_encode_post(v, s->posts[i], ids + n_ids, cap - n_ids, &k);
                if (r < 0)
                        return error_setf(&s->error, r, "Failed to encode the tags of post %" PRIu64 ": %s",
                                          s->posts[i]->id, strerror(-r));
                n_ids += MIN(k, (size_t)MODEL_TAGS_PER_POST_MAX);
                offsets[i + 1] = (uint32_t)n_ids;
        }

        size_t bad = SIZE_MAX;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        pthread_mutex_lock(&s->backbone->lock);
        VkEngine *engine = backbone_service_engine_locked(s->backbone);
        if (engine && m->cnn && isempty(m->backbone)) {
                /* no backbone: the image features come from the model's own small CNN */
                r = model_cnn_features_of_files(engine, m, (const char *const *)s->paths, s->n, features,
                                                status);
                for (size_t i = 0; r >= 0 && i < s->n; i++)
                        if (status[i] < 0) {
                                bad = i;
                                r = status[i];
                        }
        }
        if (engine && r >= 0)
                r = model_predict(m, engine, features, offsets, ids, s->n, s->probs, s->explain);
        pthread_mutex_unlock(&s->backbone->lock);
        s->score_usec = now_usec(CLOCK_MONOTONIC) - t0;
        if (!engine)
                return error_setf(&s->error, -ENODEV,
                                  "No Vulkan device to score on. %s, or install the Mesa lavapipe "
                                  "driver.",
                                  VK_NO_DEVICE_HINT);
        if (bad != SIZE_MAX)
                /* Zeros would score as a real image: say so rather than guess. */
                return error_setf(&s->error, r, "The crop \"%s\" could not be read: %s", s->paths[bad],
                                  strerror(-r));
        if (r < 0)
                return error_setf(&s->error, r, "Scoring failed: %s", strerror(-r));

        for (size_t i = 0; i < s->n; i++) {
                if (!isfinite(s->probs[i]))
                        return error_setf(&s->error, -EDOM,
                                          "The model gave post %" PRIu64 " no finite score.",
                                          s->posts[i]->id);
                r = format_explanation(v, &s->explain[i], &s->top_tags[i], &s->tags_up[i], &s->tags_down[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}
