/* SPDX-License-Identifier: MIT */
/* fluff/util.h first: glib then replaces its MIN/MAX with equivalent ones. */
#include "bus-util.h"
#include "ctl.h"
#include "fluff/util.h"

#include <vips/vips.h>

#define TILE 192
#define CAPTION_H 28
#define COLUMNS_MAX 6

/* One tile: the crop (grey when its file is gone) over its caption. */
static int make_tile(const char *path, const char *caption, VipsImage *scope, VipsImage **ret)
{
        VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(scope), 8);

        if (isempty(path) || vips_thumbnail(path, &t[0], TILE, "height", TILE, "crop", VIPS_INTERESTING_CENTRE,
                                            NULL) < 0) {
                vips_error_clear();
                if (vips_black(&t[0], TILE, TILE, "bands", 3, NULL) < 0 ||
                    vips_linear1(t[0], &t[7], 1.0, 96.0, "uchar", TRUE, NULL) < 0)
                        return -EIO;
                t[0] = t[7];
                t[7] = NULL;
                g_object_ref(t[0]);
        }
        /* Greyscale crops get three bands too, so the tiles join. */
        if (vips_colourspace(t[0], &t[1], VIPS_INTERPRETATION_sRGB, NULL) < 0 ||
            vips_extract_band(t[1], &t[2], 0, "n", 3, NULL) < 0 ||
            vips_gravity(t[2], &t[3], VIPS_COMPASS_DIRECTION_CENTRE, TILE, TILE, NULL) < 0)
                return -EIO;
        if (vips_text(&t[4], strempty(caption), "width", TILE - 8, "dpi", 96, NULL) < 0)
                return -EIO;
        VipsImage *bands[3] = { t[4], t[4], t[4] };
        if (vips_bandjoin(bands, &t[5], 3, NULL) < 0 ||
            vips_embed(t[5], &t[6], 4, 4, TILE, CAPTION_H, NULL) < 0)
                return -EIO;
        return vips_join(t[3], t[6], ret, VIPS_DIRECTION_VERTICAL, NULL) < 0 ? -EIO : 0;
}

int contact_sheet_write(const char *out, const char *const *images, const char *const *captions, size_t n)
{
        VipsImage *scope, *sheet = NULL;
        VipsImage **tiles;
        int r = 0;

        if (n == 0) {
                log_error("No predictions to put on a contact sheet.");
                return -ENODATA;
        }
        if (VIPS_INIT("fluffctl") != 0)
                return log_error_errno(-EIO, "Failed to start libvips: %s", vips_error_buffer());
        scope = vips_image_new();
        tiles = (VipsImage **)vips_object_local_array(VIPS_OBJECT(scope), (int)n);
        for (size_t i = 0; i < n && r >= 0; i++)
                r = make_tile(images[i], captions[i], scope, &tiles[i]);
        if (r >= 0 && vips_arrayjoin(tiles, &sheet, (int)n, "across", (int)MIN(n, (size_t)COLUMNS_MAX), "shim",
                                     4, NULL) < 0)
                r = -EIO;
        if (r >= 0 && vips_image_write_to_file(sheet, out, NULL) < 0)
                r = -EIO;
        if (r < 0)
                log_error("Failed to make the contact sheet \"%s\": %s", out, vips_error_buffer());
        if (sheet)
                g_object_unref(sheet);
        g_object_unref(scope);
        vips_error_clear();
        return r;
}
