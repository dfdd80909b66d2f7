/* SPDX-License-Identifier: MIT */
#include "graph.h"

static const char *const op_names[_BB_OP_MAX] = {
        [BB_OP_INPUT] = "input", [BB_OP_CONV] = "conv", [BB_OP_DWCONV] = "dwconv",
        [BB_OP_ADD] = "add",     [BB_OP_GAP] = "gap",   [BB_OP_DENSE] = "dense",
};
static const char *const act_names[_BB_ACT_MAX] = {
        [BB_ACT_LINEAR] = "linear",
        [BB_ACT_RELU] = "relu",
        [BB_ACT_RELU6] = "relu6",
        [BB_ACT_SOFTMAX] = "softmax",
};

const char *bb_op_to_string(BbOp op)
{
        return op >= 0 && op < _BB_OP_MAX ? op_names[op] : NULL;
}

BbOp bb_op_from_string(const char *s)
{
        for (int i = 0; i < _BB_OP_MAX; i++)
                if (s && streq(s, op_names[i]))
                        return (BbOp)i;
        return _BB_OP_INVALID;
}

const char *bb_act_to_string(BbAct a)
{
        return a >= 0 && a < _BB_ACT_MAX ? act_names[a] : NULL;
}

BbAct bb_act_from_string(const char *s)
{
        for (int i = 0; i < _BB_ACT_MAX; i++)
                if (s && streq(s, act_names[i]))
                        return (BbAct)i;
        return _BB_ACT_INVALID;
}

size_t bb_node_weight_count(const BbNode *n)
{
        switch (n->op) {
        case BB_OP_CONV:
                return (size_t)n->k * n->k * n->cin * n->c;
        case BB_OP_DWCONV:
                return (size_t)n->k * n->k * n->c;
        case BB_OP_DENSE:
                return (size_t)n->cin * n->c;
        default:
                return 0;
        }
}

size_t bb_node_bias_count(const BbNode *n)
{
        return (n->op == BB_OP_CONV || n->op == BB_OP_DWCONV || n->op == BB_OP_DENSE) ? n->c : 0;
}

int bb_graph_find(const BbGraph *g, const char *out_name)
{
        for (unsigned i = 0; i < g->n_nodes; i++)
                if (streq(g->nodes[i].out_name, out_name) || streq(g->nodes[i].name, out_name))
                        return (int)i;
        return -ENOENT;
}

static int conv_out(unsigned in, unsigned k, unsigned s, unsigned p0, unsigned p1, unsigned *ret)
{
        if (s == 0 || in + p0 + p1 < k)
                return -EINVAL;
        *ret = (in + p0 + p1 - k) / s + 1;
        return 0;
}

