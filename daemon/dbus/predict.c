/* SPDX-License-Identifier: MIT */
/* Manager.Predict and GetPredictions, the rows they and Review, and
 * NewPredictions carry, and the query check Predict and AddWatch share. */
#include <inttypes.h>

#include "core/context.h"
#include "dbus/bus.h"
#include "dbus/options.h"
#include "e621.h"
#include "predict/predict.h"
#include "fluff/text.h"

#define PREDICT_TAGS_MAX_BYTES 4096

/* Splits the query into terms and joins them back through the e621 client's
 * check: empty, over-long, control characters or more than 40 terms fail. */
int bus_normalise_tags(const char *tags, char **ret, sd_bus_error *error)
{
        _cleanup_strv_free_ char **terms = NULL;
        _cleanup_free_ char *copy = NULL;
        size_t n = 0;
        char *save = NULL;

        if (strlen(tags) > PREDICT_TAGS_MAX_BYTES || !utf8_is_valid(tags, strlen(tags)))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "The tags must be valid UTF-8 of at most %u bytes.",
                                         PREDICT_TAGS_MAX_BYTES);
        copy = strdup(tags);
        terms = calloc(E621_QUERY_TERMS_MAX + 2, sizeof(char *));
        if (!copy || !terms)
                return -ENOMEM;
        for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
                if (n >= E621_QUERY_TERMS_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Too many tags: the site takes at most %u terms.",
                                                 E621_QUERY_TERMS_MAX);
                terms[n] = strdup(t);
                if (!terms[n++])
                        return -ENOMEM;
        }
        if (n == 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Give at least one tag to search for, e.g. \"canine\".");
        if (e621_query_join(terms, ret) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "The tags \"%.*s\" are not a valid search.",
                                         (int)utf8_prefix_len(tags, 200), tags);
        return 0;
}

static const BusOption predict_options[] = {
        {"include_animated", bus_option_bool, offsetof(PredictJobOptions, include_animated)},
        {},
};

int method_predict(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        PredictJobOptions o = {};
        _cleanup_free_ char *tags = NULL;
        const char *raw;
        uint32_t count;
        Error e = {};
        Job *j;
        int r;

        r = sd_bus_message_read(m, "su", &raw, &count);
        if (r < 0)
                return r;
        r = bus_read_options(m, "predict", predict_options, &o, error);
        if (r < 0)
                return r;

        /* PREDICT_COUNT_MIN is 1, as bus_check_count() says. */
        r = bus_check_count(&count, PREDICT_COUNT_DEFAULT, PREDICT_COUNT_MAX, error);
        if (r < 0)
                return r;
        r = bus_normalise_tags(raw, &tags, error);
        if (r < 0)
                return r;
        o.tags = tags;
        o.count = count;
        r = predict_job_create(&s->predictor, s->f.runner, &o, &j, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        return bus_reply_job(m, j);
}

/* "blue_eyes +0.310012, canine -3.1e-05" (as predict-score.c writes it; tag
 * names hold no spaces) as a(sd). */
static int append_pushes(sd_bus_message *m, const char *key, const char *list)
{
        _cleanup_free_ char *copy = strdup(strempty(list));
        char *save = NULL;
        int r;

        if (!copy)
                return -ENOMEM;
        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "a(sd)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sd)");
        for (char *t = strtok_r(copy, ",", &save); r >= 0 && t; t = strtok_r(NULL, ",", &save)) {
                t += strspn(t, " ");
                char *space = strrchr(t, ' ');
                if (!space)
                        continue;
                *space = '\0';
                r = sd_bus_message_append(m, "(sd)", t, strtod(space + 1, NULL));
        }
        for (int i = 0; r >= 0 && i < 3; i++)
                r = sd_bus_message_close_container(m);
        return r;
}

/* A row's explanation as a{sv} (see bus.h); empty for a row stored before. */
static int append_explanation(sd_bus_message *m, const PredictionRow *row)
{
        int r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0 || !row->explained)
                return r < 0 ? r : sd_bus_message_close_container(m);
        r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}{sv}", "logit", "d", row->logit, "bias", "d",
                                  row->bias, "image", "d", row->image, "tags", "d", row->tags, "calibration",
                                  "s", isempty(row->calibration) ? "none" : row->calibration);
        if (r >= 0)
                r = append_pushes(m, "tags_up", row->tags_up);
        if (r >= 0)
                r = append_pushes(m, "tags_down", row->tags_down);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

int bus_append_prediction_rows(BusServer *s, sd_bus_message *m, const PredictionRow *rows, size_t n,
                               bool explained)
{
        const char *row = explained ? "(tdssssa{sv})" : "(tdssss)";
        int r;

        r = sd_bus_message_open_container(m, 'a', row);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *url = NULL;
                r = e621_post_page_url(s->f.ctx->e621, rows[i].post_id, &url);
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(m, 'r', explained ? "tdssssa{sv}" : "tdssss");
                if (r >= 0)
                        r = sd_bus_message_append(m, "tdssss", rows[i].post_id, rows[i].score,
                                                  rows[i].label > 0 ? "like" : "dislike",
                                                  strempty(rows[i].top_tags), strempty(rows[i].image_path),
                                                  url);
                if (r >= 0 && explained)
                        r = append_explanation(m, &rows[i]);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* GetPredictions (a(tdssss)) and GetPredictions2 (the rows with their explanation). */
static int get_predictions(sd_bus_message *m, void *userdata, sd_bus_error *error, bool explained)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        BusServer *s = userdata;
        _cleanup_free_ char *tags = NULL;
        PredictionRow *rows = NULL;
        uint64_t run;
        uint32_t arg;
        Error e = {};
        size_t n = 0;
        int r;

        r = sd_bus_message_read(m, "u", &arg);
        if (r < 0)
                return r;
        r = predict_runs_get(s->f.ctx, arg, &run, &tags, &rows, &n, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "ts", run, strempty(tags));
        if (r >= 0)
                r = bus_append_prediction_rows(s, reply, rows, n, explained);
        prediction_row_array_free(rows, n);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

int method_get_predictions(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return get_predictions(m, userdata, error, false);
}

int method_get_predictions2(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return get_predictions(m, userdata, error, true);
}
