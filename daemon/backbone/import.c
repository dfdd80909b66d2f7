/* SPDX-License-Identifier: MIT */
#include <libgen.h>
#include <openssl/evp.h>

#include "backbone.h"
#include "fluff/text.h"
#include "import-keras.h"
#include "jsobj.h"
#include "pkg.h"
#include "safetensors.h"

#define MODEL_DIR "dist/models/mobilenet_v2/"

enum { F_PACKAGE_JSON, F_MODEL, F_SHARD, _F_MAX };
static const char *const pkg_files[_F_MAX] = {
        [F_PACKAGE_JSON] = "package.json",
        [F_MODEL] = MODEL_DIR "model.min.js",
        [F_SHARD] = MODEL_DIR "group1-shard1of1.min.js",
};

static void json_object_putp(json_object **o)
{
        if (*o)
                json_object_put(*o);
}

/* The id names the exact source bytes, so embeddings cached under it are
 * never mixed with another model's. */
static int hash_source(const uint8_t *weights, size_t wsize, const char *topo, size_t tsize, char ret[65])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
                 EVP_DigestUpdate(ctx, weights, wsize) && EVP_DigestUpdate(ctx, topo, tsize) &&
                 EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32;
        EVP_MD_CTX_free(ctx);
        if (!ok)
                return -EIO;
        for (unsigned i = 0; i < 32; i++)
                (void)snprintf(ret + 2 * i, 3, "%02x", md[i]);
        return 0;
}

static int check_package_json(const PkgBlob *b, char *ret_version, size_t size, Error *e)
{
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(b->data);
        json_object *name, *version;

        /* a JSON null passes json_object_object_get_ex: every type is checked */
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "name", &name) ||
            !json_object_object_get_ex(o, "version", &version) ||
            !json_object_is_type(name, json_type_string) || !json_object_is_type(version, json_type_string))
                return error_setf(e, -EBADMSG, "The package's package.json is not valid");
        if (!streq(json_object_get_string(name), "nsfwjs"))
                return error_setf(e, -EBADMSG, "The package is \"%.*s\", not nsfwjs",
                                  (int)utf8_prefix_len(json_object_get_string(name), 64),
                                  json_object_get_string(name));
        /* the version is shown by status: clean text, cut on a character boundary */
        const char *v = json_object_get_string(version);
        if (!text_is_clean(v, strlen(v), 0) || strlen(v) >= size)
                return error_setf(e, -EBADMSG, "The package's version is not a short line of text");
        (void)snprintf(ret_version, size, "%s", v);
        return 0;
}

static int parse_model(const PkgBlob *b, json_object **ret, Error *e)
{
        _cleanup_free_ char *json = NULL;
        int r;

        r = jsobj_extract_json(b->data, b->size, "modelTopology", &json, e);
        if (r < 0)
                return r;
        json_tokener *tok = json_tokener_new_ex(128);
        if (!tok)
                return error_setf(e, -ENOMEM, "Out of memory");
        json_object *o = json_tokener_parse_ex(tok, json, (int)strlen(json));
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        json_tokener_free(tok);
        if (!o || jerr != json_tokener_success) {
                json_object_put(o);
                return error_setf(e, -EBADMSG, "The model topology is not valid JSON after conversion: %s",
                                  json_tokener_error_desc(jerr));
        }
        *ret = o;
        return 0;
}

/* "group1-shard1of1" is the only shard this version ships; any other layout is
 * a package we have not checked. */
static int check_manifest_paths(json_object *manifest, Error *e)
{
        json_object *paths = NULL, *p0;
        if (!json_object_is_type(manifest, json_type_array) || json_object_array_length(manifest) != 1 ||
            !json_object_object_get_ex(json_object_array_get_idx(manifest, 0), "paths", &paths) ||
            !json_object_is_type(paths, json_type_array) || json_object_array_length(paths) != 1 ||
            !json_object_is_type((p0 = json_object_array_get_idx(paths, 0)), json_type_string) ||
            !streq(json_object_get_string(p0), "group1-shard1of1"))
                return error_setf(e, -EOPNOTSUPP,
                                  "The weight manifest does not name the one shard expected");
        return 0;
}

