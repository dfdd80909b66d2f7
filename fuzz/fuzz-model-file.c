/* SPDX-License-Identifier: MIT */
/* The taste model's file (fluff-head-1), as fluffd reads it at start. */
#include "fuzz-util.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Model *m = NULL;
        Error err = {};

        if (model_load_from_memory(data, size, &m, &err) >= 0)
                model_free(m);
        fuzz_check_text(err.message);
        return 0;
}
