/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <time.h>

#include "bus-util.h"
#include "ctl.h"
#include "fluff/bus.h"
#include "output.h"

/* As the daemon checks them (daemon/train/train.h): refused here first, so a
 * typo is a usage error (exit 2) rather than a failed call. */
#define TIME_MIN_S 5u
#define TIME_MAX_S (24u * 3600u)

uint64_t arg_time_s;
const char *arg_towers;
bool arg_install;

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

int parse_time_arg(const char *s)
{
        uint64_t v;

        if (parse_duration_s(s, &v) < 0) {
                log_error("Invalid --time \"%s\": give a duration such as 90s, 10m or 2h.", s);
                return -EINVAL;
        }
        if (v < TIME_MIN_S || v > TIME_MAX_S) {
                log_error("--time \"%s\" is out of range: give 5s to 24h.", s);
                return -EINVAL;
        }
        arg_time_s = v;
        return 0;
}

int parse_towers_arg(const char *s)
{
        if (!streq(s, "both") && !streq(s, "tags") && !streq(s, "image")) {
                log_error("Invalid --towers \"%s\": give both, tags or image.", s);
                return -EINVAL;
        }
        arg_towers = s;
        return 0;
}

static double get_double(json_object *o, const char *key)
{
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !v)
                return NAN;
        return json_object_get_double(v);
}

static int64_t get_int(json_object *o, const char *key)
{
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !v)
                return 0;
        return json_object_get_int64(v);
}

