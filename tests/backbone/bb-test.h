/* SPDX-License-Identifier: MIT */
#pragma once

/* For the backbone's C tests: the nsfwjs package, fetched once with npm into
 * the build folder (tools/fetch-backbone.sh), and the weights imported from it. */

#include <sys/wait.h>

#include "backbone.h"
#include "tests.h"

/* The tarball's path (owned); skips the test (77) when npm is absent or the
 * package cannot be fetched. */
static inline char *bbt_fetch_package(void)
{
        char line[4096] = "";
        FILE *p = popen(FLUFF_FETCH_BACKBONE " " FLUFF_BACKBONE_CACHE, "r");
        ASSERT_TRUE(p);
        if (!fgets(line, sizeof(line), p))
                line[0] = '\0';
        int st = pclose(p);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
                TEST_SKIP("npm is not installed, so the nsfwjs package cannot be fetched");
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                TEST_SKIP("the nsfwjs package could not be fetched with npm (see the message above)");
        line[strcspn(line, "\n")] = '\0';
        char *s = strdup(line);
        ASSERT_TRUE(s);
        return s;
}

/* Imports the package into dir/backbone.safetensors and loads it. */
static inline Backbone *bbt_load(const char *dir)
{
        _cleanup_free_ char *pkg = bbt_fetch_package(), *dest = NULL;
        Error err = {};
        Backbone *bb = NULL;

        ASSERT_TRUE(asprintf(&dest, "%s/backbone.safetensors", dir) > 0);
        if (backbone_import(pkg, dest, NULL, &err) < 0)
                TEST_FAIL("import failed: %s", err.message);
        ASSERT_OK(backbone_load(dest, &bb, NULL));
        return bb;
}
