/* SPDX-License-Identifier: MIT */
/* The TF.js import: the input is the bundle's model.min.js, then (after a
 * line "--shard--") its weight shard; both go into a package with a valid
 * package.json and through backbone_import_fd() as a caller's file would. */
#include "backbone.h"
#include "fuzz-util.h"

static const char sep[] = "\n--shard--\n";

static void tar_add(uint8_t **buf, size_t *len, const char *name, const void *data, size_t size)
{
        size_t padded = (size + 511) / 512 * 512;
        uint8_t *b = realloc(*buf, *len + 512 + padded + 1024);
        FUZZ_CHECK(b);
        uint8_t *h = b + *len;
        memset(h, 0, 512 + padded + 1024);
        (void)snprintf((char *)h, 100, "%s", name);
        memcpy(h + 100, "0000644", 7);
        (void)snprintf((char *)h + 124, 12, "%011zo", size);
        h[156] = '0';
        memcpy(h + 257,
               "ustar\0"
               "00",
               8);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < 512; i++)
                sum += h[i];
        (void)snprintf((char *)h + 148, 8, "%06o", sum);
        memcpy(h + 512, data, size);
        *buf = b;
        *len += 512 + padded; /* the two zero blocks after it stay for the end */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char pkg_json[] = "{\"name\":\"nsfwjs\",\"version\":\"4.4.0\"}";
        const uint8_t *cut = memmem(data, size, sep, sizeof sep - 1);
        size_t model_len = cut ? (size_t)(cut - data) : size;
        const uint8_t *shard = cut ? cut + sizeof sep - 1 : (const uint8_t *)"";
        size_t shard_len = cut ? size - model_len - (sizeof sep - 1) : 0;
        uint8_t *tar = NULL;
        size_t len = 0;
        char dest[128], *id = NULL;
        Error err = {};

        tar_add(&tar, &len, "package/package.json", pkg_json, sizeof pkg_json - 1);
        tar_add(&tar, &len, "package/dist/models/mobilenet_v2/model.min.js", data, model_len);
        tar_add(&tar, &len, "package/dist/models/mobilenet_v2/group1-shard1of1.min.js", shard, shard_len);
        int fd = fuzz_memfd(tar, len + 1024);
        (void)snprintf(dest, sizeof dest, "%s/backbone.safetensors", fuzz_dir());
        if (backbone_import_fd(fd, "fuzz", dest, NULL, &id, &err) >= 0)
                FUZZ_CHECK(id && is_hex_digest(id, 64));
        fuzz_check_text(err.message);
        free(id);
        free(tar);
        (void)close(fd);
        return 0;
}