static const char *get_string(json_object *o, const char *key)
{
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !v || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static json_object *parse_info(const ManagerInfo *m)
{
        if (!m->has_model || isempty(m->model_info))
                return NULL;
        json_object *o = json_tokener_parse(m->model_info);
        if (o && !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static const char *model_source(json_object *o, char *buf, size_t size)
{
        const char *bb = get_string(o, "backbone"), *towers = get_string(o, "towers");
        const char *tower = get_string(o, "image_tower");
        bool cnn = isempty(bb) && tower && streq(tower, "small CNN from scratch");
        if (isempty(bb) && !cnn)
                return "tags only (no image backbone)";
        if (towers && streq(towers, "tags"))
                return "tags only (image tower not used)";
        if (cnn)
                return towers && streq(towers, "image") ? "small CNN only (no backbone, tags not used)"
                                                        : "tags + small CNN (no backbone)";
        json_object *ft = json_object_object_get(o, "finetune");
        snprintf(buf, size, "image backbone %.12s %s%s", bb,
                 towers && streq(towers, "image") ? "only (tags not used)" : "+ tags",
                 ft && json_object_is_type(ft, json_type_object) ? ", top layer fine-tuned" : "");
        return buf;
}

/* "0.712 [0.680, 0.741]": a number and its 95 % bootstrap interval, when it has one. */
static const char *with_ci(json_object *s, const char *key, char *buf, size_t size)
{
        char ci_key[64];
        json_object *ci;
        snprintf(ci_key, sizeof(ci_key), "%s_ci", key);
        ci = s ? json_object_object_get(s, ci_key) : NULL;
        if (!s || !json_object_object_get(s, key))
                snprintf(buf, size, "—");
        else if (ci && json_object_is_type(ci, json_type_array) && json_object_array_length(ci) == 2)
                snprintf(buf, size, "%.3f [%.3f, %.3f]", get_double(s, key),
                         json_object_get_double(json_object_array_get_idx(ci, 0)),
                         json_object_get_double(json_object_array_get_idx(ci, 1)));
        else
                snprintf(buf, size, "%.3f", get_double(s, key));
        return buf;
}

/* The cross-validated numbers of the model beside the tags-only baseline's
 * (daemon/model/quality.h), and the calibration. */
static void print_quality(json_object *q)
{
        json_object *cv = json_object_object_get(q, "cv"), *tm = json_object_object_get(q, "time"),
                    *cal = json_object_object_get(q, "calibration");
        json_object *mo = json_object_object_get(cv, "model"), *bl = json_object_object_get(cv, "baseline");
        char a[64], b[64];

        printf("ROC AUC:            %.3f (pooled out of fold; the table below has the baseline)\n",
               get_double(json_object_object_get(cv, "model"), "roc_auc"));
        printf("Cross-validated:    %" PRId64 "-fold, pooled over %" PRId64 " posts (%" PRId64
               " liked, %" PRId64 " disliked); towers combined: %s\n",
               get_int(q, "folds"), get_int(q, "n"), get_int(q, "n_pos"), get_int(q, "n_neg"),
               strna(get_string(q, "combination")));
        printf("                    %-26s %s\n", "model", "tags-only baseline");
        printf("  ROC AUC:          %-26s %s\n", with_ci(mo, "roc_auc", a, sizeof(a)),
               with_ci(bl, "roc_auc", b, sizeof(b)));
        printf("  PR AUC:           %-26s %s\n", with_ci(mo, "pr_auc", a, sizeof(a)),
               with_ci(bl, "pr_auc", b, sizeof(b)));
        printf("  Brier score:      %-26s %s\n", with_ci(mo, "brier", a, sizeof(a)),
               with_ci(bl, "brier", b, sizeof(b)));
        for (int k = 10; k <= 50; k += 40) {
                char key[8];
                json_object *pm = json_object_object_get(mo, "precision_at"),
                            *pb = json_object_object_get(bl, "precision_at");
                snprintf(key, sizeof(key), "%d", k);
                if (!json_object_object_get(pm, key))
                        continue; /* only where k ≤ a quarter of the posts */
                printf("  Precision@%d:     %-26s %s\n", k, with_ci(pm, key, a, sizeof(a)),
                       with_ci(pb, key, b, sizeof(b)));
        }
        if (tm)
                printf("  Newest %" PRId64 " posts  %-26s %s   (ROC AUC, trained on the %" PRId64
                       " older)\n",
                       get_int(tm, "n_test"),
                       with_ci(json_object_object_get(tm, "model"), "roc_auc", a, sizeof(a)),
                       with_ci(json_object_object_get(tm, "baseline"), "roc_auc", b, sizeof(b)),
                       get_int(tm, "n_train"));
        json_object *towers = json_object_object_get(cv, "towers");
        json_object_object_foreach(towers, name, s)
                printf("  Tower %-11s %s ROC AUC alone\n", name, with_ci(s, "roc_auc", a, sizeof(a)));
        if (cal) {
                printf("Score:              P(like), calibrated (%s); like at 0.5 and above; Brier %.3f, "
                       "calibration error %.3f",
                       strna(get_string(cal, "method")), get_double(cal, "brier"), get_double(cal, "ece"));
                /* the floor: what sampling noise alone gives on this many posts */
                if (json_object_object_get(cal, "ece_floor"))
                        printf(" (out of fold, %" PRId64 " bins; noise alone gives %.3f)",
                               get_int(cal, "ece_bins"), get_double(cal, "ece_floor"));
                printf("\n");
                json_object *bins = json_object_object_get(cal, "bins");
                printf("  Reliability:      ");
                for (size_t i = 0; bins && i < json_object_array_length(bins); i++) {
                        json_object *e = json_object_array_get_idx(bins, i);
                        if (get_int(e, "n") > 0)
                                printf("%.1f–%.1f: %.2f liked (%" PRId64 ")%s", get_double(e, "lo"),
                                       get_double(e, "hi"), get_double(e, "frac_like"), get_int(e, "n"),
                                       i + 1 < json_object_array_length(bins) ? "; " : "");
                }
                printf("\n");
        }
        json_object *st = json_object_object_get(q, "stability");
        if (st && json_object_is_type(st, json_type_object))
                printf("Stability:          %.1f %% of %" PRId64 " labelled posts change label against the "
                       "model installed before (trained %s)\n",
                       100 * get_double(st, "flip_rate"), get_int(st, "posts"),
                       strna(get_string(st, "against")));
}

int run_heading_get(sd_bus *bus, const char *query, RunHeading *ret)
{
        ManagerInfo m = {};
        char buf[96];
        time_t now = time(NULL);
        struct tm tm;
        int r;

        *ret = (RunHeading){.query = query, .threshold = NAN};
        if (localtime_r(&now, &tm))
                strftime(ret->date, sizeof(ret->date), "%Y-%m-%d %H:%M", &tm);
        r = manager_info_get(bus, &m);
        if (r < 0)
                return r;
        _cleanup_(json_object_putp) json_object *o = parse_info(&m);
        if (o) {
                ret->threshold = get_double(o, "threshold");
                json_object *q = json_object_object_get(o, "quality");
                snprintf(ret->model, sizeof(ret->model), "trained %s, %s ROC AUC %.3f, %s",
                         strna(get_string(o, "created")),
                         q && json_object_is_type(q, json_type_object) ? "cross-validated" : "validation",
                         get_double(json_object_object_get(o, "metrics"), "roc_auc"),
                         model_source(o, buf, sizeof(buf)));
        } else
                snprintf(ret->model, sizeof(ret->model), "none");
        manager_info_done(&m);
        return 0;
}

void model_status_print(const ManagerInfo *m)
{
        _cleanup_(json_object_putp) json_object *o = parse_info(m);
        char buf[96];

        if (!o) {
                printf("       Model: none (run \"fluffctl train\")\n");
                return;
        }
        json_object *q = json_object_object_get(o, "quality");
        if (q && json_object_is_type(q, json_type_object)) {
                json_object *cv = json_object_object_get(q, "cv");
                char a[64], b[64];
                printf("       Model: trained %s, %s\n", strna(get_string(o, "created")),
                       model_source(o, buf, sizeof(buf)));
                printf("     Quality: cross-validated ROC AUC %s, tags-only baseline %s; score is P(like)\n",
                       with_ci(json_object_object_get(cv, "model"), "roc_auc", a, sizeof(a)),
                       with_ci(json_object_object_get(cv, "baseline"), "roc_auc", b, sizeof(b)));
                return;
        }
        printf("       Model: trained %s, validation ROC AUC %.3f, %s\n", strna(get_string(o, "created")),
               get_double(json_object_object_get(o, "metrics"), "roc_auc"),
               model_source(o, buf, sizeof(buf)));
}

/* The documented model object: ModelInfo with one threshold (the metrics'
 * copy of it is dropped). */
static json_object *model_json(const ManagerInfo *m)
{
        json_object *info = parse_info(m), *mt;
        if (info && json_object_object_get_ex(info, "metrics", &mt) && mt)
                json_object_object_del(mt, "threshold");
        return info;
}

void model_status_json(const ManagerInfo *m, json_object *o)
{
        json_object_object_add(o, "model", model_json(m));
}

static void print_finetune(json_object *o)
{
        json_object *ft = json_object_object_get(o, "finetune");
        if (ft && json_object_is_type(ft, json_type_object))
                printf("Fine-tuned:         %s, validation ROC AUC %.3f with the head alone, %.3f tuned\n",
                       strna(get_string(ft, "node")), get_double(ft, "auc_head"),
                       get_double(ft, "auc_finetuned"));
}

static void print_metrics(const ManagerInfo *m)
{
        _cleanup_(json_object_putp) json_object *o = model_json(m);
        json_object *mt;
        char buf[96];

        if (!o)
                return;
        if (arg_json) {
                json_print(o);
                return;
        }
        mt = json_object_object_get(o, "metrics");
        printf("Model:              %s\n", model_source(o, buf, sizeof(buf)));
        printf("Trained:            %s\n", strna(get_string(o, "created")));
        json_object *q = json_object_object_get(o, "quality");
        if (q && json_object_is_type(q, json_type_object)) {
                /* the pooled out-of-fold numbers, at the calibrated threshold */
                print_quality(q);
                if (json_object_object_get(o, "cnn_val_auc"))
                        printf("Small CNN alone:    %.3f (validation ROC AUC, image-only)\n",
                               get_double(o, "cnn_val_auc"));
                printf("Accuracy:           %.3f (out of fold, P(like) ≥ %.2f)\n",
                       get_double(mt, "accuracy"), get_double(o, "threshold"));
                printf("Balanced accuracy:  %.3f\n", get_double(mt, "balanced_accuracy"));
                printf("Threshold:          %.3f\n", get_double(o, "threshold"));
                printf("Posts:              %" PRId64 " trained on, every one also scored out of fold\n",
                       get_int(mt, "n_train"));
                printf("Vocabulary:         %" PRId64 " tags\n", get_int(o, "vocabulary_size"));
                print_finetune(o);
                return;
        }
        printf("ROC AUC:            %.3f (validation)\n", get_double(mt, "roc_auc"));
        if (json_object_object_get(o, "cnn_val_auc"))
                printf("Small CNN alone:    %.3f (validation ROC AUC, image-only)\n",
                       get_double(o, "cnn_val_auc"));
        printf("Accuracy:           %.3f\n", get_double(mt, "accuracy"));
        printf("Balanced accuracy:  %.3f\n", get_double(mt, "balanced_accuracy"));
        printf("Precision@10:       %.2f\n", get_double(mt, "precision_at_10"));
        printf("Precision@50:       %.2f\n", get_double(mt, "precision_at_50"));
        printf("Threshold:          %.3f\n", get_double(o, "threshold"));
        printf("Posts:              %" PRId64 " trained on, %" PRId64 " liked + %" PRId64
               " disliked held out for validation\n",
               get_int(mt, "n_train"), get_int(mt, "n_pos"), get_int(mt, "n_neg"));
        printf("Vocabulary:         %" PRId64 " tags\n", get_int(o, "vocabulary_size"));
        print_finetune(o);
}

int verb_train(int argc, char *argv[], sd_bus *bus)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        ManagerInfo m = {};
        int r;

        r = sd_bus_message_new_method_call(bus, &call, FLUFF_BUS_NAME, FLUFF_BUS_PATH,
                                           FLUFF_BUS_MANAGER_IFACE, "Train");
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "{sv}");
        if (r >= 0 && arg_time_s > 0)
                r = sd_bus_message_append(call, "{sv}", "time_budget_s", "t", arg_time_s);
        if (r >= 0 && arg_towers)
                r = sd_bus_message_append(call, "{sv}", "towers", "s", arg_towers);
        if (r >= 0 && arg_install)
                r = sd_bus_message_append(call, "{sv}", "install", "b", 1);
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        if (r < 0)
                return log_error_errno(r, "Failed to build the Train call: %m");
        /* With --json, standard output carries the model's JSON alone. */
        bool quiet = arg_quiet;
        if (arg_json && !arg_no_wait)
                arg_quiet = true;
        r = job_call_message_and_wait(bus, call, "start training");
        arg_quiet = quiet;
        if (r < 0 || arg_no_wait || arg_quiet)
                return r;
        /* Following the job leaves this connection closed: a fresh one reads the model. */
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *info_bus = NULL;
        r = bus_connect_user(&info_bus);
        if (r < 0)
                return r;
        /* the model just trained: the newest of the history, installed or kept aside */
        r = newest_model_info(info_bus, &m.model_info);
        if (r < 0)
                return r;
        m.has_model = true;
        print_metrics(&m);
        manager_info_done(&m);
        return 0;
}