static int features_json(const BbGraph *g, char **ret, Error *e)
{
        _cleanup_(json_object_putp) json_object *arr = json_object_new_array();
        if (!arr)
                return -ENOMEM;
        for (int f = 0; f < _BACKBONE_FEAT_MAX; f++) {
                const BackboneFeatureInfo *fi = backbone_feature_info((BackboneFeatureSet)f);
                int idx = bb_graph_find(g, fi->layer);
                if (idx < 0 || g->nodes[idx].h != fi->h || g->nodes[idx].w != fi->w ||
                    g->nodes[idx].c != fi->c)
                        return error_setf(e, -EBADMSG, "The model has no layer \"%s\" of shape %ux%ux%u",
                                          fi->layer, fi->h, fi->w, fi->c);
                json_object *o = json_object_new_object();
                if (!o)
                        return -ENOMEM;
                json_object_object_add(o, "name", json_object_new_string(fi->name));
                json_object_object_add(o, "layer", json_object_new_string(fi->layer));
                json_object_object_add(o, "pool", json_object_new_string("mean,max"));
                json_object_object_add(o, "dim", json_object_new_int((int)fi->dim));
                json_object_object_add(o, "offset", json_object_new_int((int)fi->offset));
                json_object_array_add(arr, o);
        }
        *ret = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
        return *ret ? 0 : -ENOMEM;
}

static int write_weights(const BbGraph *g, const char *id, const char *version, const char *dest, Error *e)
{
        StTensor t[2 * BB_MAX_NODES];
        char names[2 * BB_MAX_NODES][BB_NAME_MAX + 8];
        _cleanup_free_ char *graph = NULL, *feats = NULL, *classes = NULL;
        _cleanup_free_ void *buf = NULL;
        size_t n = 0, size;
        int r;

        for (unsigned i = 0; i < g->n_nodes; i++) {
                const BbNode *nd = &g->nodes[i];
                if (!bb_node_weight_count(nd))
                        continue;
                StTensor *w = &t[n], *b = &t[n + 1];
                (void)snprintf(names[n], sizeof(names[n]), "%s.weight", nd->name);
                (void)snprintf(names[n + 1], sizeof(names[n + 1]), "%s.bias", nd->name);
                *w = (StTensor){.name = names[n], .data = nd->weight};
                *b = (StTensor){.name = names[n + 1], .data = nd->bias, .n_dims = 1, .dims = {nd->c}};
                if (nd->op == BB_OP_CONV)
                        w->n_dims = 4, w->dims[0] = w->dims[1] = nd->k, w->dims[2] = nd->cin,
                        w->dims[3] = nd->c;
                else if (nd->op == BB_OP_DWCONV)
                        w->n_dims = 3, w->dims[0] = w->dims[1] = nd->k, w->dims[2] = nd->c;
                else
                        w->n_dims = 2, w->dims[0] = nd->cin, w->dims[1] = nd->c;
                n += 2;
        }
        r = bb_graph_to_json(g, &graph);
        if (r < 0)
                return error_setf(e, r, "Out of memory");
        r = features_json(g, &feats, e);
        if (r < 0)
                return error_setf(e, r, "Out of memory");
        if (asprintf(&classes, "%s,%s,%s,%s,%s", backbone_class_names[0], backbone_class_names[1],
                     backbone_class_names[2], backbone_class_names[3], backbone_class_names[4]) < 0)
                return error_setf(e, -ENOMEM, "Out of memory");

        /* clang-format off */
        const char *meta[] = {
                "format", "fluff-backbone-1",
                "backbone_id", id,
                "source", "nsfwjs",
                "source_version", version,
                "source_model", "mobilenet_v2",
                "graph", graph,
                "input", "224x224x3 NHWC RGB float32",
                "normalisation", "x/255",
                "classes", classes,
                "feature_sets", feats,
                "bn_folded", "true",
                NULL,
        };
        /* clang-format on */
        r = st_build(t, n, meta, &buf, &size);
        if (r < 0)
                return error_setf(e, r, "Out of memory");

        _cleanup_free_ char *dir = strdup(dest);
        if (!dir)
                return error_setf(e, -ENOMEM, "Out of memory");
        r = mkdir_parents(dirname(dir), 0755);
        if (r < 0)
                return error_setf(e, r, "Cannot create the folder for \"%s\": %s", dest, strerror(-r));
        r = write_file_atomic(dest, buf, size, 0644);
        if (r < 0)
                return error_setf(e, r, "Cannot write \"%s\": %s", dest, strerror(-r));
        return 0;
}