int bb_graph_validate(const BbGraph *g, Error *e)
{
        if (g->n_nodes < 2 || g->nodes[0].op != BB_OP_INPUT)
                return error_setf(e, -EBADMSG, "The graph has no input node");
        for (unsigned i = 1; i < g->n_nodes; i++) {
                const BbNode *n = &g->nodes[i];
                unsigned need = n->op == BB_OP_ADD ? 2 : 1;
                for (unsigned j = 0; j < 2; j++)
                        if ((j < need) != (n->in[j] >= 0) || n->in[j] >= (int)i)
                                return error_setf(e, -EBADMSG, "Node \"%s\" has bad inputs", n->name);
                const BbNode *a = &g->nodes[n->in[0]];
                unsigned h = 0, w = 0, c = 0;
                switch (n->op) {
                case BB_OP_CONV:
                case BB_OP_DWCONV:
                        if (n->k == 0 || n->k > 15 || a->op == BB_OP_GAP || a->op == BB_OP_DENSE ||
                            conv_out(a->h, n->k, n->stride, n->pad[0], n->pad[1], &h) < 0 ||
                            conv_out(a->w, n->k, n->stride, n->pad[2], n->pad[3], &w) < 0 || n->cin != a->c)
                                return error_setf(e, -EBADMSG, "Node \"%s\" has a bad convolution shape",
                                                  n->name);
                        c = n->op == BB_OP_CONV ? n->c : a->c;
                        break;
                case BB_OP_ADD: {
                        const BbNode *b = &g->nodes[n->in[1]];
                        if (a->h != b->h || a->w != b->w || a->c != b->c)
                                return error_setf(e, -EBADMSG, "Add \"%s\" sees different shapes", n->name);
                        h = a->h, w = a->w, c = a->c;
                        break;
                }
                case BB_OP_GAP:
                        h = w = 1, c = a->c;
                        break;
                case BB_OP_DENSE: {
                        /* h·w·c of a 4096×4096×65536 map does not fit 32 bits */
                        uint64_t in = (uint64_t)a->h * a->w * a->c;
                        if ((uint64_t)n->cin != in)
                                return error_setf(e, -EBADMSG,
                                                  "Dense \"%s\" has %u inputs, its input has %llu", n->name,
                                                  n->cin, (unsigned long long)in);
                        h = w = 1, c = n->c;
                        break;
                }
                default:
                        return error_setf(e, -EBADMSG, "Node \"%s\" has a bad op", n->name);
                }
                if (n->h != h || n->w != w || n->c != c || c == 0 || c > 65536)
                        return error_setf(e, -EBADMSG, "Node \"%s\" has shape %ux%ux%u, expected %ux%ux%u",
                                          n->name, n->h, n->w, n->c, h, w, c);
                if (n->act == BB_ACT_SOFTMAX && n->op != BB_OP_DENSE)
                        return error_setf(e, -EBADMSG, "Node \"%s\": softmax only after a dense layer",
                                          n->name);
        }
        return 0;
}

static int add_uint(json_object *o, const char *key, unsigned v)
{
        return json_object_object_add(o, key, json_object_new_int64(v)) < 0 ? -ENOMEM : 0;
}

int bb_graph_to_json(const BbGraph *g, char **ret)
{
        json_object *arr = json_object_new_array();
        if (!arr)
                return -ENOMEM;
        for (unsigned i = 0; i < g->n_nodes; i++) {
                const BbNode *n = &g->nodes[i];
                json_object *o = json_object_new_object(), *in = json_object_new_array(),
                            *pad = json_object_new_array();
                if (!o || !in || !pad) {
                        json_object_put(o), json_object_put(in), json_object_put(pad), json_object_put(arr);
                        return -ENOMEM;
                }
                for (unsigned j = 0; j < 2; j++)
                        if (n->in[j] >= 0)
                                json_object_array_add(in, json_object_new_int(n->in[j]));
                for (unsigned j = 0; j < 4; j++)
                        json_object_array_add(pad, json_object_new_int64(n->pad[j]));
                json_object_object_add(o, "name", json_object_new_string(n->name));
                json_object_object_add(o, "out", json_object_new_string(n->out_name));
                json_object_object_add(o, "op", json_object_new_string(bb_op_to_string(n->op)));
                json_object_object_add(o, "act", json_object_new_string(bb_act_to_string(n->act)));
                json_object_object_add(o, "in", in);
                json_object_object_add(o, "pad", pad);
                json_object_object_add(o, "tf_padding",
                                       json_object_new_string(n->tf_same ? "same" : "valid"));
                (void)add_uint(o, "k", n->k);
                (void)add_uint(o, "stride", n->stride);
                (void)add_uint(o, "h", n->h);
                (void)add_uint(o, "w", n->w);
                (void)add_uint(o, "c", n->c);
                (void)add_uint(o, "cin", n->cin);
                json_object_object_add(o, "block", json_object_new_int(n->block));
                json_object_array_add(arr, o);
        }
        const char *s = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
        char *d = s ? strdup(s) : NULL;
        json_object_put(arr);
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

static int get_uint(json_object *o, const char *key, unsigned max, unsigned *ret)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return -EBADMSG;
        int64_t x = json_object_get_int64(v);
        if (x < 0 || x > (int64_t)max)
                return -EBADMSG;
        *ret = (unsigned)x;
        return 0;
}

