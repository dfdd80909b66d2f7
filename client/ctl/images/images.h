/* SPDX-License-Identifier: MIT */
#pragma once

/* fluffctl's pictures (the contact sheet, the web page, the terminal review)
 * live in a module, fluffctl-images.so, loaded only by the commands that
 * draw: linking libvips and libchafa pulls in about a hundred libraries,
 * whose loading alone cost every "fluffctl status" 60–160 ms on a busy
 * 2-core machine, over the 50 ms a status must answer in (issue 16).
 *
 * The module exports one table; the rest of what it calls (logging, the
 * output helpers) it takes from fluffctl, which exports its symbols. */

#include "bus-util.h"
#include "../ctl.h"

/* Both sides are built from one tree; a module from another build (another
 * version, or other struct layouts) is refused rather than trusted. */
#define FLUFFCTL_IMAGES_SYMBOL "fluffctl_images"
#define FLUFFCTL_IMAGES_STAMP FLUFF_VERSION

typedef struct ImagesModule {
        const char *stamp;
        size_t prediction_size, heading_size;
        int (*contact_sheet_write)(const char *out, const RunHeading *h, const Prediction *rows, size_t n);
        int (*html_page_write)(const char *out, const RunHeading *h, const Prediction *rows, size_t n);
        int (*review_interactive)(sd_bus *bus, const Prediction *rows, size_t n);
} ImagesModule;
