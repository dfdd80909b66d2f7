/* SPDX-License-Identifier: MIT */
#pragma once

/* Square crops of downloaded images with libvips.
 *
 * Every function here is safe to call from worker threads at the same time:
 * libvips is initialised once (images_init(), also called implicitly) and each
 * call keeps its own vips objects. Nothing here touches the store or the bus. */

#include <stdbool.h>
#include <stdint.h>

#include "fluff/util.h"

typedef enum CropMode {
        CROP_CENTRE,    /* the middle square: cheap and predictable (default) */
        CROP_ATTENTION, /* libvips' saliency search: slower, follows the subject */
        _CROP_MODE_MAX,
        _CROP_MODE_INVALID = -EINVAL,
} CropMode;

/* "centre" / "attention"; from_string also accepts "center". */
const char *crop_mode_to_string(CropMode m);
CropMode crop_mode_from_string(const char *s);

typedef struct ImageLimits {
        uint64_t max_bytes;  /* encoded size of the downloaded file */
        uint64_t max_pixels; /* width × height declared in the header, checked before decoding */
} ImageLimits;

#define IMAGE_MAX_BYTES_DEFAULT (UINT64_C(50) * 1024 * 1024)
#define IMAGE_MAX_PIXELS_DEFAULT (UINT64_C(64) * 1000 * 1000)
#define IMAGE_LIMITS_DEFAULT ((ImageLimits){IMAGE_MAX_BYTES_DEFAULT, IMAGE_MAX_PIXELS_DEFAULT})

#define IMAGE_SIZE_MIN 16u
#define IMAGE_SIZE_MAX 4096u

typedef enum ImageType {
        IMAGE_TYPE_JPEG,
        IMAGE_TYPE_PNG,
        IMAGE_TYPE_GIF,
        IMAGE_TYPE_WEBP,
        _IMAGE_TYPE_MAX,
        _IMAGE_TYPE_INVALID = -EINVAL,
} ImageType;

const char *image_type_to_string(ImageType t); /* "jpeg", "png", "gif", "webp" */

/* The type from the first bytes (magic numbers), never from a file name or a
 * Content-Type. -EMEDIUMTYPE when it is none of the four. */
ImageType image_sniff(const void *data, size_t size);

/* Starts libvips once per process; later calls return the first result.
 * Returns -EIO (with a log line at error level) when libvips cannot start.
 * image_crop_square() calls it itself. */
int images_init(void);

/* A worker thread that used libvips calls this before it exits, so libvips
 * frees what it keeps per thread. Harmless when libvips was never used. */
void images_thread_exit(void);

/* Decodes data (a JPEG, PNG, GIF or WebP in memory), crops it to a square
 * (mode), resizes it to out_size × out_size, flattens any alpha onto white and
 * writes a baseline JPEG (quality 90, no metadata) to out_path through a
 * temporary file in the same folder, fsync and rename: out_path is either
 * absent or a complete image, never a partial one.
 *
 * Checked before decoding: the bytes are one of the four types, size ≤
 * limits->max_bytes (NULL: IMAGE_LIMITS_DEFAULT), the header's width × height
 * ≤ limits->max_pixels. Truncated or corrupt data fails (libvips "fail on
 * error"), it is never saved half grey.
 *
 * Returns 0, or a negative errno and, when ret_reason is not NULL, a sentence
 * for a person (owned by the caller; never the image bytes):
 *   -EMEDIUMTYPE  not an image of a supported type (also: empty buffer)
 *   -EFBIG        over the byte or pixel limit
 *   -EBADMSG      corrupt or truncated image data
 *   -EINVAL       bad arguments (out_size outside IMAGE_SIZE_MIN..MAX, ...)
 *   -ENOSPC, -EDQUOT, -EIO, -EACCES, -ENOENT, ...  writing out_path failed
 *   -ENOMEM       out of memory
 * No log lines above debug level: the caller decides. */
int image_crop_square(const void *data, size_t size, unsigned out_size, CropMode mode,
                      const ImageLimits *limits, const char *out_path, char **ret_reason);

/* The checks image_crop_square() makes before decoding: one of the four
 * types by its magic bytes, at most limits->max_bytes, and a header whose
 * width × height is at most limits->max_pixels. 0 or the errors above. */
int image_check_header(const void *data, size_t size, const ImageLimits *limits, char **ret_reason);

/* Reads an image a caller opened: fd must be a regular file (-EBADF for a
 * FIFO, socket or device, which could block or never end), read from its
 * start, at most limits->max_bytes (-EFBIG), and pass image_check_header().
 * *ret_data is malloc'd. */
int image_read_fd(int fd, const ImageLimits *limits, void **ret_data, size_t *ret_size, char **ret_reason);

/* Same as image_crop_square(), reading the input from a file (opened without
 * blocking; a regular file only, at most limits->max_bytes). */
int image_crop_square_file(const char *in_path, unsigned out_size, CropMode mode, const ImageLimits *limits,
                           const char *out_path, char **ret_reason);

/* Whether path already holds a usable crop: a JPEG whose header says
 * size × size (only the header is read, so this is cheap enough to ask before
 * every download). 0 yes; -ENOENT no file; -EBADMSG something else is there
 * (wrong size, not a JPEG, unreadable header). Lets a sync killed between
 * writing a crop and recording it adopt the file instead of downloading again. */
int image_check_crop(const char *path, unsigned size);

/* Deletes the temporary files a killed process left in dir (named
 * "<32 hex>.jpg.tmp.XXXXXX" by image_crop_square), so no partial file stays
 * under images/. Call it before a sync starts writing crops there. Nothing
 * else is touched. Returns the number removed; a missing dir counts as 0. */
int images_remove_temporaries(const char *dir);

/* True for failures worth retrying on a later sync (disk full, I/O error, out
 * of memory); false for failures of the data itself (corrupt, too big, not an
 * image), which would fail the same way again. */
bool image_error_is_transient(int r);

/* "<dir>/<md5>.jpg" after checking md5 is 32 lowercase hex digits: the md5
 * comes from the network and must never smuggle a "/" or ".." into a path.
 * -EINVAL for anything else. */
int image_path_for_md5(const char *dir, const char *md5, char **ret);