/* src_path names the package in messages; with fd >= 0 the package is read
 * from fd (a regular file the caller opened), else from src_path. */
static int import_internal(const char *src_path, int fd, const char *dest_path, const atomic_bool *cancel,
                           char **ret_id, Error *error)
{
        PkgBlob files[_F_MAX] = {};
        _cleanup_(json_object_putp) json_object *model = NULL;
        _cleanup_free_ uint8_t *bytes = NULL;
        IwSet weights = {};
        BbGraph *g = NULL;
        char version[64], id[65];
        json_object *topo, *manifest;
        size_t nbytes = 0;
        int r;

        r = fd >= 0 ? pkg_read_fd(fd, src_path, pkg_files, _F_MAX, cancel, files, error)
                    : pkg_read_files(src_path, pkg_files, _F_MAX, files, error);
        if (r < 0)
                goto finish;
        r = check_package_json(&files[F_PACKAGE_JSON], version, sizeof(version), error);
        if (r < 0)
                goto finish;
        r = parse_model(&files[F_MODEL], &model, error);
        if (r < 0)
                goto finish;
        if (!json_object_object_get_ex(model, "modelTopology", &topo) ||
            !json_object_object_get_ex(model, "weightsManifest", &manifest) ||
            !json_object_is_type(topo, json_type_object)) {
                r = error_setf(error, -EBADMSG, "The model bundle lacks its topology or weight manifest");
                goto finish;
        }
        r = check_manifest_paths(manifest, error);
        if (r < 0)
                goto finish;
        r = jsobj_extract_base64(files[F_SHARD].data, files[F_SHARD].size, &bytes, &nbytes, error);
        if (r < 0)
                goto finish;
        r = iw_decode(manifest, bytes, nbytes, &weights, error);
        if (r < 0)
                goto finish;
        g = calloc(1, sizeof(BbGraph));
        if (!g) {
                r = error_setf(error, -ENOMEM, "Out of memory");
                goto finish;
        }
        r = keras_build_graph(topo, &weights, g, error);
        if (r < 0)
                goto finish;
        if (g->nodes[0].h != BACKBONE_INPUT_SIZE || g->nodes[0].w != BACKBONE_INPUT_SIZE ||
            g->nodes[0].c != 3 || g->nodes[g->n_nodes - 1].c != BACKBONE_N_CLASSES ||
            g->nodes[g->n_nodes - 1].act != BB_ACT_SOFTMAX) {
                r = error_setf(error, -EBADMSG, "The model is not a 224×224 RGB → 5-class softmax network");
                goto finish;
        }
        r = hash_source(bytes, nbytes, files[F_MODEL].data, files[F_MODEL].size, id);
        if (r < 0) {
                r = error_setf(error, r, "Cannot compute the backbone id");
                goto finish;
        }
        r = write_weights(g, id, version, dest_path, error);

finish:
        if (g)
                keras_graph_free_weights(g);
        free(g);
        iw_set_done(&weights);
        pkg_blobs_free(files, _F_MAX);
        if (r < 0) {
                log_debug_errno(r, "Importing \"%s\" failed: %s", src_path, error_message(error, r));
                return error_is_set(error) ? r : error_set_errno(error, r);
        }
        if (ret_id) {
                char *s = strdup(id);
                if (!s)
                        return -ENOMEM;
                *ret_id = s;
        }
        return 0;
}

int backbone_import(const char *src_path, const char *dest_path, char **ret_id, Error *error)
{
        return import_internal(src_path, -EBADF, dest_path, NULL, ret_id, error);
}

int backbone_import_fd(int fd, const char *name, const char *dest_path, const atomic_bool *cancel,
                       char **ret_id, Error *error)
{
        if (fd < 0)
                return -EBADF;
        return import_internal(name ?: "the package", fd, dest_path, cancel, ret_id, error);
}
