/* SPDX-License-Identifier: MIT */
#include "backbone-embed.h"

/* The C pass gains nothing from larger batches; 8 keeps progress lively. */
#define REF_BATCH 8u

int backbone_embed_files(const Backbone *bb, BackboneVk *v, const char *const *paths, size_t n,
                         float *ret_embed, float *ret_probs, int *ret_status, BackboneProgress progress,
                         void *userdata)
{
        size_t batch = v ? backbone_vk_max_batch(v) : REF_BATCH;
        _cleanup_free_ uint8_t *rgb = malloc(batch * BACKBONE_INPUT_FLOATS);
        _cleanup_free_ float *px = v ? NULL : malloc(batch * BACKBONE_INPUT_FLOATS * sizeof(float));
        _cleanup_free_ float *emb = malloc(batch * BACKBONE_EMBED_DIM * sizeof(float));
        _cleanup_free_ float *probs = malloc(batch * BACKBONE_N_CLASSES * sizeof(float));
        _cleanup_free_ size_t *idx = malloc(batch * sizeof(size_t));

        if (!bb || (!paths && n > 0) || !ret_status)
                return -EINVAL;
        if (!rgb || !emb || !probs || !idx || (!v && !px))
                return -ENOMEM;
        for (size_t start = 0; start < n;) {
                size_t end = MIN(n, start + batch), m = 0;
                int r;

                /* decode this batch, leaving out the images that fail */
                for (size_t i = start; i < end; i++) {
                        r = backbone_image_load_rgb8(paths[i], rgb + m * BACKBONE_INPUT_FLOATS);
                        ret_status[i] = r < 0 ? r : 0;
                        if (ret_embed)
                                memset(ret_embed + i * BACKBONE_EMBED_DIM, 0,
                                       BACKBONE_EMBED_DIM * sizeof(float));
                        if (ret_probs)
                                memset(ret_probs + i * BACKBONE_N_CLASSES, 0,
                                       BACKBONE_N_CLASSES * sizeof(float));
                        if (r >= 0)
                                idx[m++] = i;
                }
                if (m > 0) {
                        if (v)
                                r = backbone_vk_forward(v, rgb, m, probs, emb);
                        else {
                                for (size_t j = 0; j < m; j++)
                                        backbone_pixels_from_rgb8(rgb + j * BACKBONE_INPUT_FLOATS,
                                                                  px + j * BACKBONE_INPUT_FLOATS);
                                r = backbone_forward_ref(bb, px, m, probs, emb);
                        }
                        if (r < 0)
                                return r;
                        for (size_t j = 0; j < m; j++) {
                                if (ret_embed)
                                        memcpy(ret_embed + idx[j] * BACKBONE_EMBED_DIM,
                                               emb + j * BACKBONE_EMBED_DIM,
                                               BACKBONE_EMBED_DIM * sizeof(float));
                                if (ret_probs)
                                        memcpy(ret_probs + idx[j] * BACKBONE_N_CLASSES,
                                               probs + j * BACKBONE_N_CLASSES,
                                               BACKBONE_N_CLASSES * sizeof(float));
                        }
                }
                start = end;
                if (progress && progress(start, n, userdata) < 0)
                        return -ECANCELED;
        }
        return 0;
}
