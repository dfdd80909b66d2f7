/* SPDX-License-Identifier: MIT */
/* The package reader: a gzip'd (or plain) tar with the files the importer
 * wants, from a descriptor, as ImportBackbone reads a caller's file. */
#include "fuzz-util.h"
#include "pkg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const wanted[] = {"package.json", "dist/models/mobilenet_v2/model.min.js",
                                             "dist/models/mobilenet_v2/group1-shard1of1.min.js"};
        PkgBlob b[3];
        Error e = {};
        atomic_bool cancel = false;
        int fd = fuzz_memfd(data, size);

        if (pkg_read_fd(fd, "fuzz", wanted, 3, &cancel, b, &e) >= 0) {
                for (size_t i = 0; i < 3; i++)
                        FUZZ_CHECK(b[i].data && b[i].size <= PKG_MAX_FILE && b[i].data[b[i].size] == '\0');
                pkg_blobs_free(b, 3);
        }
        fuzz_check_text(e.message);
        (void)close(fd);
        return 0;
}
