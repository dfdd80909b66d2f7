/* SPDX-License-Identifier: MIT */
/* Loads fluffctl-images.so (see images/images.h) the first time a command
 * draws: beside the fluffctl of a build tree, or where the install puts it
 * relative to the installed fluffctl, so a prefix chosen at install time
 * (cmake --install --prefix) works too. */
#include <dlfcn.h>
#include <limits.h>

#include "fluff/util.h"
#include "images/images.h"

#define MODULE_NAME "fluffctl-images.so"

static const ImagesModule *module_check(void *handle, const char *path)
{
        const ImagesModule *m = dlsym(handle, FLUFFCTL_IMAGES_SYMBOL);
        if (!m) {
                log_error("%s is not fluffctl's image module: %s", path, dlerror());
                return NULL;
        }
        if (!streq(m->stamp, FLUFFCTL_IMAGES_STAMP) || m->prediction_size != sizeof(Prediction) ||
            m->heading_size != sizeof(RunHeading)) {
                log_error("%s is from another build of Fluff (%s, this fluffctl is %s); reinstall Fluff.",
                          path, m->stamp, FLUFFCTL_IMAGES_STAMP);
                return NULL;
        }
        return m;
}

static const ImagesModule *images_module(void)
{
        static const ImagesModule *module;
        static bool tried;
        char exe[PATH_MAX];

        if (tried)
                return module;
        tried = true;

        ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (k <= 0) {
                log_error_errno(k < 0 ? -errno : -ENOENT, "Failed to find fluffctl's own path: %m");
                return NULL;
        }
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash)
                *slash = 0;

        const char *dirs[] = {FLUFFCTL_IMAGES_RELDIR, "."};
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s/%s", exe, dirs[i], MODULE_NAME) < 0) {
                        log_oom();
                        return NULL;
                }
                if (access(path, F_OK) < 0)
                        continue;
                /* RTLD_NOW: a symbol fluffctl lacks fails here, with its
                 * name, not halfway through drawing. */
                void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
                if (!handle) {
                        log_error("Failed to load %s: %s", path, dlerror());
                        return NULL;
                }
                module = module_check(handle, path);
                return module;
        }
        log_error("%s is missing (looked beside %s and in %s/%s); reinstall Fluff.", MODULE_NAME, exe, exe,
                  FLUFFCTL_IMAGES_RELDIR);
        return NULL;
}

int contact_sheet_write(const char *out, const RunHeading *h, const Prediction *rows, size_t n)
{
        const ImagesModule *m = images_module();
        return m ? m->contact_sheet_write(out, h, rows, n) : -ELIBACC;
}

int html_page_write(const char *out, const RunHeading *h, const Prediction *rows, size_t n)
{
        const ImagesModule *m = images_module();
        return m ? m->html_page_write(out, h, rows, n) : -ELIBACC;
}

int review_interactive(sd_bus *bus, const Prediction *rows, size_t n)
{
        const ImagesModule *m = images_module();
        return m ? m->review_interactive(bus, rows, n) : -ELIBACC;
}
