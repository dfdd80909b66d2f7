/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <json-c/json.h>

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
        size_t n = 0, alloc = 0;
        Prediction p;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(tdssss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(tdssss)", &p.id, &p.score, &p.label, &p.top_tags, &p.image,
                                        &p.url)) > 0) {
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
        static const char *const headers[] = {"RANK", "ID", "SCORE", "LABEL", "TOP TAGS", "URL"};
        static const unsigned flags[] = {COLUMN_RIGHT, COLUMN_RIGHT, COLUMN_RIGHT, 0,
                                         COLUMN_LIST,  COLUMN_URL};
        const char *h[ELEMENTSOF(headers)];
        Table *t = NULL;
        size_t likes = 0;

        memcpy(h, headers, sizeof(h));
        if (label_header)
                h[3] = label_header;
        if (table_new(h, flags, ELEMENTSOF(headers), &t) < 0)
                return log_oom(), 0;
        for (size_t i = 0; i < n; i++) {
                char rank[24], id[24], score[32];
                snprintf(rank, sizeof(rank), "%zu", i + 1);
                snprintf(id, sizeof(id), "%" PRIu64, rows[i].id);
                snprintf(score, sizeof(score), "%.3f", rows[i].score);
                const char *cells[] = {rank, id, score, rows[i].label, rows[i].top_tags, rows[i].url};
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
                               "GetPredictions", &error, &reply, "u", run);
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
        _cleanup_free_ char *tags = strdup("");
        int r;

        for (int i = 1; tags && i < argc; i++) {
                char *t;
                if (asprintf(&t, "%s%s%s", tags, i > 1 ? " " : "", argv[i]) < 0)
                        return log_oom();
                free(tags);
                tags = t;
        }
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
