/* SPDX-License-Identifier: MIT */
/* util.h first: glib #undefs and redefines MIN/MAX, the other order warns */
#include "backbone.h"
#include "images.h"

#include <fcntl.h>
#include <vips/vips.h>
#include <vips/vector.h>

static void g_object_unrefp(VipsImage **im)
{
        if (*im)
                g_object_unref(*im);
}

int backbone_image_decode_rgb8(const void *data, size_t size, uint8_t *ret_rgb)
{
        _cleanup_(g_object_unrefp) VipsImage *thumb = NULL, *srgb = NULL, *rgb = NULL, *u8 = NULL;
        size_t out_size;
        int r;

        /* idempotent; the daemon may already have started vips */
        if (VIPS_INIT("fluff") != 0)
                return log_debug_errno(EIO, "Cannot start libvips: %s", vips_error_buffer());
        /* as daemon/images/images.c: no liborc code generation, no operation
         * cache (crops are replaced under the same name) */
        vips_vector_set_enabled(FALSE);
        vips_cache_set_max(0);
        /* the magic bytes and the declared size first: libvips decodes nothing
         * that is not an image of a known type within the limits */
        r = image_check_header(data, size, NULL, NULL);
        if (r < 0)
                return log_debug_errno(r, "Not an image Fluff reads: %m");
        /* fail_on for the loader itself: libvips 8.14 ignores thumbnail's own
         * for buffers (see daemon/images/images.c) */
        if (vips_thumbnail_buffer((void *)data, size, &thumb, BACKBONE_INPUT_SIZE, "height",
                                  BACKBONE_INPUT_SIZE, "crop", VIPS_INTERESTING_CENTRE, "size",
                                  VIPS_SIZE_BOTH, "option_string", "fail_on=error", NULL) != 0 ||
            vips_colourspace(thumb, &srgb, VIPS_INTERPRETATION_sRGB, NULL) != 0 ||
            vips_extract_band(srgb, &rgb, 0, "n", 3, NULL) != 0 || vips_cast_uchar(rgb, &u8, NULL) != 0) {
                r = log_debug_errno(EBADMSG, "Cannot decode the image: %s", vips_error_buffer());
                vips_error_clear();
                return r;
        }
        if (u8->Xsize != (int)BACKBONE_INPUT_SIZE || u8->Ysize != (int)BACKBONE_INPUT_SIZE)
                return log_debug_errno(EBADMSG, "The image came out %dx%d", u8->Xsize, u8->Ysize);
        _cleanup_free_ uint8_t *mem = vips_image_write_to_memory(u8, &out_size);
        if (!mem || out_size != BACKBONE_INPUT_FLOATS) {
                vips_error_clear();
                return log_debug_errno(EIO, "Cannot read the pixels of the image");
        }
        memcpy(ret_rgb, mem, BACKBONE_INPUT_FLOATS);
        return 0;
}

int backbone_image_load_rgb8(const char *path, uint8_t *ret_rgb)
{
        _cleanup_free_ void *data = NULL;
        size_t size = 0;
        int r;

        /* O_NONBLOCK: a FIFO must not block the open; image_read_fd refuses it */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return log_debug_errno(errno, "Cannot open \"%s\": %m", path);
        r = image_read_fd(fd, NULL, &data, &size, NULL);
        if (r < 0)
                return log_debug_errno(r, "Cannot read \"%s\" as an image: %m", path);
        return backbone_image_decode_rgb8(data, size, ret_rgb);
}

int backbone_image_load_fd(int fd, float *ret_pixels, char **ret_reason)
{
        _cleanup_free_ uint8_t *rgb = malloc(BACKBONE_INPUT_FLOATS);
        _cleanup_free_ void *data = NULL;
        size_t size = 0;
        int r;

        if (!rgb)
                return -ENOMEM;
        r = image_read_fd(fd, NULL, &data, &size, ret_reason);
        if (r < 0)
                return r;
        r = backbone_image_decode_rgb8(data, size, rgb);
        if (r < 0) {
                if (ret_reason)
                        *ret_reason = strdup("The image cannot be decoded.");
                return r;
        }
        backbone_pixels_from_rgb8(rgb, ret_pixels);
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
