/* SPDX-License-Identifier: MIT */
#pragma once

/* What the contact sheet and the web page share. */

#include <stddef.h>

/* The frame colour of a label (RGB 0…255): like green, dislike red, else grey. */
void label_colour(const char *label, double ret[3]);
/* Columns for n tiles (3…6, or n when fewer): the fullest last row. */
unsigned sheet_columns(size_t n);
