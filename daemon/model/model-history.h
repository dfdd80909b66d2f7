/* SPDX-License-Identifier: MIT */
#pragma once

/* The model history on disk, under fluffd's models folder:
 *
 *   models/taste.safetensors             the installed model (what Predict and
 *                                        the watches load), a hard link to (or
 *                                        a copy of) one file of the history
 *   models/history/<id>.safetensors      every kept model; id is the store's
 *                                        (store_model_add) and names the file
 *
 * A training writes its file to model_history_new_path() first, the daemon
 * records it in the store and then renames it to its id
 * (model_history_adopt). Installing replaces taste.safetensors by one
 * rename, so a crash or a kill at any point leaves either the old or the new
 * model installed, never half of one; model_history_clean() removes what a
 * killed run left behind. Files only: which model is installed and why is
 * the store's record. Nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fluff/util.h"

#define MODEL_HISTORY_INSTALLED "taste.safetensors"

/* "<models_dir>/history/<id>.safetensors". */
int model_history_path(const char *models_dir, uint64_t id, char **ret);
/* "<models_dir>/" MODEL_HISTORY_INSTALLED. */
int model_history_installed_path(const char *models_dir, char **ret);
/* A fresh name for a training to write to, "<models_dir>/history/new-XXXXXX.safetensors",
 * created empty (0600) with the history folder (0700) when missing. */
int model_history_new_path(const char *models_dir, char **ret);
/* Renames a file written to a model_history_new_path() name to id's name.
 * -EEXIST when id already has a file. */
int model_history_adopt(const char *models_dir, const char *new_path, uint64_t id);
/* Makes id's file the installed model in one rename (a hard link, or a copy
 * where the file system has none). -ENOENT when id has no file. */
int model_history_install(const char *models_dir, uint64_t id);
/* Deletes id's file; 0 also when it was already gone. */
int model_history_remove(const char *models_dir, uint64_t id);
/* The ids that have a file, ascending (a malloc'ed array, maybe empty; an
 * absent history folder is an empty history). */
int model_history_scan(const char *models_dir, uint64_t **ret_ids, size_t *ret_n);
/* Removes every file of the history folder that is neither the file of an id
 * in keep nor anything this module does not name (leftovers of a killed
 * training or install: new-*, *.tmp.*). Returns the number removed (≥ 0). */
int model_history_clean(const char *models_dir, const uint64_t *keep, size_t n_keep);

/* Whether a freshly trained model is installed:
 *   force (train --install)                        → installed
 *   ablation (a --towers training)                 → aside
 *   no installed model, or its AUC unknown         → installed
 *   new_auc below current_auc − margin, or unknown → aside
 *   otherwise                                      → installed
 * Returns 1 (install) or 0 (keep aside: *ret_reason, when not NULL, gets a
 * sentence for `fluffctl status` saying why); -EINVAL for a margin outside 0…1. */
int model_history_decide(double new_auc, double current_auc, double margin, bool ablation, bool force,
                         char **ret_reason);

/* Whether a model's recorded description (model_describe_json()) carries a
 * cross-validated quality. Only numbers of the same kind are weighed by
 * model_history_decide(): a validation split's ROC AUC is optimistic against
 * a cross-validated one (0.874 against 0.837 on the same posts). */
bool model_history_info_cross_validated(const char *info);
