/* SPDX-License-Identifier: MIT */
#include "backbone-internal.h"
#include "fluff/text.h"

/* Generous: the imported file is about 10 MiB. */
#define BACKBONE_MAX_FILE (256u << 20)

Backbone *backbone_free(Backbone *bb)
{
        if (!bb)
                return NULL;
        st_file_done(&bb->file);
        free(bb);
        return NULL;
}

const char *backbone_id(const Backbone *bb)
{
        return bb->id;
}

const char *backbone_source_version(const Backbone *bb)
{
        return bb->version;
}

const struct BbGraph *backbone_graph(const Backbone *bb)
{
        return &bb->graph;
}

static int bind_weights(Backbone *bb, Error *e)
{
        for (unsigned i = 0; i < bb->graph.n_nodes; i++) {
                BbNode *n = &bb->graph.nodes[i];
                char name[BB_NAME_MAX + 8];
                uint64_t wd[4];
                unsigned nd;
                const float *w, *b;
                int r;

                if (!bb_node_weight_count(n))
                        continue;
                if (n->op == BB_OP_CONV)
                        nd = 4, wd[0] = wd[1] = n->k, wd[2] = n->cin, wd[3] = n->c;
                else if (n->op == BB_OP_DWCONV)
                        nd = 3, wd[0] = wd[1] = n->k, wd[2] = n->c;
                else
                        nd = 2, wd[0] = n->cin, wd[1] = n->c;
                (void)snprintf(name, sizeof(name), "%s.weight", n->name);
                r = st_tensor(&bb->file, name, wd, nd, &w, e);
                if (r < 0)
                        return r;
                uint64_t bd = n->c;
                (void)snprintf(name, sizeof(name), "%s.bias", n->name);
                r = st_tensor(&bb->file, name, &bd, 1, &b, e);
                if (r < 0)
                        return r;
                /* the file buffer is ours and writable; the forward pass only reads */
                n->weight = (float *)w;
                n->bias = (float *)b;
        }
        return 0;
}

static int load_internal(const char *path, Backbone *bb, Error *e)
{
        char *buf = NULL;
        size_t size;
        const char *s;
        int r;

        r = read_file_full(path, BACKBONE_MAX_FILE, &buf, &size);
        if (r < 0)
                return error_setf(e, r, "Cannot read the backbone weights \"%s\": %s", path, strerror(-r));
        r = st_parse(buf, size, &bb->file, e);
        if (r < 0)
                return r;
        s = st_meta(&bb->file, "format");
        if (!s || !streq(s, "fluff-backbone-1"))
                return error_setf(e, -EBADMSG, "\"%s\" is not a Fluff backbone weight file", path);
        s = st_meta(&bb->file, "backbone_id");
        if (!s || !is_hex_digest(s, 64))
                return error_setf(e, -EBADMSG, "\"%s\" has no backbone id", path);
        memcpy(bb->id, s, 65);
        s = st_meta(&bb->file, "source_version");
        /* shown by status over the bus: clean text, cut on a character boundary */
        _cleanup_free_ char *version = text_sanitize(s ?: "", strlen(s ?: ""), TEXT_DROP_CONTROLS);
        if (!version)
                return error_setf(e, -ENOMEM, "Out of memory");
        (void)snprintf(bb->version, sizeof(bb->version), "%.*s",
                       (int)utf8_prefix_len(version, sizeof(bb->version) - 1), version);
        s = st_meta(&bb->file, "graph");
        if (!s)
                return error_setf(e, -EBADMSG, "\"%s\" has no graph", path);
        r = bb_graph_from_json(s, &bb->graph, e);
        if (r < 0)
                return r;
        const BbNode *in = &bb->graph.nodes[0], *out = &bb->graph.nodes[bb->graph.n_nodes - 1];
        if (in->h != BACKBONE_INPUT_SIZE || in->w != BACKBONE_INPUT_SIZE || in->c != 3 ||
            out->c != BACKBONE_N_CLASSES || out->act != BB_ACT_SOFTMAX)
                return error_setf(e, -EBADMSG, "\"%s\" is not a 224×224 RGB → 5-class network", path);
        for (int f = 0; f < _BACKBONE_FEAT_MAX; f++) {
                const BackboneFeatureInfo *fi = backbone_feature_info((BackboneFeatureSet)f);
                int idx = bb_graph_find(&bb->graph, fi->layer);
                if (idx < 0 || bb->graph.nodes[idx].h != fi->h || bb->graph.nodes[idx].w != fi->w ||
                    bb->graph.nodes[idx].c != fi->c)
                        return error_setf(e, -EBADMSG, "\"%s\" has no layer \"%s\" for feature set \"%s\"",
                                          path, fi->layer, fi->name);
                bb->feat_node[f] = idx;
        }
        return bind_weights(bb, e);
}

int backbone_load(const char *path, Backbone **ret, Error *error)
{
        _cleanup_(backbone_freep) Backbone *bb = calloc(1, sizeof(Backbone));
        int r;

        if (!bb)
                return -ENOMEM;
        r = load_internal(path, bb, error);
        if (r < 0) {
                log_debug_errno(r, "Loading \"%s\" failed: %s", path, error_message(error, r));
                return error_is_set(error) ? r : error_set_errno(error, r);
        }
        *ret = TAKE_PTR(bb);
        return 0;
}
