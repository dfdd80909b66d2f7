/* SPDX-License-Identifier: MIT */
#pragma once

/* fluffctl: options shared by every verb, the verbs, and typed views of the
 * daemon's objects. */

#include <signal.h>
#include <systemd/sd-bus.h>

#include "explain.h"
#include "fluff/util.h"

extern bool arg_json;
extern bool arg_quiet;
extern bool arg_no_wait;
extern bool arg_remember;
extern bool arg_forget;
extern bool arg_interactive; /* review --interactive */
extern char *arg_html;       /* --html FILE */
/* Set by Ctrl-C: the command then exits 130, whatever it returns. */
extern volatile sig_atomic_t arg_interrupted;

/* The exit status, documented once here, in "fluffctl --help" and in
 * fluffctl(1): 0 success, 1 failure, 2 wrong usage, 75 nothing can be done
 * until the user acts (EX_TEMPFAIL), 130 interrupted by Ctrl-C (128 + SIGINT). */
#define EXIT_USAGE 2
#define EXIT_TEMPFAIL 75
#define EXIT_INTERRUPTED 130
/* A verb's negative return → the exit status (not logged in, no model and
 * busy are 75 for every command). */
int exit_status_of(int r);

typedef struct ManagerInfo {
        char *version, *site, *username;
        bool logged_in, busy;
        uint64_t liked, disliked, images, skipped, failed, conflicts, posts;
        uint64_t outbox_pending, outbox_sent, outbox_failed;
        char *outbox_last_error;
        char **jobs;
        char *backbone_id, *backbone_info, *vk_device, *vk_device_type;
        uint64_t embedded;
        char *model_info; /* ModelInfo: JSON, "" without a model */
        bool has_model;
} ManagerInfo;

typedef struct JobInfo {
        char *path;
        uint64_t id;
        char *kind, *state, *phase, *message, *error_name, *error;
        uint64_t done, total;
        uint64_t created_usec, finished_usec;
} JobInfo;

int manager_info_get(sd_bus *bus, ManagerInfo *ret);
void manager_info_done(ManagerInfo *i);
int job_info_get(sd_bus *bus, const char *path, JobInfo *ret);
void job_info_done(JobInfo *i);
extern const struct BusPropertyMap job_info_map[];
bool job_info_finished(const JobInfo *i);
/* The documented job object: {id, kind, state, phase, done, total, message,
 * error_name, error, created_usec, finished_usec, path}. */
struct json_object *job_info_json(const JobInfo *j);
void job_info_print_json(const JobInfo *j);

int verb_status(int argc, char *argv[], sd_bus *bus);
int verb_login(int argc, char *argv[], sd_bus *bus);
int verb_logout(int argc, char *argv[], sd_bus *bus);
int verb_sync(int argc, char *argv[], sd_bus *bus);
int verb_jobs(int argc, char *argv[], sd_bus *bus);
int verb_cancel(int argc, char *argv[], sd_bus *bus);
/* The backbone's part of "status". */
struct json_object;
void backbone_status_print(const ManagerInfo *m);
void backbone_status_json(const ManagerInfo *m, struct json_object *o);
int verb_backbone(int argc, char *argv[], sd_bus *bus);
int verb_embed(int argc, char *argv[], sd_bus *bus);
/* The taste model: "train", and its part of "status". */
extern uint64_t arg_time_s; /* --time; 0: the daemon's default */
/* Sets arg_time_s from "90s", "10m", "2h"; logs and returns -EINVAL when it is
 * not a duration or outside 5 s…24 h. */
int parse_time_arg(const char *s);
extern const char *arg_towers; /* --towers; NULL: the daemon's default ("both") */
int parse_towers_arg(const char *s);
int verb_train(int argc, char *argv[], sd_bus *bus);
void model_status_print(const ManagerInfo *m);
void model_status_json(const ManagerInfo *m, struct json_object *o);

/* Calls a Manager method that answers with a job (with path_arg as its one
 * "s" argument, else an empty a{sv}) and follows the job with the progress
 * line until it ends, unless --no-wait. */
int job_call_and_wait(sd_bus *bus, const char *method, const char *what, const char *path_arg);

