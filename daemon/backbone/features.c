/* SPDX-License-Identifier: MIT */
#include "backbone.h"

const char *const backbone_class_names[BACKBONE_N_CLASSES] = {"Drawing", "Hentai", "Neutral", "Porn",
                                                              "Sexy"};

static const BackboneFeatureInfo features[_BACKBONE_FEAT_MAX] = {
        [BACKBONE_FEAT_B12_OUT] = {"b12_out", "block_12_add", 14, 14, 96, 192, 0},
        [BACKBONE_FEAT_B13_EXPAND] = {"b13_expand", "block_13_expand_relu", 14, 14, 576, 1152, 192},
        [BACKBONE_FEAT_B16_PROJECT] = {"b16_project", "block_16_project_BN", 7, 7, 320, 640, 1344},
        [BACKBONE_FEAT_FINAL] = {"final", "out_relu", 7, 7, 1280, 2560, 1984},
};
_Static_assert(1984 + 2560 == BACKBONE_EMBED_DIM, "feature offsets must add up to BACKBONE_EMBED_DIM");

const BackboneFeatureInfo *backbone_feature_info(BackboneFeatureSet f)
{
        return f >= 0 && f < _BACKBONE_FEAT_MAX ? &features[f] : NULL;
}

BackboneFeatureSet backbone_feature_from_string(const char *s)
{
        for (int i = 0; i < _BACKBONE_FEAT_MAX; i++)
                if (s && streq(s, features[i].name))
                        return (BackboneFeatureSet)i;
        return _BACKBONE_FEAT_INVALID;
}
