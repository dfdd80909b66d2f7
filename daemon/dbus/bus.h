/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the files of dbus/: the server, the handlers the one Manager
 * vtable (manager.c) lists, and the announcements. Each feature's handlers
 * sit in a file of their own (vote.c, predict.c, ...), a few lines each. */

#include <systemd/sd-bus.h>

#include "dbus/server.h"
#include "fluff/bus.h"
#include "fluff/error.h"
#include "predict/predict.h"
#include "vote/vote.h"

typedef struct Job Job;
typedef struct PredictionRow PredictionRow;

struct BusServer {
        BusFeatures f;
        Predictor predictor; /* f's core, backbone and taste model: what Predict and RunWatches hand their
                                job */
        Voter voter;         /* f's core and outbox: what Vote records with */
        sd_bus *bus;         /* owned */
        sd_bus_slot *manager_slot, *job_slot, *job_enum_slot; /* owned */
        sd_bus_slot *filter_slot;                             /* owned */
};

/* The one caller check: a filter ahead of every method call to fluffd's
 * interfaces refuses callers that are not our own user (the session bus is
 * per user, but a misconfigured or shared bus must not hand out the dataset). */
int bus_caller_filter(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

/* A feature's refusal as the bus error its errno names. */
int bus_error_from(sd_bus_error *error, int r, const Error *e);
/* A method whose one argument is an id ("t") and whose reply is empty: f
 * does the work, its refusal becomes the bus error. */
int bus_method_on_id(sd_bus_message *m, BusServer *s, int (*f)(BusServer *s, uint64_t id, Error *e),
                     sd_bus_error *error);
/* Replies with the new job's path, then starts it (in that order, so the
 * caller knows the path before the first change). */
int bus_reply_job(sd_bus_message *m, Job *j);

/* Reads an "s" argument that must be an absolute path (the daemon's working
 * directory is not the caller's): InvalidArgument naming what it is. */
int bus_read_absolute_path(sd_bus_message *m, const char *what, const char **ret, sd_bus_error *error);
/* A "how many" argument: 0 means def; above max InvalidArgs. */
int bus_check_count(uint32_t *count, unsigned def, unsigned max, sd_bus_error *error);

/* "/io/github/fluffml/Fluff1/job/N" */
#define BUS_JOB_PATH_MAX (sizeof(FLUFF_BUS_JOB_PREFIX) + 21)
const char *bus_job_path(const Job *j, char buf[static BUS_JOB_PATH_MAX]);

int bus_job_register(BusServer *s);
int bus_job_subscribe(BusServer *s);
int bus_manager_register(BusServer *s);
int bus_manager_subscribe(BusServer *s);

/* Appends one a(tdssss) row set (post id, probability, label, top tags, image,
 * URL), or with explained a(tdssssa{sv}): the same and the explanation, whose
 * keys are logit, bias, image, tags (d: logit = bias + image + tags),
 * calibration (s: "none" or "platt": score = σ(logit); "isotonic": score is
 * the calibrator's monotone map of logit), tags_up and tags_down (a(sd): the
 * tags that pushed most towards like, towards dislike, strongest first). An
 * empty a{sv} for a row scored before explanations. */
int bus_append_prediction_rows(BusServer *s, sd_bus_message *m, const PredictionRow *rows, size_t n,
                               bool explained);
/* The query checks of Predict and AddWatch: normalised into *ret, or an
 * InvalidArgs error in words. */
int bus_normalise_tags(const char *tags, char **ret, sd_bus_error *error);

/* The Manager's methods and properties, by feature (listed in manager.c's vtable). */
int method_login(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_logout(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_sync(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_vote(sd_bus_message *m, void *userdata, sd_bus_error *error);
int property_get_outbox(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error);
int method_import_backbone(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_import_backbone_fd(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_classify_image(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_classify_image_fd(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_embed(sd_bus_message *m, void *userdata, sd_bus_error *error);
int property_get_backbone(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error);
int method_train(sd_bus_message *m, void *userdata, sd_bus_error *error);
int property_get_model_info(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error);
int property_get_has_model(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error);
int method_predict(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_get_predictions(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_get_predictions2(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_add_watch(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_remove_watch(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_list_watches(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_run_watches(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_review(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_review2(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_list_models(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_use_model(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_remove_model(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_auto_retrain(sd_bus_message *m, void *userdata, sd_bus_error *error);
int method_refresh_info(sd_bus_message *m, void *userdata, sd_bus_error *error);
