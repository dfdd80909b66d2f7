/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>

#include "bus-util.h"
#include "ctl.h"
#include "fluff/bus.h"
#include "output.h"

/* As the daemon checks it (daemon/predict/predict.h): a typo is a usage error. */
#define COUNT_MAX 320u

unsigned arg_count;
char *arg_sheet;

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

int parse_count_arg(const char *s)
{
        unsigned v;

        if (safe_atou(s, &v) < 0 || v < 1 || v > COUNT_MAX) {
                log_error("Invalid --count \"%s\": give a number of posts from 1 to %u.", s, COUNT_MAX);
                return -EINVAL;
        }
        arg_count = v;
        return 0;
}

int prediction_rows_read(sd_bus_message *reply, Prediction **ret, size_t *ret_n)
{
        _cleanup_free_ Prediction *rows = NULL;
        const char *contents = NULL;
        size_t n = 0, alloc = 0;
        char type;
        int r;

        /* a(tdssss) from an older fluffd or method, a(tdssssa{sv}) with explanations */
        r = sd_bus_message_peek_type(reply, &type, &contents);
        if (r < 0)
                return r;
        if (type != 'a' || !contents || (!streq(contents, "(tdssss)") && !streq(contents, "(tdssssa{sv})")))
                return -EBADMSG;
        bool explained = streq(contents, "(tdssssa{sv})");
        r = sd_bus_message_enter_container(reply, 'a', contents);
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'r', explained ? "tdssssa{sv}" : "tdssss")) > 0) {
                Prediction p = {};
                r = sd_bus_message_read(reply, "tdssss", &p.id, &p.score, &p.label, &p.top_tags, &p.image,
                                        &p.url);
                if (r >= 0 && explained)
                        r = explanation_read(reply, &p.why);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
                if (n == alloc) {
                        alloc = alloc ? alloc * 2 : 32;
                        Prediction *q = realloc(rows, alloc * sizeof(Prediction));
                        if (!q)
                                return -ENOMEM;
                        rows = q;
                }
                rows[n++] = p;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(rows);
        *ret_n = n;
        return 0;
}

static json_object *explain_tags_json(const ExplainTag *t, size_t n)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < n; i++) {
                json_object *o = json_object_new_object();
                if (!o)
                        break;
                json_object_object_add(o, "tag", json_object_new_string(t[i].tag));
                json_object_object_add(o, "push", json_object_new_double(round(t[i].push * 1e4) / 1e4));
                json_object_array_add(a, o);
        }
        return a;
}

/* {logit, bias, image, tags, calibration, tags_up, tags_down}; NULL (JSON null) without one */
static json_object *explanation_json(const Explanation *e)
{
        json_object *o;

        if (!e->present || !(o = json_object_new_object()))
                return NULL;
        /* to 1e-4 logit units: the parts then add up to within 2e-4 */
        json_object_object_add(o, "logit", json_object_new_double(round(e->logit * 1e4) / 1e4));
        json_object_object_add(o, "bias", json_object_new_double(round(e->bias * 1e4) / 1e4));
        json_object_object_add(o, "image", json_object_new_double(round(e->image * 1e4) / 1e4));
        json_object_object_add(o, "tags", json_object_new_double(round(e->tags * 1e4) / 1e4));
        json_object_object_add(o, "calibration", json_object_new_string(e->calibration));
        json_object_object_add(o, "tags_up", explain_tags_json(e->up, e->n_up));
        json_object_object_add(o, "tags_down", explain_tags_json(e->down, e->n_down));
        return o;
}

json_object *prediction_rows_json(const Prediction *rows, size_t n)
{
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++) {
                json_object *o = json_object_new_object();
                TagPush *tags = NULL;
                size_t n_tags = 0;
                if (!o)
                        break;
                (void)tag_pushes_parse(rows[i].top_tags, &tags, &n_tags);
                json_object_object_add(o, "rank", json_object_new_uint64(i + 1));
                json_object_object_add(o, "id", json_object_new_uint64(rows[i].id));
                json_object_object_add(o, "score", json_object_new_double(rows[i].score));
                json_object_object_add(o, "label", json_object_new_string(rows[i].label));
                json_object_object_add(o, "top_tags", tag_pushes_json(tags, n_tags));
                json_object_object_add(o, "explanation", explanation_json(&rows[i].why));
                json_object_object_add(o, "image", json_object_new_string(rows[i].image));
                json_object_object_add(o, "url", json_object_new_string(rows[i].url));
                json_object_array_add(a, o);
                tag_pushes_free(tags, n_tags);
        }
        return a;
}

void prediction_rows_print_json(const Prediction *rows, size_t n)
{
        _cleanup_(json_object_putp) json_object *a = prediction_rows_json(rows, n);
        if (a)
                json_print(a);
}

