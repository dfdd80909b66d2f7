/* SPDX-License-Identifier: MIT */
/* The JavaScript object-literal reader of the TF.js bundle, and its base64. */
#include "fuzz-util.h"
#include "jsobj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Error e = {};
        char *json = NULL;
        size_t end;

        /* the exact bytes, no NUL after them: a read past the end is a crash */
        if (jsobj_to_json((const char *)data, size, &json, &end, &e) >= 0) {
                FUZZ_CHECK(end <= size);
                free(json);
        }
        fuzz_check_text(e.message);
        e = (Error){};
        if (jsobj_extract_json((const char *)data, size, "modelTopology", &json, &e) >= 0)
                free(json);
        uint8_t *b = NULL;
        size_t n;
        if (base64_decode((const char *)data, size, &b, &n) >= 0) {
                FUZZ_CHECK(n <= size / 4 * 3 + 2);
                free(b);
        }
        return 0;
}