static int get_str(json_object *o, const char *key, char *buf, size_t size)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return -EBADMSG;
        const char *s = json_object_get_string(v);
        if (strlen(s) >= size)
                return -EBADMSG;
        strcpy(buf, s);
        return 0;
}

static int node_from_json(json_object *o, unsigned idx, BbNode *n)
{
        char op[16], act[16], tfpad[16];
        json_object *in, *pad, *blk;
        int r = 0;

        *n = (BbNode){.in = {-1, -1}};
        if (get_str(o, "name", n->name, sizeof(n->name)) < 0 ||
            get_str(o, "out", n->out_name, sizeof(n->out_name)) < 0 ||
            get_str(o, "op", op, sizeof(op)) < 0 || get_str(o, "act", act, sizeof(act)) < 0 ||
            get_str(o, "tf_padding", tfpad, sizeof(tfpad)) < 0)
                return -EBADMSG;
        n->op = bb_op_from_string(op);
        n->act = bb_act_from_string(act);
        if ((int)n->op < 0 || (int)n->act < 0)
                return -EBADMSG;
        n->tf_same = streq(tfpad, "same");
        r |= get_uint(o, "k", 15, &n->k);
        r |= get_uint(o, "stride", 16, &n->stride);
        r |= get_uint(o, "h", 4096, &n->h);
        r |= get_uint(o, "w", 4096, &n->w);
        r |= get_uint(o, "c", 65536, &n->c);
        r |= get_uint(o, "cin", 1u << 24, &n->cin);
        if (r != 0)
                return -EBADMSG;
        if (!json_object_object_get_ex(o, "block", &blk) || !json_object_is_type(blk, json_type_int))
                return -EBADMSG;
        n->block = json_object_get_int(blk);
        if (!json_object_object_get_ex(o, "in", &in) || !json_object_is_type(in, json_type_array) ||
            json_object_array_length(in) > 2)
                return -EBADMSG;
        for (size_t j = 0; j < json_object_array_length(in); j++) {
                json_object *v = json_object_array_get_idx(in, j);
                int x = json_object_get_int(v);
                if (!json_object_is_type(v, json_type_int) || x < 0 || (unsigned)x >= idx)
                        return -EBADMSG;
                n->in[j] = x;
        }
        if (!json_object_object_get_ex(o, "pad", &pad) || !json_object_is_type(pad, json_type_array) ||
            json_object_array_length(pad) != 4)
                return -EBADMSG;
        for (size_t j = 0; j < 4; j++) {
                json_object *v = json_object_array_get_idx(pad, j);
                int x = json_object_get_int(v);
                if (!json_object_is_type(v, json_type_int) || x < 0 || x > 15)
                        return -EBADMSG;
                n->pad[j] = (unsigned)x;
        }
        return 0;
}

int bb_graph_from_json(const char *s, BbGraph *g, Error *e)
{
        json_object *arr = json_tokener_parse(s);
        int r = 0;

        if (!arr || !json_object_is_type(arr, json_type_array) ||
            json_object_array_length(arr) > BB_MAX_NODES) {
                json_object_put(arr);
                return error_setf(e, -EBADMSG, "The weight file's graph is not a JSON array of nodes");
        }
        g->n_nodes = (unsigned)json_object_array_length(arr);
        for (unsigned i = 0; i < g->n_nodes && r >= 0; i++)
                if (node_from_json(json_object_array_get_idx(arr, i), i, &g->nodes[i]) < 0)
                        r = error_setf(e, -EBADMSG, "The weight file's graph node %u is malformed", i);
        json_object_put(arr);
        if (r < 0)
                return r;
        return bb_graph_validate(g, e);
}
