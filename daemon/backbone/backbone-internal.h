/* SPDX-License-Identifier: MIT */
#pragma once

#include "backbone.h"
#include "graph.h"
#include "safetensors.h"

struct Backbone {
        StFile file; /* owns the weights the graph's nodes point into */
        BbGraph graph;
        char id[65];
        char version[64];
        int feat_node[_BACKBONE_FEAT_MAX];
};

/* The reference pass for one image that shows every node's output (after its
 * activation) to tap, in execution order: how the linear probe reads layers
 * the embedding does not keep. */
typedef void (*BbTap)(const BbNode *n, const float *act, void *userdata);
int backbone_forward_ref_tap(const Backbone *bb, const float *pixels, BbTap tap, void *userdata);
