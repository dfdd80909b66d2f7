/* SPDX-License-Identifier: MIT */
#pragma once

/* The backbone's part of the Manager interface (a second vtable on the same
 * object and interface): ImportBackbone, ClassifyImage, Embed and the
 * Backbone*, Vulkan* and EmbeddedCount properties. */

typedef struct Daemon Daemon;

int bus_backbone_register(Daemon *d);
void bus_backbone_emit_changed(Daemon *d); /* BackboneId, BackboneInfo, EmbeddedCount */