size_t prediction_rows_print(const Prediction *rows, size_t n, const char *label_header)
{
        /* IMAGE + TAGS + BIAS = LOGIT, the score's logit (see fluffctl(1)); the
         * four columns only when some row was sent with its explanation */
        static const char *const headers[] = {"RANK", "ID",   "SCORE", "LABEL",    "IMAGE",
                                              "TAGS", "BIAS", "LOGIT", "TOP TAGS", "URL"};
        /* on a narrow terminal LOGIT goes first, then BIAS, TAGS, IMAGE */
        static const unsigned flags[] = {COLUMN_RIGHT,
                                         COLUMN_RIGHT,
                                         COLUMN_RIGHT,
                                         0,
                                         COLUMN_RIGHT | COLUMN_OPTIONAL,
                                         COLUMN_RIGHT | COLUMN_OPTIONAL,
                                         COLUMN_RIGHT | COLUMN_OPTIONAL,
                                         COLUMN_RIGHT | COLUMN_OPTIONAL,
                                         COLUMN_LIST,
                                         COLUMN_URL};
        const char *h[ELEMENTSOF(headers)];
        unsigned f[ELEMENTSOF(headers)];
        bool explained = false;
        size_t likes = 0, cols = 0;
        Table *t = NULL;

        for (size_t i = 0; i < n; i++)
                explained = explained || rows[i].why.present;
        for (size_t c = 0; c < ELEMENTSOF(headers); c++)
                if (explained || c < 4 || c > 7) {
                        h[cols] = c == 3 && label_header ? label_header : headers[c];
                        f[cols++] = flags[c];
                }
        if (table_new(h, f, cols, &t) < 0)
                return log_oom(), 0;
        for (size_t i = 0; i < n; i++) {
                const Explanation *e = &rows[i].why;
                char rank[24], id[24], score[32], image[24] = "", tags[24] = "", bias[24] = "",
                                                  logit[24] = "", top[512];
                snprintf(rank, sizeof(rank), "%zu", i + 1);
                snprintf(id, sizeof(id), "%" PRIu64, rows[i].id);
                snprintf(score, sizeof(score), "%.3f", rows[i].score);
                if (e->present) {
                        snprintf(image, sizeof(image), "%+.2f", e->image);
                        snprintf(tags, sizeof(tags), "%+.2f", e->tags);
                        snprintf(bias, sizeof(bias), "%+.2f", e->bias);
                        snprintf(logit, sizeof(logit), "%+.2f", e->logit);
                        explanation_tags(e, top, sizeof(top));
                }
                const char *all[] = {rank,          id,    score,
                                     rows[i].label, image, tags,
                                     bias,          logit, e->present ? top : rows[i].top_tags,
                                     rows[i].url};
                const char *cells[ELEMENTSOF(headers)];
                for (size_t c = 0, k = 0; c < ELEMENTSOF(all); c++)
                        if (explained || c < 4 || c > 7)
                                cells[k++] = all[c];
                if (table_add_row(t, cells) < 0)
                        break;
                likes += streq(rows[i].label, "like");
        }
        table_print(t, output_columns());
        table_free(t);
        return likes;
}

static void print_table(const char *tags, const Prediction *rows, size_t n)
{
        size_t likes = prediction_rows_print(rows, n, NULL);
        printf("\n%zu posts for \"%s\", %zu likely likes.\n", n, tags, likes);
}

/* Reads a run (0: the latest) and prints it as --json, --sheet ask. */
static int show_run(sd_bus *bus, uint32_t run)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ Prediction *rows = NULL;
        const char *tags;
        uint64_t id;
        size_t n = 0;
        int r;

        r = sd_bus_call_method(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                               "GetPredictions2", &error, &reply, "u", run);
        if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                /* a fluffd from before explanations: the rows without them */
                sd_bus_error_free(&error);
                r = sd_bus_call_method(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                       "GetPredictions", &error, &reply, "u", run);
        }
        if (r < 0)
                return bus_log_call_error("read the predictions", &error, r);
        r = sd_bus_message_read(reply, "ts", &id, &tags);
        if (r >= 0)
                r = prediction_rows_read(reply, &rows, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to read the predictions: %m");
        if (arg_sheet || arg_html) {
                RunHeading h;
                r = run_heading_get(bus, tags, &h);
                if (r < 0)
                        return r;
                if (arg_sheet) {
                        r = contact_sheet_write(arg_sheet, &h, rows, n);
                        if (r < 0)
                                return r;
                        if (!arg_json && !arg_quiet)
                                printf("Contact sheet: %s\n", arg_sheet);
                }
                if (arg_html) {
                        r = html_page_write(arg_html, &h, rows, n);
                        if (r < 0)
                                return r;
                        if (!arg_json && !arg_quiet)
                                printf("Web page: %s\n", arg_html);
                }
        }
        if (arg_json)
                prediction_rows_print_json(rows, n);
        else
                print_table(tags, rows, n);
        return 0;
}

int verb_predict(int argc, char *argv[], sd_bus *bus)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_free_ char *tags = strv_join(argv + 1, " ");
        int r;

        if (!tags)
                return log_oom();
        r = sd_bus_message_new_method_call(bus, &call, FLUFF_BUS_NAME, FLUFF_BUS_PATH,
                                           FLUFF_BUS_MANAGER_IFACE, "Predict");
        if (r >= 0)
                r = sd_bus_message_append(call, "sua{sv}", tags, arg_count, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to build the Predict call: %m");
        /* With --json, standard output carries the predictions alone. */
        bool quiet = arg_quiet;
        if (arg_json && !arg_no_wait)
                arg_quiet = true;
        r = job_call_message_and_wait(bus, call, "predict");
        arg_quiet = quiet;
        if (r < 0 || arg_no_wait)
                return r;
        /* Following the job leaves this connection closed: a fresh one reads the run. */
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *info_bus = NULL;
        r = bus_connect_user(&info_bus);
        if (r < 0)
                return r;
        return show_run(info_bus, 0);
}

int verb_predictions(int argc, char *argv[], sd_bus *bus)
{
        return show_run(bus, 0);
}
