/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <sys/stat.h>

#include "config.h"
#include "images.h"
#include "store.h"
#include "vote/vote.h"

/* A crop is a few dozen kilobytes; anything far larger is not ours. */
#define CROP_MAX_BYTES (UINT64_C(64) * 1024 * 1024)

int vote_adopt_crop(const Voter *d, uint64_t post_id)
{
        _cleanup_post_free_ Post *p = NULL;
        _cleanup_strv_free_ char **paths = NULL;
        _cleanup_free_ char *cache = NULL, *dst = NULL;
        unsigned size = d->config->image_size;
        struct stat st;
        int r;

        r = store_prediction_images(d->store, post_id, &paths, NULL);
        if (r <= 0)
                return r;
        r = store_post_get(d->store, post_id, &p, NULL);
        if (r < 0)
                return r;
        /* The md5 came from the site: it becomes a path only once checked. */
        r = image_path_for_md5(d->images_dir, p->md5, &dst);
        if (r < 0)
                return log_debug_errno(r, "Post %" PRIu64 " has no usable md5; its crop stays where it is.",
                                       post_id);

        if (image_check_crop(dst, size) >= 0) {
                /* Already in the dataset (or left by a killed sync): kept, and
                 * recorded in case it was not. */
                if (!store_image_is_ok(d->store, p->md5) && stat(dst, &st) >= 0)
                        (void)store_image_ok(d->store, p->md5, post_id, (uint64_t)st.st_size, NULL);
                return 0;
        }
        r = xdg_fluff_dir("CACHE", NULL, &cache);
        if (r < 0)
                return r;
        for (char **src = paths; *src; src++) {
                if (!vote_crop_is_ours(cache, p->md5, *src)) {
                        log_debug("Prediction crop \"%s\" of post %" PRIu64
                                  " is not one Fluff wrote, leaving it.",
                                  *src, post_id);
                        continue;
                }
                /* A crop of another size (the setting changed since) would
                 * not fit the dataset: the next sync fetches a fresh one. */
                r = image_check_crop(*src, size);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        log_debug_errno(r, "Prediction crop \"%s\" does not fit the dataset, leaving it: %m",
                                        *src);
                        continue;
                }
                r = mkdir_parents(d->images_dir, 0700);
                if (r >= 0)
                        r = file_move(*src, dst, CROP_MAX_BYTES);
                if (r < 0)
                        return log_debug_errno(r, "Failed to move \"%s\" to \"%s\": %m", *src, dst);
                if (stat(dst, &st) < 0)
                        return -errno;
                r = store_begin(d->store, NULL);
                if (r < 0)
                        return r;
                r = store_image_ok(d->store, p->md5, post_id, (uint64_t)st.st_size, NULL);
                if (r >= 0)
                        r = store_prediction_set_image(d->store, post_id, dst, NULL);
                if (r >= 0)
                        r = store_commit(d->store, NULL);
                if (r < 0) {
                        (void)store_rollback(d->store, NULL);
                        return r;
                }
                log_debug("Moved the crop of post %" PRIu64 " into the dataset: \"%s\".", post_id, dst);
                return 1;
        }
        return 0;
}
