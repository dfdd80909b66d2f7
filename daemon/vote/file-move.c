/* SPDX-License-Identifier: MIT */
/* The file-system half of moving a crop, kept apart from the daemon so it
 * can be tested alone. */
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <unistd.h>

#include "fluff/util.h"
#include "vote/vote.h"

static int fsync_dir_of(const char *path)
{
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        _cleanup_close_ int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return fsync(fd) < 0 ? -errno : 0;
}

int file_move(const char *src, const char *dst, size_t max_size)
{
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        if (rename(src, dst) >= 0)
                return fsync_dir_of(dst);
        if (errno != EXDEV)
                return -errno;
        /* Another file system (e.g. the cache on tmpfs): the copy must be
         * complete on disk before the original goes. */
        r = read_file_full(src, max_size, &data, &size);
        if (r < 0)
                return r;
        r = write_file_atomic(dst, data, size, 0644);
        if (r < 0)
                return r;
        if (unlink(src) < 0 && errno != ENOENT)
                log_debug_errno(errno, "Failed to delete \"%s\" after copying it, ignoring: %m", src);
        return 0;
}

bool vote_crop_is_ours(const char *cache_dir, const char *md5, const char *path)
{
        static const char *const folders[] = {"predictions", "watches"};
        size_t l = strlen(cache_dir);

        if (!path || !is_hex_digest(md5, 32) || strncmp(path, cache_dir, l) != 0 || path[l] != '/')
                return false;
        path += l + 1;
        for (size_t i = 0; i < ELEMENTSOF(folders); i++) {
                size_t f = strlen(folders[i]);
                if (strncmp(path, folders[i], f) == 0 && path[f] == '/' &&
                    strncmp(path + f + 1, md5, 32) == 0 && streq(path + f + 1 + 32, ".jpg"))
                        return true;
        }
        return false;
}
