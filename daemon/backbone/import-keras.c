/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "import-keras.h"

/* What a Keras layer's output is in our graph: a node (possibly still waiting
 * for its batch norm or activation), optionally behind a pending ZeroPadding2D
 * that the next convolution absorbs. */
typedef struct Alias {
        char name[BB_NAME_MAX];
        int node;
        bool has_pad;
        unsigned pad[4];
        unsigned uses;
} Alias;

typedef struct Walk {
        BbGraph *g;
        const IwSet *w;
        Alias *alias;
        size_t n_alias;
        Error *e;
} Walk;

void keras_graph_free_weights(BbGraph *g)
{
        for (unsigned i = 0; i < g->n_nodes; i++) {
                free(g->nodes[i].weight);
                free(g->nodes[i].bias);
                g->nodes[i].weight = g->nodes[i].bias = NULL;
        }
}

static json_object *cfg_get(json_object *cfg, const char *key)
{
        json_object *v;
        return json_object_object_get_ex(cfg, key, &v) ? v : NULL;
}

static const char *cfg_str(json_object *cfg, const char *key)
{
        json_object *v = cfg_get(cfg, key);
        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int cfg_pair(json_object *cfg, const char *key, unsigned ret[2])
{
        json_object *v = cfg_get(cfg, key);
        if (v && json_object_is_type(v, json_type_int)) {
                ret[0] = ret[1] = (unsigned)json_object_get_int(v);
                return json_object_get_int(v) > 0 && json_object_get_int(v) <= 64 ? 0 : -EBADMSG;
        }
        if (!v || !json_object_is_type(v, json_type_array) || json_object_array_length(v) != 2)
                return -EBADMSG;
        for (unsigned i = 0; i < 2; i++) {
                int x = json_object_get_int(json_object_array_get_idx(v, i));
                if (x <= 0 || x > 64)
                        return -EBADMSG;
                ret[i] = (unsigned)x;
        }
        return 0;
}

static int block_of(const char *name)
{
        unsigned b;
        if (streq(name, "Conv1") || strneq(name, "bn_Conv1", 8))
                return BB_BLOCK_STEM;
        if (strneq(name, "expanded_conv", 13))
                return 0;
        if (sscanf(name, "block_%u_", &b) == 1 && b < BB_BLOCK_TOP)
                return (int)b;
        if (strneq(name, "dense", 5))
                return BB_BLOCK_HEAD;
        return BB_BLOCK_TOP;
}

static Alias *alias_find(Walk *w, const char *name)
{
        for (size_t i = 0; i < w->n_alias; i++)
                if (streq(w->alias[i].name, name))
                        return &w->alias[i];
        return NULL;
}

/* The single input of a layer: inbound_nodes = [[["src", 0, 0, {}]]]. */
static int layer_inputs(Walk *w, json_object *layer, const char *name, Alias **ret, unsigned n_want)
{
        json_object *in = cfg_get(layer, "inbound_nodes");
        if (!in || !json_object_is_type(in, json_type_array) || json_object_array_length(in) != 1)
                return error_setf(w->e, -EBADMSG, "Layer \"%s\" must be called exactly once", name);
        json_object *calls = json_object_array_get_idx(in, 0);
        if (!json_object_is_type(calls, json_type_array) || json_object_array_length(calls) != n_want)
                return error_setf(w->e, -EBADMSG, "Layer \"%s\" must have %u input(s)", name, n_want);
        for (unsigned i = 0; i < n_want; i++) {
                json_object *c = json_object_array_get_idx(calls, i);
                json_object *s0 = json_object_is_type(c, json_type_array) && json_object_array_length(c) > 0
                                          ? json_object_array_get_idx(c, 0)
                                          : NULL;
                const char *src =
                        json_object_is_type(s0, json_type_string) ? json_object_get_string(s0) : NULL;
                ret[i] = src ? alias_find(w, src) : NULL;
                if (!ret[i])
                        return error_setf(w->e, -EBADMSG, "Layer \"%s\" reads an unknown layer \"%s\"", name,
                                          src ? src : "?");
                if (ret[i]->node < 0)
                        return error_setf(
                                w->e, -EOPNOTSUPP,
                                "Layer \"%s\" reads \"%s\", which was folded into the layer after it", name,
                                src);
                ret[i]->uses++;
        }
        return 0;
}

static int new_node(Walk *w, const char *name, BbOp op, BbNode **ret)
{
        if (w->g->n_nodes >= BB_MAX_NODES)
                return error_setf(w->e, -E2BIG, "The model has more than %u nodes", BB_MAX_NODES);
        BbNode *n = &w->g->nodes[w->g->n_nodes++];
        *n = (BbNode){.op = op, .in = {-1, -1}, .k = 1, .stride = 1, .block = block_of(name)};
        (void)snprintf(n->name, sizeof(n->name), "%s", name);
        (void)snprintf(n->out_name, sizeof(n->out_name), "%s", name);
        *ret = n;
        return 0;
}

static int weight_copy(Walk *w, const char *layer, const char *what, const unsigned *dims, unsigned n_dims,
                       float **ret)
{
        char key[2 * BB_NAME_MAX];
        (void)snprintf(key, sizeof(key), "%s/%s", layer, what);
        const IwTensor *t = iw_find(w->w, key);
        if (!t)
                return error_setf(w->e, -EBADMSG, "The weights have no \"%s\"", key);
        bool ok = t->n_dims == n_dims;
        for (unsigned d = 0; ok && d < n_dims; d++)
                ok = t->dims[d] == dims[d];
        if (!ok)
                return error_setf(w->e, -EBADMSG,
                                  "Weight \"%s\" has a shape that does not match layer \"%s\"", key, layer);
        float *p = malloc(t->count * sizeof(float));
        if (!p)
                return error_setf(w->e, -ENOMEM, "Out of memory");
        memcpy(p, t->data, t->count * sizeof(float));
        *ret = p;
        return 0;
}

static int add_conv(Walk *w, json_object *layer, const char *name, bool depthwise, Alias **ret_alias)
{
        json_object *cfg = cfg_get(layer, "config");
        unsigned ks[2], st[2], dil[2] = {1, 1};
        Alias *src;
        BbNode *n;
        int r;

        r = layer_inputs(w, layer, name, &src, 1);
        if (r < 0)
                return r;
        const char *padding = cfg_str(cfg, "padding"), *act = cfg_str(cfg, "activation");
        if (cfg_pair(cfg, "kernel_size", ks) < 0 || cfg_pair(cfg, "strides", st) < 0 || ks[0] != ks[1] ||
            st[0] != st[1] || !padding ||
            (cfg_get(cfg, "dilation_rate") && cfg_pair(cfg, "dilation_rate", dil) < 0))
                return error_setf(w->e, -EBADMSG, "Layer \"%s\" has a bad kernel, stride or padding", name);
        if (dil[0] != 1 || dil[1] != 1)
                return error_setf(w->e, -EOPNOTSUPP, "Layer \"%s\" uses dilation, which is not supported",
                                  name);
        if (!act || !streq(act, "linear"))
                return error_setf(w->e, -EOPNOTSUPP, "Layer \"%s\" has an unsupported activation", name);
        if (depthwise && cfg_get(cfg, "depth_multiplier") &&
            json_object_get_int(cfg_get(cfg, "depth_multiplier")) != 1)
                return error_setf(w->e, -EOPNOTSUPP, "Layer \"%s\" has a depth multiplier other than 1",
                                  name);

        r = new_node(w, name, depthwise ? BB_OP_DWCONV : BB_OP_CONV, &n);
        if (r < 0)
                return r;
        const BbNode *a = &w->g->nodes[src->node];
        n->in[0] = src->node;
        n->k = ks[0];
        n->stride = st[0];
        n->cin = a->c;
        if (src->has_pad) {
                if (!streq(padding, "valid"))
                        return error_setf(w->e, -EOPNOTSUPP, "Layer \"%s\" pads twice", name);
                memcpy(n->pad, src->pad, sizeof(n->pad));
        } else if (streq(padding, "same")) {
                /* TF "same": output ceil(in/stride), the odd pixel of padding at the bottom/right */
                unsigned in[2] = {a->h, a->w};
                n->tf_same = true;
                for (unsigned d = 0; d < 2; d++) {
                        unsigned out = (in[d] + n->stride - 1) / n->stride;
                        int total = (int)((out - 1) * n->stride + n->k) - (int)in[d];
                        total = MAX(total, 0);
                        n->pad[2 * d] = (unsigned)total / 2;
                        n->pad[2 * d + 1] = (unsigned)total - (unsigned)total / 2;
                }
        } else if (!streq(padding, "valid"))
                return error_setf(w->e, -EOPNOTSUPP, "Layer \"%s\" has unknown padding \"%s\"", name,
                                  padding);
        n->h = (a->h + n->pad[0] + n->pad[1] - n->k) / n->stride + 1;
        n->w = (a->w + n->pad[2] + n->pad[3] - n->k) / n->stride + 1;
        if (a->h + n->pad[0] + n->pad[1] < n->k || a->w + n->pad[2] + n->pad[3] < n->k)
                return error_setf(w->e, -EBADMSG, "Layer \"%s\" has a kernel larger than its input", name);

        if (depthwise) {
                unsigned dims[4] = {n->k, n->k, n->cin, 1};
                n->c = n->cin;
                r = weight_copy(w, name, "depthwise_kernel", dims, 4, &n->weight);
        } else {
                json_object *f = cfg_get(cfg, "filters");
                int filters = f ? json_object_get_int(f) : 0;
                if (filters <= 0 || filters > 65536)
                        return error_setf(w->e, -EBADMSG, "Layer \"%s\" has a bad filter count", name);
                n->c = (unsigned)filters;
                unsigned dims[4] = {n->k, n->k, n->cin, n->c};
                r = weight_copy(w, name, "kernel", dims, 4, &n->weight);
        }
        if (r < 0)
                return r;
        json_object *ub = cfg_get(cfg, "use_bias");
        if (ub && json_object_get_boolean(ub)) {
                unsigned dims[1] = {n->c};
                r = weight_copy(w, name, "bias", dims, 1, &n->bias);
        } else {
                n->bias = calloc(n->c, sizeof(float));
                if (!n->bias)
                        r = error_setf(w->e, -ENOMEM, "Out of memory");
        }
        if (r < 0)
                return r;
        *ret_alias = NULL;
        return (int)(n - w->g->nodes);
}

/* y = gamma·(x − mean)/sqrt(var + eps) + beta, moved into the conv before it. */
static int fold_bn(Walk *w, json_object *layer, const char *name, Alias *src)
{
        json_object *cfg = cfg_get(layer, "config"), *v;
        BbNode *n = &w->g->nodes[src->node];
        _cleanup_free_ float *gamma = NULL, *beta = NULL, *mean = NULL, *var = NULL;
        unsigned dims[1] = {n->c};
        int r;

        if ((n->op != BB_OP_CONV && n->op != BB_OP_DWCONV) || n->act != BB_ACT_LINEAR || src->uses != 1 ||
            !streq(src->name, n->out_name) || !streq(n->out_name, n->name))
                return error_setf(w->e, -EOPNOTSUPP,
                                  "BatchNormalization \"%s\" does not directly follow a convolution", name);
        v = cfg_get(cfg, "axis");
        if (v && json_object_get_int(v) != -1 && json_object_get_int(v) != 3)
                return error_setf(w->e, -EOPNOTSUPP, "BatchNormalization \"%s\" is not over channels", name);
        v = cfg_get(cfg, "epsilon");
        double eps = v ? json_object_get_double(v) : 1e-3;
        if (!(eps >= 0 && eps < 1))
                return error_setf(w->e, -EBADMSG, "BatchNormalization \"%s\" has a bad epsilon", name);
        v = cfg_get(cfg, "scale");
        bool has_scale = !v || json_object_get_boolean(v);
        v = cfg_get(cfg, "center");
        bool has_center = !v || json_object_get_boolean(v);

        if (has_scale && (r = weight_copy(w, name, "gamma", dims, 1, &gamma)) < 0)
                return r;
        if (has_center && (r = weight_copy(w, name, "beta", dims, 1, &beta)) < 0)
                return r;
        if ((r = weight_copy(w, name, "moving_mean", dims, 1, &mean)) < 0 ||
            (r = weight_copy(w, name, "moving_variance", dims, 1, &var)) < 0)
                return r;

        size_t per_out = bb_node_weight_count(n) / n->c;
        for (unsigned c = 0; c < n->c; c++) {
                if (!(var[c] + eps > 0))
                        return error_setf(w->e, -EBADMSG,
                                          "BatchNormalization \"%s\" has a negative variance", name);
                double s = (gamma ? gamma[c] : 1.0) / sqrt((double)var[c] + eps);
                /* channel is the innermost index in both conv and dwconv layouts */
                for (size_t i = 0; i < per_out; i++)
                        n->weight[i * n->c + c] = (float)(n->weight[i * n->c + c] * s);
                n->bias[c] = (float)((n->bias[c] - mean[c]) * s + (beta ? beta[c] : 0.0));
        }
        (void)snprintf(n->out_name, sizeof(n->out_name), "%s", name);
        return src->node;
}

static int set_act(Walk *w, json_object *layer, const char *name, Alias *src, BbAct act)
{
        BbNode *n = &w->g->nodes[src->node];
        if (n->op == BB_OP_INPUT || n->act != BB_ACT_LINEAR || src->uses != 1 ||
            !streq(src->name, n->out_name))
                return error_setf(w->e, -EOPNOTSUPP, "Activation \"%s\" cannot be fused into \"%s\"", name,
                                  n->name);
        n->act = act;
        (void)snprintf(n->out_name, sizeof(n->out_name), "%s", name);
        return src->node;
}

static int add_relu(Walk *w, json_object *layer, const char *name, Alias *src)
{
        json_object *cfg = cfg_get(layer, "config"), *v;
        double maxv = -1;

        v = cfg_get(cfg, "negative_slope");
        if (v && json_object_get_double(v) != 0)
                return error_setf(w->e, -EOPNOTSUPP, "ReLU \"%s\" is leaky, which is not supported", name);
        v = cfg_get(cfg, "threshold");
        if (v && json_object_get_double(v) != 0)
                return error_setf(w->e, -EOPNOTSUPP, "ReLU \"%s\" has a threshold, which is not supported",
                                  name);
        v = cfg_get(cfg, "max_value");
        if (v && !json_object_is_type(v, json_type_null))
                maxv = json_object_get_double(v);
        if (maxv >= 0 && maxv != 6)
                return error_setf(w->e, -EOPNOTSUPP, "ReLU \"%s\" caps at %g; only 6 is supported", name,
                                  maxv);
        return set_act(w, layer, name, src, maxv == 6 ? BB_ACT_RELU6 : BB_ACT_RELU);
}

static int add_zero_padding(Walk *w, json_object *layer, const char *name, Alias *src, Alias *out)
{
        json_object *p = cfg_get(cfg_get(layer, "config"), "padding");
        unsigned pad[4];

        if (src->has_pad)
                return error_setf(w->e, -EOPNOTSUPP, "ZeroPadding2D \"%s\" follows another padding", name);
        if (p && json_object_is_type(p, json_type_int)) {
                for (unsigned i = 0; i < 4; i++)
                        pad[i] = (unsigned)json_object_get_int(p);
        } else if (p && json_object_is_type(p, json_type_array) && json_object_array_length(p) == 2) {
                for (unsigned d = 0; d < 2; d++) {
                        json_object *x = json_object_array_get_idx(p, d);
                        if (json_object_is_type(x, json_type_int))
                                pad[2 * d] = pad[2 * d + 1] = (unsigned)json_object_get_int(x);
                        else if (json_object_is_type(x, json_type_array) &&
                                 json_object_array_length(x) == 2) {
                                pad[2 * d] = (unsigned)json_object_get_int(json_object_array_get_idx(x, 0));
                                pad[2 * d + 1] =
                                        (unsigned)json_object_get_int(json_object_array_get_idx(x, 1));
                        } else
                                return error_setf(w->e, -EBADMSG, "ZeroPadding2D \"%s\" has bad padding",
                                                  name);
                }
        } else
                return error_setf(w->e, -EBADMSG, "ZeroPadding2D \"%s\" has bad padding", name);
        for (unsigned i = 0; i < 4; i++)
                if (pad[i] > 15)
                        return error_setf(w->e, -EBADMSG, "ZeroPadding2D \"%s\" has bad padding", name);
        out->has_pad = true;
        memcpy(out->pad, pad, sizeof(pad));
        return src->node;
}

static int add_simple(Walk *w, const char *name, BbOp op, Alias **src)
{
        BbNode *n;
        int r = new_node(w, name, op, &n);
        if (r < 0)
                return r;
        const BbNode *a = &w->g->nodes[src[0]->node];
        n->in[0] = src[0]->node;
        n->cin = a->c;
        n->c = a->c;
        if (op == BB_OP_ADD) {
                const BbNode *b = &w->g->nodes[src[1]->node];
                if (a->h != b->h || a->w != b->w || a->c != b->c)
                        return error_setf(w->e, -EBADMSG, "Add \"%s\" adds tensors of different shapes",
                                          name);
                n->in[1] = src[1]->node;
                n->h = a->h, n->w = a->w;
        } else
                n->h = n->w = 1; /* global average pool */
        return (int)(n - w->g->nodes);
}

static int add_dense(Walk *w, json_object *layer, const char *name, Alias *src)
{
        json_object *cfg = cfg_get(layer, "config"), *v;
        const char *act = cfg_str(cfg, "activation");
        BbNode *n;
        int r;

        r = new_node(w, name, BB_OP_DENSE, &n);
        if (r < 0)
                return r;
        const BbNode *a = &w->g->nodes[src->node];
        v = cfg_get(cfg, "units");
        if (!v || json_object_get_int(v) <= 0 || json_object_get_int(v) > 65536)
                return error_setf(w->e, -EBADMSG, "Dense \"%s\" has a bad unit count", name);
        n->in[0] = src->node;
        uint64_t cin = (uint64_t)a->h * a->w * a->c;
        if (cin > (1u << 24))
                return error_setf(w->e, -EBADMSG, "Dense \"%s\" has %llu inputs, more than supported", name,
                                  (unsigned long long)cin);
        n->cin = (unsigned)cin;
        n->c = (unsigned)json_object_get_int(v);
        n->h = n->w = 1;
        n->act = bb_act_from_string(act);
        if (!act || ((int)n->act < 0 || n->act == BB_ACT_RELU6))
                return error_setf(w->e, -EOPNOTSUPP, "Dense \"%s\" has an unsupported activation \"%s\"",
                                  name, act ? act : "?");
        unsigned kd[2] = {n->cin, n->c}, bd[1] = {n->c};
        r = weight_copy(w, name, "kernel", kd, 2, &n->weight);
        if (r < 0)
                return r;
        v = cfg_get(cfg, "use_bias");
        if (!v || json_object_get_boolean(v))
                r = weight_copy(w, name, "bias", bd, 1, &n->bias);
        else if (!(n->bias = calloc(n->c, sizeof(float))))
                r = error_setf(w->e, -ENOMEM, "Out of memory");
        return r < 0 ? r : (int)(n - w->g->nodes);
}

static int add_input(Walk *w, json_object *layer, const char *name)
{
        json_object *shape = cfg_get(cfg_get(layer, "config"), "batch_input_shape");
        BbNode *n;
        int r;

        if (w->g->n_nodes != 0)
                return error_setf(w->e, -EOPNOTSUPP, "The model has more than one input");
        if (!shape || !json_object_is_type(shape, json_type_array) || json_object_array_length(shape) != 4)
                return error_setf(w->e, -EBADMSG, "Input \"%s\" has no NHWC shape", name);
        unsigned d[3];
        for (unsigned i = 0; i < 3; i++) {
                int x = json_object_get_int(json_object_array_get_idx(shape, i + 1));
                if (x <= 0 || x > 4096)
                        return error_setf(w->e, -EBADMSG, "Input \"%s\" has a bad shape", name);
                d[i] = (unsigned)x;
        }
        r = new_node(w, name, BB_OP_INPUT, &n);
        if (r < 0)
                return r;
        n->h = d[0], n->w = d[1], n->c = d[2];
        n->block = BB_BLOCK_STEM;
        return 0;
}

static const char *const known_layers[] = {
        "InputLayer",
        "Add",
        "Conv2D",
        "DepthwiseConv2D",
        "ZeroPadding2D",
        "BatchNormalization",
        "ReLU",
        "Activation",
        "GlobalAveragePooling2D",
        "AveragePooling2D",
        "Flatten",
        "Dropout",
        "Dense",
        NULL,
};

static int walk_layer(Walk *w, json_object *layer, Alias *out)
{
        const char *cls = cfg_str(layer, "class_name"), *name = cfg_str(layer, "name");
        Alias *src[2] = {};
        int r;

        if (!cls || !name || strlen(name) >= BB_NAME_MAX)
                return error_setf(w->e, -EBADMSG, "A layer has no class or name");
        if (alias_find(w, name))
                return error_setf(w->e, -EBADMSG, "Two layers are called \"%s\"", name);
        (void)snprintf(out->name, sizeof(out->name), "%s", name);
        if (!strv_contains((char **)known_layers, cls))
                return error_setf(w->e, -EOPNOTSUPP, "Unknown layer type \"%s\" (layer \"%s\")", cls, name);

        if (streq(cls, "InputLayer"))
                return add_input(w, layer, name);
        if (streq(cls, "Add")) {
                r = layer_inputs(w, layer, name, src, 2);
                return r < 0 ? r : add_simple(w, name, BB_OP_ADD, src);
        }
        r = layer_inputs(w, layer, name, src, 1);
        if (r < 0)
                return r;
        if (!streq(cls, "ZeroPadding2D") && !streq(cls, "Conv2D") && !streq(cls, "DepthwiseConv2D") &&
            src[0]->has_pad)
                return error_setf(w->e, -EOPNOTSUPP, "Padding before \"%s\" is not supported", name);

        if (streq(cls, "Conv2D") || streq(cls, "DepthwiseConv2D")) {
                Alias *dummy;
                src[0]->uses--; /* add_conv counts it again */
                return add_conv(w, layer, name, streq(cls, "DepthwiseConv2D"), &dummy);
        }
        if (streq(cls, "ZeroPadding2D"))
                return add_zero_padding(w, layer, name, src[0], out);
        if (streq(cls, "BatchNormalization")) {
                r = fold_bn(w, layer, name, src[0]);
                if (r >= 0)
                        src[0]->node = -1;
                return r;
        }
        if (streq(cls, "ReLU") || streq(cls, "Activation")) {
                const char *a = cfg_str(cfg_get(layer, "config"), "activation");
                if (streq(cls, "ReLU"))
                        r = add_relu(w, layer, name, src[0]);
                else if (a && (streq(a, "relu") || streq(a, "softmax")))
                        r = set_act(w, layer, name, src[0], bb_act_from_string(a));
                else
                        return error_setf(w->e, -EOPNOTSUPP, "Activation \"%s\" is not supported", name);
                if (r >= 0)
                        src[0]->node = -1;
                return r;
        }
        if (streq(cls, "GlobalAveragePooling2D"))
                return add_simple(w, name, BB_OP_GAP, src);
        if (streq(cls, "AveragePooling2D")) {
                /* over the whole map it is a global pool; anything else we do not run */
                json_object *cfg = cfg_get(layer, "config");
                const BbNode *a = &w->g->nodes[src[0]->node];
                unsigned ps[2], st[2] = {0, 0};
                const char *pad = cfg_str(cfg, "padding");
                if (cfg_pair(cfg, "pool_size", ps) < 0 ||
                    (cfg_get(cfg, "strides") && cfg_pair(cfg, "strides", st) < 0) || ps[0] != a->h ||
                    ps[1] != a->w || !pad || !streq(pad, "valid"))
                        return error_setf(w->e, -EOPNOTSUPP,
                                          "AveragePooling2D \"%s\" is not over the whole %ux%u map", name,
                                          a->h, a->w);
                return add_simple(w, name, BB_OP_GAP, src);
        }
        if (streq(cls, "Flatten")) {
                const BbNode *a = &w->g->nodes[src[0]->node];
                if (a->h != 1 || a->w != 1)
                        return error_setf(w->e, -EOPNOTSUPP,
                                          "Flatten \"%s\" of a spatial map is not supported", name);
                return src[0]->node;
        }
        if (streq(cls, "Dropout"))
                return src[0]->node;
        if (streq(cls, "Dense"))
                return add_dense(w, layer, name, src[0]);
        return error_setf(w->e, -EOPNOTSUPP, "Unknown layer type \"%s\" (layer \"%s\")", cls, name);
}

int keras_build_graph(json_object *topology, const IwSet *weights, BbGraph *g, Error *e)
{
        json_object *cfg = cfg_get(cfg_get(topology, "model_config"), "config");
        json_object *layers = cfg_get(cfg, "layers"), *outs = cfg_get(cfg, "output_layers");
        _cleanup_free_ Alias *alias = NULL;
        int r = 0;

        *g = (BbGraph){};
        if (!json_object_is_type(topology, json_type_object) ||
            !json_object_is_type(layers, json_type_array) || json_object_array_length(layers) == 0 ||
            json_object_array_length(layers) > 4 * BB_MAX_NODES)
                return error_setf(e, -EBADMSG, "The model topology has no layer list");
        size_t n = json_object_array_length(layers);
        alias = calloc(n, sizeof(Alias));
        if (!alias)
                return error_setf(e, -ENOMEM, "Out of memory");
        Walk w = {.g = g, .w = weights, .alias = alias, .e = e};
        for (size_t i = 0; i < n && r >= 0; i++) {
                Alias *a = &alias[w.n_alias];
                r = walk_layer(&w, json_object_array_get_idx(layers, i), a);
                if (r >= 0) {
                        a->node = r;
                        w.n_alias++;
                }
        }
        /* json-c asserts on an array call with anything but an array: every
         * type is checked before use */
        if (r >= 0 && (!json_object_is_type(outs, json_type_array) || json_object_array_length(outs) != 1 ||
                       !json_object_is_type(json_object_array_get_idx(outs, 0), json_type_array) ||
                       json_object_array_length(json_object_array_get_idx(outs, 0)) < 1))
                r = error_setf(e, -EOPNOTSUPP, "The model must have exactly one output");
        if (r >= 0) {
                json_object *on = json_object_array_get_idx(json_object_array_get_idx(outs, 0), 0);
                const char *oname =
                        json_object_is_type(on, json_type_string) ? json_object_get_string(on) : NULL;
                Alias *o = oname ? alias_find(&w, oname) : NULL;
                if (!o || o->node != (int)g->n_nodes - 1)
                        r = error_setf(e, -EOPNOTSUPP, "The model's output \"%s\" is not its last layer",
                                       oname ? oname : "?");
        }
        if (r >= 0)
                r = bb_graph_validate(g, e);
        if (r < 0) {
                keras_graph_free_weights(g);
                return r;
        }
        return 0;
}
