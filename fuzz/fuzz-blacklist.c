/* SPDX-License-Identifier: MIT */
/* The user's blacklist as the site sends it, matched against a post. The
 * input is the blacklist text, then (after a NUL) the post's tags, one per
 * line, with "rating:" and "score:" lines setting those fields. */
#include "blacklist.h"
#include "fuzz-util.h"
#include "post.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *nul = memchr(data, 0, size);
        size_t text_len = nul ? (size_t)(nul - data) : size;
        _cleanup_free_ char *text = strndup((const char *)data, text_len);
        _cleanup_free_ char *tags = nul ? strndup((const char *)nul + 1, size - text_len - 1) : strdup("");
        Blacklist *bl = NULL;
        Post p = {.id = 1, .rating = 's'};

        FUZZ_CHECK(text && tags);
        if (blacklist_parse(text, &bl) < 0)
                return 0;
        for (char *save = NULL, *t = strtok_r(tags, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
                if (strneq(t, "rating:", 7))
                        p.rating = t[7];
                else if (strneq(t, "score:", 6))
                        p.score_total = atoi(t + 6);
                else
                        FUZZ_CHECK(post_add_tag(&p, t, "general") >= 0);
        }
        size_t rule = SIZE_MAX;
        if (blacklist_match(bl, &p, &rule))
                FUZZ_CHECK(rule < blacklist_n_rules(bl));
        for (size_t i = 0; i < blacklist_n_rules(bl); i++)
                FUZZ_CHECK(blacklist_rule_text(bl, i));
        for (char *const *w = blacklist_warnings(bl); w && *w; w++)
                FUZZ_CHECK(utf8_is_valid(*w, strlen(*w)));
        for (size_t i = 0; i < p.n_tags; i++) {
                free(p.tags[i].name);
                free(p.tags[i].category);
        }
        free(p.tags);
        blacklist_free(bl);
        return 0;
}
