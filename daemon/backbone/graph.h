/* SPDX-License-Identifier: MIT */
#pragma once

/* The backbone as a list of nodes in execution order, after import: batch
 * norm folded into each convolution's weight and bias, ZeroPadding2D and TF
 * "same" padding turned into explicit amounts, ReLU/ReLU6 kept as a per-node
 * activation applied to the node's output (its backward needs only that
 * output: the gradient passes where 0 < y < 6). Flatten and Dropout (identity
 * at inference) are gone.
 *
 * Tensor layouts (all float32, NHWC activations):
 *   conv    weight [k][k][cin][cout], bias [cout]
 *   dwconv  weight [k][k][c],         bias [c]   (depth multiplier 1)
 *   dense   weight [cin][cout],       bias [cout]
 * named "<node>.weight" and "<node>.bias" in the weight file. */

#include <json-c/json.h>

#include "fluff/error.h"

typedef enum BbOp {
        BB_OP_INPUT,
        BB_OP_CONV,
        BB_OP_DWCONV,
        BB_OP_ADD,
        BB_OP_GAP, /* global average pool: h×w×c → 1×1×c */
        BB_OP_DENSE,
        _BB_OP_MAX,
        _BB_OP_INVALID = -EINVAL,
} BbOp;

typedef enum BbAct {
        BB_ACT_LINEAR,
        BB_ACT_RELU,
        BB_ACT_RELU6,
        BB_ACT_SOFTMAX,
        _BB_ACT_MAX,
        _BB_ACT_INVALID = -EINVAL,
} BbAct;

/* Blocks as Keras names them: the stem conv, expanded_conv (block 0),
 * block_1 … block_16, the top 1×1 conv and the dense head. */
#define BB_BLOCK_STEM (-1)
#define BB_BLOCK_TOP 17
#define BB_BLOCK_HEAD 18

#define BB_NAME_MAX 64
#define BB_MAX_NODES 256

typedef struct BbNode {
        char name[BB_NAME_MAX];     /* the Keras layer that produces the output before the activation */
        char out_name[BB_NAME_MAX]; /* the Keras layer whose output this node is (e.g. "block_1_expand_relu")
                                     */
        BbOp op;
        BbAct act;
        int in[2]; /* producing nodes; -1 unused */
        unsigned k, stride;
        unsigned pad[4];  /* top, bottom, left, right */
        bool tf_same;     /* the source asked for TF "same" padding (pad[] holds its amounts for h×w in) */
        unsigned h, w, c; /* output shape */
        unsigned cin;
        int block;
        float *weight, *bias; /* borrowed from the owning Backbone or importer */
} BbNode;

typedef struct BbGraph {
        BbNode nodes[BB_MAX_NODES];
        unsigned n_nodes;
} BbGraph;

const char *bb_op_to_string(BbOp op);
BbOp bb_op_from_string(const char *s);
const char *bb_act_to_string(BbAct a);
BbAct bb_act_from_string(const char *s);

/* Number of floats in a node's weight / bias (0 if it has none). */
size_t bb_node_weight_count(const BbNode *n);
size_t bb_node_bias_count(const BbNode *n);

/* Checks the graph is consistent: inputs precede their users, shapes follow
 * from kernel/stride/padding, adds see equal shapes. */
int bb_graph_validate(const BbGraph *g, Error *e);

/* Compact JSON for the weight file's metadata, and back. */
int bb_graph_to_json(const BbGraph *g, char **ret);
int bb_graph_from_json(const char *s, BbGraph *g, Error *e);

/* The node whose output (after activation) carries this Keras layer name. */
int bb_graph_find(const BbGraph *g, const char *out_name);
