/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cnn.h"

int cnn_arch_check(const CnnArch *a)
{
        if (!a || a->n_layers == 0 || a->n_layers > CNN_LAYERS_MAX || a->input == 0 ||
            a->input > CNN_INPUT_MAX || a->stored < a->input || a->stored > CNN_INPUT_MAX)
                return -EINVAL;
        for (unsigned l = 0; l < a->n_layers; l++)
                if (a->channels[l] == 0 || a->channels[l] > CNN_CHANNELS_MAX)
                        return -EINVAL;
        return 0;
}

uint32_t cnn_feature_dim(const CnnArch *a)
{
        return 2 * a->channels[a->n_layers - 1];
}

static uint32_t side_after(const CnnArch *a, unsigned l)
{
        uint32_t s = a->input;
        for (unsigned i = 0; i <= l; i++)
                s = (s + 1) / 2;
        return s;
}

void cnn_layer_shape(const CnnArch *a, unsigned l, uint32_t n, ConvShape *ret)
{
        uint32_t side = l == 0 ? a->input : side_after(a, l - 1);
        ConvShape s = {.n = n,
                       .h = side,
                       .w = side,
                       .c = l == 0 ? 3 : a->channels[l - 1],
                       .k = a->channels[l],
                       .kh = 3,
                       .kw = 3,
                       .stride_h = 2,
                       .stride_w = 2};

        conv_pad_same(side, 3, 2, &s.pad_top, &s.pad_bottom);
        conv_pad_same(side, 3, 2, &s.pad_left, &s.pad_right);
        *ret = s;
}

uint32_t cnn_layer_pixels(const CnnArch *a, unsigned l)
{
        uint32_t s = side_after(a, l);
        return s * s;
}

size_t cnn_param_layout(const CnnArch *a, CnnParam ret[CNN_PARAMS_MAX])
{
        size_t n = 0, off = 0;
        uint32_t c = a->channels[a->n_layers - 1];

        for (unsigned l = 0; l < a->n_layers; l++) {
                uint32_t cin = l == 0 ? 3 : a->channels[l - 1];
                ret[n] = (CnnParam){.offset = off, .rows = 9 * cin, .cols = a->channels[l]};
                snprintf(ret[n].name, sizeof(ret[n].name), CNN_TENSOR_PREFIX "conv%u.weight", l);
                off += cnn_param_count(&ret[n++]);
                ret[n] = (CnnParam){.offset = off, .rows = a->channels[l]};
                snprintf(ret[n].name, sizeof(ret[n].name), CNN_TENSOR_PREFIX "conv%u.bias", l);
                off += cnn_param_count(&ret[n++]);
        }
        ret[n++] = (CnnParam){.name = CNN_TENSOR_PREFIX "fc.mean", .offset = off, .rows = c};
        off += c;
        ret[n++] = (CnnParam){.name = CNN_TENSOR_PREFIX "fc.max", .offset = off, .rows = c};
        off += c;
        ret[n++] = (CnnParam){.name = CNN_TENSOR_PREFIX "fc.bias", .offset = off, .rows = 1};
        return n;
}

int model_cnn_new(const CnnArch *a, ModelCnn **ret)
{
        _cleanup_(model_cnn_freep) ModelCnn *c = NULL;
        CnnParam p[CNN_PARAMS_MAX];
        size_t n;

        if (cnn_arch_check(a) < 0)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->arch = *a;
        n = cnn_param_layout(a, p);
        c->n_params = p[n - 1].offset + cnn_param_count(&p[n - 1]);
        c->params = calloc(c->n_params, sizeof(float));
        if (!c->params)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

ModelCnn *model_cnn_free(ModelCnn *c)
{
        if (!c)
                return NULL;
        free(c->params);
        free(c);
        return NULL;
}

const char *model_image_tower(const Model *m)
{
        if (!isempty(m->backbone))
                return "pretrained backbone";
        if (m->cnn)
                return CNN_IMAGE_TOWER;
        return "none";
}
