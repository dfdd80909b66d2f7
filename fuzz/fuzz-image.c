/* SPDX-License-Identifier: MIT */
/* Image intake, as a download or a caller's file goes through it: the magic
 * check, the header limits before decoding, then libvips' load and crop to a
 * small square. The first byte picks the crop mode. */
#include "fuzz-util.h"
#include "images.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static bool started;
        char out[128], *reason = NULL;
        /* small limits keep each run quick; the checks are the same */
        const ImageLimits limits = {.max_bytes = 1u << 20, .max_pixels = 1u << 20};

        if (!started) {
                /* tools/fuzz.sh sets VIPS_CONCURRENCY=1: one thread per run */
                FUZZ_CHECK(images_init() >= 0);
                started = true;
        }
        if (size < 1)
                return 0;
        (void)snprintf(out, sizeof out, "%s/crop.jpg", fuzz_dir());
        int r = image_crop_square(data + 1, size - 1, 32, data[0] & 1 ? CROP_ATTENTION : CROP_CENTRE,
                                  &limits, out, &reason);
        if (r >= 0)
                FUZZ_CHECK(image_check_crop(out, 32) >= 0);
        else
                FUZZ_CHECK(r != -EINVAL);
        fuzz_check_text(reason);
        free(reason);
        (void)unlink(out);
        return 0;
}
