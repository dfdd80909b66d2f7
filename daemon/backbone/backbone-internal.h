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
