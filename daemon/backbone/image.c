/* SPDX-License-Identifier: MIT */
/* util.h first: glib #undefs and redefines MIN/MAX, the other order warns */
#include "backbone.h"

#include <vips/vips.h>
#include <vips/vector.h>

static void g_object_unrefp(VipsImage **im)
{
        if (*im)
                g_object_unref(*im);
}

int backbone_image_load_rgb8(const char *path, uint8_t *ret_rgb)
{
        _cleanup_(g_object_unrefp) VipsImage *thumb = NULL, *srgb = NULL, *rgb = NULL, *u8 = NULL;
        size_t size;

        /* idempotent; the daemon may already have started vips */
        if (VIPS_INIT("fluff") != 0)
                return log_debug_errno(EIO, "Cannot start libvips: %s", vips_error_buffer());
        /* as daemon/images/images.c: no liborc code generation, no operation
         * cache (crops are replaced under the same name) */
        vips_vector_set_enabled(FALSE);
        vips_cache_set_max(0);
        if (vips_thumbnail(path, &thumb, BACKBONE_INPUT_SIZE, "height", BACKBONE_INPUT_SIZE, "crop",
                           VIPS_INTERESTING_CENTRE, "size", VIPS_SIZE_BOTH, "fail_on", VIPS_FAIL_ON_ERROR,
                           NULL) != 0 ||
            vips_colourspace(thumb, &srgb, VIPS_INTERPRETATION_sRGB, NULL) != 0 ||
            vips_extract_band(srgb, &rgb, 0, "n", 3, NULL) != 0 || vips_cast_uchar(rgb, &u8, NULL) != 0) {
                int r = log_debug_errno(EBADMSG, "Cannot decode \"%s\": %s", path, vips_error_buffer());
                vips_error_clear();
                return r;
        }
        if (u8->Xsize != (int)BACKBONE_INPUT_SIZE || u8->Ysize != (int)BACKBONE_INPUT_SIZE)
                return log_debug_errno(EBADMSG, "Image \"%s\" came out %dx%d", path, u8->Xsize, u8->Ysize);
        _cleanup_free_ uint8_t *mem = vips_image_write_to_memory(u8, &size);
        if (!mem || size != BACKBONE_INPUT_FLOATS) {
                vips_error_clear();
                return log_debug_errno(EIO, "Cannot read the pixels of \"%s\"", path);
        }
        memcpy(ret_rgb, mem, BACKBONE_INPUT_FLOATS);
        return 0;
}

int backbone_image_load(const char *path, float *ret_pixels)
{
        _cleanup_free_ uint8_t *rgb = malloc(BACKBONE_INPUT_FLOATS);
        int r;

        if (!rgb)
                return -ENOMEM;
        r = backbone_image_load_rgb8(path, rgb);
        if (r < 0)
                return r;
        backbone_pixels_from_rgb8(rgb, ret_pixels);
        return 0;
}

void backbone_pixels_from_rgb8(const uint8_t *rgb, float *ret_pixels)
{
        /* a float32 division, exactly as tf.div(255) does it */
        for (size_t i = 0; i < BACKBONE_INPUT_FLOATS; i++)
                ret_pixels[i] = (float)rgb[i] / 255.0f;
}
