/* SPDX-License-Identifier: MIT */
/* The backbone weight file fluffd loads at start (safetensors: an 8-byte
 * length, a JSON header with the graph, then float32 data). */
#include "backbone.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Backbone *bb = NULL;
        Error err = {};
        const char *path = fuzz_file("backbone.safetensors", data, size);

        if (backbone_load(path, &bb, &err) >= 0) {
                fuzz_check_text(backbone_source_version(bb));
                FUZZ_CHECK(is_hex_digest(backbone_id(bb), 64));
                backbone_free(bb);
        }
        fuzz_check_text(err.message);
        return 0;
}
