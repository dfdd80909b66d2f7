/* SPDX-License-Identifier: MIT */
/* The config file and the remembered login, read from a file of ours (mode
 * 0600, as the credentials reader insists). FLUFF_SITE is unset so the file
 * alone decides. */
#include "config.h"
#include "credentials.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Config *c = NULL;
        Credentials *cr = NULL;
        Error err = {};

        (void)unsetenv("FLUFF_SITE");
        const char *path = fuzz_file("config", data, size);
        if (config_load(path, &c, &err) >= 0) {
                FUZZ_CHECK(c->site && (strneq(c->site, "https://", 8) || strneq(c->site, "http://", 7)));
                for (char **h = c->image_hosts; h && *h; h++)
                        fuzz_check_text(*h);
                config_free(c);
        }
        err = (Error){};
        path = fuzz_file("credentials", data, size);
        if (credentials_load(path, &cr, &err) >= 0) {
                FUZZ_CHECK(credentials_username_valid(cr->username));
                FUZZ_CHECK(credentials_api_key_valid(cr->api_key));
                credentials_free(cr);
        }
        /* the content may be a key: an error names the file and a line only */
        FUZZ_CHECK(!error_is_set(&err) || strncmp(err.message, path, strlen(path)) == 0);
        return 0;
}
