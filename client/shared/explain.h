/* SPDX-License-Identifier: MIT */
#pragma once

/* A prediction's explanation as fluffd sends it (GetPredictions2,
 * NewPredictions2: the rows' a{sv}, see include/fluff/bus.h), read into plain
 * values and put into words the same way by fluffctl and fluff-notify. */

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-bus.h>

#define EXPLAIN_TAGS 3

typedef struct ExplainTag {
        char tag[128]; /* cut (at a character boundary) when longer */
        double push;   /* logit units; > 0 towards like */
} ExplainTag;

typedef struct Explanation {
        bool present;                    /* false: a row scored before explanations (empty a{sv}) */
        double logit, bias, image, tags; /* logit = bias + image + tags */
        char calibration[16];            /* "none", "platt", "isotonic" */
        ExplainTag up[EXPLAIN_TAGS], down[EXPLAIN_TAGS]; /* strongest first */
        size_t n_up, n_down;
} Explanation;

/* Reads the a{sv} at m's position; keys it does not know are skipped. */
int explanation_read(sd_bus_message *m, Explanation *ret);

/* "image +1.20 + tags +0.82 + bias -0.40 = logit +1.62" ("" when not present). */
void explanation_parts(const Explanation *e, char *buf, size_t size);
/* "blue_eyes +0.31, feral +0.20, canine -0.12": the strongest up, then down. */
void explanation_tags(const Explanation *e, char *buf, size_t size);