/* The same with a method call the caller built (its arguments set). */
int job_call_message_and_wait(sd_bus *bus, sd_bus_message *call, const char *what);
/* A post id, or a post's address (…/posts/ID) → the id; -EINVAL otherwise. */
int parse_post_ref(const char *arg, uint64_t *ret);
int verb_like(int argc, char *argv[], sd_bus *bus);
int verb_dislike(int argc, char *argv[], sd_bus *bus);
int verb_unvote(int argc, char *argv[], sd_bus *bus);
/* A verb returns this for wrong usage it finds itself (exit status 2). */
#define VERB_USAGE_ERROR (-EDOM)
/* A verb returns this when there is nothing to do until the user acts (not
 * logged in, no model, already running): exit status 75, EX_TEMPFAIL. */
#define VERB_TEMPFAIL (-EREMCHG)

/* "3", "job/3" or a full object path → the job's object path. */
int job_path_from_arg(const char *arg, char **ret);

/* Prediction: "predict TAGS...", "predictions", and the contact sheet. */
extern unsigned arg_count; /* --count; 0: the daemon's default */
extern char *arg_sheet;    /* --sheet FILE */
int parse_count_arg(const char *s);
int verb_predict(int argc, char *argv[], sd_bus *bus);
int verb_predictions(int argc, char *argv[], sd_bus *bus);
/* A row of a(tdssss), as GetPredictions, NewPredictions and Review carry them,
 * or of a(tdssssa{sv}) (GetPredictions2, NewPredictions2) with its explanation. */
typedef struct Prediction {
        uint64_t id;
        double score;
        const char *label, *top_tags, *image, *url; /* borrowed from the message */
        Explanation why;                            /* .present false: none sent */
} Prediction;
/* Reads the a(tdssss) or a(tdssssa{sv}) at the message's position. */
int prediction_rows_read(sd_bus_message *m, Prediction **ret, size_t *ret_n);
/* The table (a header line, one line per post); returns the likely likes. */
size_t prediction_rows_print(const Prediction *rows, size_t n, const char *label_header);
struct json_object *prediction_rows_json(const Prediction *rows, size_t n);
/* That array of {rank, id, score, label, top_tags: [{tag, push}], image, url,
 * explanation: {logit, bias, image, tags, calibration, tags_up: [{tag, push}],
 * tags_down: [...]} or null} on standard output. */
void prediction_rows_print_json(const Prediction *rows, size_t n);

/* Watches: "watch add|list|remove|run". */
extern double arg_threshold; /* --threshold; NAN: the daemon's default */
extern unsigned arg_max;     /* --max; 0: the daemon's default */
int parse_threshold_arg(const char *s);
int parse_max_arg(const char *s);
int verb_watch(int argc, char *argv[], sd_bus *bus);
/* What a sheet or page says above the posts. */
typedef struct RunHeading {
        const char *query; /* the search */
        char date[32];     /* when drawn, local time */
        char model[160];   /* "trained …, ROC AUC …, tags + small CNN" or "no model" */
        double threshold;  /* the model's like threshold; NAN without a model */
} RunHeading;
/* Fills h from the daemon's model info. */
int run_heading_get(sd_bus *bus, const char *query, RunHeading *ret);
/* The contact sheet, written by libvips (the format from out's suffix, e.g.
 * .png): the heading, then a tile per post in rank order with a frame in its
 * label's colour, rank, score and id; the last row centred, no empty cells. */
int contact_sheet_write(const char *out, const RunHeading *h, const Prediction *rows, size_t n);
/* A self-contained HTML page of the posts (thumbnails inlined as data: URIs,
 * each linking to its post, with score, label and top tags). */
int html_page_write(const char *out, const RunHeading *h, const Prediction *rows, size_t n);

/* "review": the unvoted predicted posts the model is least sure about. */
int verb_review(int argc, char *argv[], sd_bus *bus);
/* --interactive: each post drawn in the terminal (libchafa), one key each:
 * l like, d dislike, s/space skip, o open, q quit (Ctrl-C: exit 130). */
int review_interactive(sd_bus *bus, const Prediction *rows, size_t n);

/* The model history ("model list|show|use|remove"), "refresh" (what
 * fluff-watch.service runs) and their part of "status" (model.c). */
extern bool arg_install; /* train --install */
int verb_model(int argc, char *argv[], sd_bus *bus);
int verb_refresh(int argc, char *argv[], sd_bus *bus);
/* The newest model of the history: its description (ModelInfo's JSON). */
int newest_model_info(sd_bus *bus, char **ret);
void refresh_status_print(sd_bus *bus);
void refresh_status_json(sd_bus *bus, struct json_object *o);
