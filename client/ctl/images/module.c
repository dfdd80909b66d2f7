/* SPDX-License-Identifier: MIT */
/* The one symbol fluffctl-images.so exports (the rest is hidden). */
#include "images.h"

__attribute__((visibility("default"))) const ImagesModule fluffctl_images = {
        .stamp = FLUFFCTL_IMAGES_STAMP,
        .prediction_size = sizeof(Prediction),
        .heading_size = sizeof(RunHeading),
        .contact_sheet_write = contact_sheet_write,
        .html_page_write = html_page_write,
        .review_interactive = review_interactive,
};
