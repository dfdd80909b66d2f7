/* SPDX-License-Identifier: MIT */
/* The model history's files (see model-history.h). */
#include <json-c/json.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model-history.h"

#define HISTORY_FILE_MAX (UINT64_C(1) << 31) /* a copy reads the whole file: models are far smaller */

int model_history_path(const char *models_dir, uint64_t id, char **ret)
{
        if (id == 0)
                return -EINVAL;
        return asprintf(ret, "%s/history/%" PRIu64 ".safetensors", models_dir, id) < 0 ? -ENOMEM : 0;
}

int model_history_installed_path(const char *models_dir, char **ret)
{
        return asprintf(ret, "%s/" MODEL_HISTORY_INSTALLED, models_dir) < 0 ? -ENOMEM : 0;
}

static int fsync_dir(const char *dir)
{
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

static int history_dir(const char *models_dir, bool create, char **ret)
{
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/history", models_dir) < 0)
                return -ENOMEM;
        if (create) {
                int r = mkdir_parents(dir, 0700);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(dir);
        return 0;
}

int model_history_new_path(const char *models_dir, char **ret)
{
        _cleanup_free_ char *dir = NULL, *path = NULL;
        int r = history_dir(models_dir, true, &dir);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/new-XXXXXX.safetensors", dir) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = mkostemps(path, strlen(".safetensors"), O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret = TAKE_PTR(path);
        return 0;
}

int model_history_adopt(const char *models_dir, const char *new_path, uint64_t id)
{
        _cleanup_free_ char *path = NULL, *dir = NULL;
        int r = model_history_path(models_dir, id, &path);
        if (r < 0)
                return r;
        r = history_dir(models_dir, false, &dir);
        if (r < 0)
                return r;
        /* link + unlink instead of rename: never replaces another model's file */
        if (link(new_path, path) < 0)
                return -errno;
        (void)unlink(new_path);
        return fsync_dir(dir);
}

static int copy_file(const char *from, const char *to)
{
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int r = read_file_full(from, HISTORY_FILE_MAX, &data, &size);
        if (r < 0)
                return r;
        return write_file_atomic(to, data, size, 0600);
}

int model_history_install(const char *models_dir, uint64_t id)
{
        _cleanup_free_ char *from = NULL, *to = NULL, *tmp = NULL;
        int r;

        r = model_history_path(models_dir, id, &from);
        if (r < 0)
                return r;
        r = model_history_installed_path(models_dir, &to);
        if (r < 0)
                return r;
        if (access(from, F_OK) < 0)
                return -errno;
        if (asprintf(&tmp, "%s.tmp.%" PRIu64 ".%d", to, id, (int)getpid()) < 0)
                return -ENOMEM;
        (void)unlink(tmp);
        if (link(from, tmp) < 0) {
                if (errno != EPERM && errno != EXDEV && errno != EMLINK && errno != ENOTSUP &&
                    errno != EOPNOTSUPP)
                        return -errno;
                /* no hard links here: a copy, itself written atomically */
                return copy_file(from, to);
        }
        if (rename(tmp, to) < 0) {
                r = -errno;
                (void)unlink(tmp);
                return r;
        }
        return fsync_dir(models_dir);
}

int model_history_remove(const char *models_dir, uint64_t id)
{
        _cleanup_free_ char *path = NULL;
        int r = model_history_path(models_dir, id, &path);
        if (r < 0)
                return r;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

/* "<id>.safetensors" → id; 0 for any other name. */
static uint64_t file_id(const char *name)
{
        uint64_t id = 0;
        const char *c = name;

        if (*c < '1' || *c > '9')
                return 0;
        for (; *c >= '0' && *c <= '9'; c++) {
                if (id > (UINT64_MAX - 9) / 10)
                        return 0;
                id = id * 10 + (uint64_t)(*c - '0');
        }
        return streq(c, ".safetensors") ? id : 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_leftover(const char *name)
{
        return has_prefix(name, "new-") || strstr(name, ".tmp.");
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return (x > y) - (x < y);
}

int model_history_scan(const char *models_dir, uint64_t **ret_ids, size_t *ret_n)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_free_ uint64_t *ids = NULL;
        size_t n = 0;
        int r = history_dir(models_dir, false, &dir);
        if (r < 0)
                return r;
        DIR *d = opendir(dir);
        if (!d && errno != ENOENT)
                return -errno;
        for (struct dirent *e; d && (e = readdir(d));) {
                uint64_t id = file_id(e->d_name);
                if (id == 0)
                        continue;
                uint64_t *b = reallocarray(ids, n + 1, sizeof *ids);
                if (!b) {
                        closedir(d);
                        return -ENOMEM;
                }
                ids = b;
                ids[n++] = id;
        }
        if (d)
                closedir(d);
        if (!ids && !(ids = malloc(sizeof *ids)))
                return -ENOMEM;
        qsort(ids, n, sizeof *ids, cmp_u64);
        *ret_ids = TAKE_PTR(ids);
        *ret_n = n;
        return 0;
}

int model_history_clean(const char *models_dir, const uint64_t *keep, size_t n_keep)
{
        _cleanup_free_ char *dir = NULL;
        int r = history_dir(models_dir, false, &dir), removed = 0;
        if (r < 0)
                return r;
        DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        for (struct dirent *e; (e = readdir(d));) {
                uint64_t id = file_id(e->d_name);
                bool kept = false;
                if (id == 0 && !is_leftover(e->d_name))
                        continue; /* not ours to judge */
                for (size_t i = 0; id && i < n_keep; i++)
                        kept = kept || keep[i] == id;
                if (kept)
                        continue;
                if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT) {
                        r = -errno;
                        break;
                }
                removed++;
        }
        closedir(d);
        /* the installed file's own temporary name (an install killed before its rename) */
        if (r >= 0) {
                DIR *m = opendir(models_dir);
                for (struct dirent *e; m && (e = readdir(m));)
                        if (has_prefix(e->d_name, MODEL_HISTORY_INSTALLED ".tmp.") &&
                            unlinkat(dirfd(m), e->d_name, 0) >= 0)
                                removed++;
                if (m)
                        closedir(m);
        }
        return r < 0 ? r : removed;
}

int model_history_decide(double new_auc, double current_auc, double margin, bool ablation, bool force,
                         char **ret_reason)
{
        char *reason = NULL;

        if (!(margin >= 0.0 && margin <= 1.0))
                return -EINVAL;
        if (ret_reason)
                *ret_reason = NULL;
        if (force)
                return 1;
        if (ablation) {
                if (ret_reason &&
                    !(reason = strdup("a training on some towers only is an ablation, kept aside "
                                      "unless installed on purpose")))
                        return -ENOMEM;
        } else if (!isfinite(current_auc))
                return 1;
        else if (!isfinite(new_auc)) {
                if (ret_reason && !(reason = strdup("its cross-validated ROC AUC is unknown")))
                        return -ENOMEM;
        } else if (new_auc < current_auc - margin) {
                if (ret_reason && asprintf(&reason,
                                           "its cross-validated ROC AUC %.3f is worse than the installed "
                                           "model's %.3f by more than %.3f",
                                           new_auc, current_auc, margin) < 0)
                        return -ENOMEM;
        } else
                return 1;
        if (ret_reason)
                *ret_reason = reason;
        return 0;
}

bool model_history_info_cross_validated(const char *info)
{
        json_object *o = info ? json_tokener_parse(info) : NULL, *q = NULL;
        bool r = o && json_object_is_type(o, json_type_object) &&
                 json_object_object_get_ex(o, "quality", &q) && json_object_is_type(q, json_type_object);
        json_object_put(o);
        return r;
}
