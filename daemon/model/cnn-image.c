/* SPDX-License-Identifier: MIT */
/* util.h first: glib #undefs and redefines MIN/MAX, the other order warns */
#include "cnn.h"

#include <vips/vips.h>
#include <vips/vector.h>

static void g_object_unrefp(VipsImage **p)
{
        if (*p)
                g_object_unref(*p);
}

static int load_one(const char *path, uint32_t size, uint8_t *ret_rgb)
{
        _cleanup_(g_object_unrefp) VipsImage *thumb = NULL, *srgb = NULL, *rgb = NULL, *u8 = NULL;
        size_t bytes;

        if (vips_thumbnail(path, &thumb, (int)size, "height", (int)size, "crop", VIPS_INTERESTING_CENTRE,
                           "size", VIPS_SIZE_BOTH, "fail_on", VIPS_FAIL_ON_ERROR, NULL) != 0 ||
            vips_colourspace(thumb, &srgb, VIPS_INTERPRETATION_sRGB, NULL) != 0 ||
            vips_extract_band(srgb, &rgb, 0, "n", 3, NULL) != 0 || vips_cast_uchar(rgb, &u8, NULL) != 0) {
                log_debug("Cannot decode \"%s\": %s", path, vips_error_buffer());
                vips_error_clear();
                return access(path, F_OK) < 0 ? -errno : -EBADMSG;
        }
        if (u8->Xsize != (int)size || u8->Ysize != (int)size)
                return log_debug_errno(EBADMSG, "Image \"%s\" came out %dx%d", path, u8->Xsize, u8->Ysize);
        _cleanup_free_ uint8_t *mem = vips_image_write_to_memory(u8, &bytes);
        if (!mem || bytes != (size_t)size * size * 3) {
                vips_error_clear();
                return log_debug_errno(EIO, "Cannot read the pixels of \"%s\"", path);
        }
        memcpy(ret_rgb, mem, bytes);
        return 0;
}

int cnn_images_load(const char *const *paths, size_t n, uint32_t size, uint8_t *rgb, int *status)
{
        size_t sz = (size_t)size * size * 3;

        if (size == 0 || size > CNN_INPUT_MAX)
                return -EINVAL;
        /* idempotent; the daemon may already have started vips */
        if (VIPS_INIT("fluff") != 0)
                return log_debug_errno(EIO, "Cannot start libvips: %s", vips_error_buffer());
        /* as daemon/images: no liborc code generation, no operation cache
         * (crops are replaced under the same name) */
        vips_vector_set_enabled(FALSE);
        vips_cache_set_max(0);
        for (size_t i = 0; i < n; i++) {
                status[i] = paths[i] ? load_one(paths[i], size, rgb + i * sz) : -ENOENT;
                if (status[i] < 0)
                        memset(rgb + i * sz, 0, sz);
        }
        return 0;
}
