/* SPDX-License-Identifier: MIT */
#pragma once

/* Walks a Keras functional-model config (as TF.js stores it) into a BbGraph,
 * folding batch norm into the convolution before it and padding into explicit
 * amounts. Node weights are newly allocated and owned by the graph's caller:
 * free them with keras_graph_free_weights(). */

#include "graph.h"
#include "import-weights.h"

int keras_build_graph(json_object *topology, const IwSet *weights, BbGraph *ret, Error *e);
void keras_graph_free_weights(BbGraph *g);
