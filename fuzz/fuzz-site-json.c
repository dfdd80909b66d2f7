/* SPDX-License-Identifier: MIT */
/* The site's answers: posts, one post, a user, a vote, and error bodies (JSON,
 * HTML, text) under any Content-Type. The first byte picks the parser; every
 * string handed on must be clean text. */
#include "e621-json.h"
#include "fuzz-util.h"

static void check_posts(E621PostList *l)
{
        for (size_t i = 0; l && i < l->n_posts; i++) {
                const Post *p = l->posts[i];
                for (size_t t = 0; t < p->n_tags; t++) {
                        fuzz_check_text(p->tags[t].name);
                        fuzz_check_text(p->tags[t].category);
                }
                fuzz_check_text(p->file_url);
                fuzz_check_text(p->sample_url);
                fuzz_check_text(p->preview_url);
                fuzz_check_text(p->ext);
                FUZZ_CHECK(!p->md5 || is_hex_digest(p->md5, 32));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const types[] = {"application/json", "text/html; charset=utf-8",
                                            "text/plain",       NULL,
                                            "image/jpeg",       "text/html\x1b]0;x\a"};
        _cleanup_free_ char *message = NULL;
        if (size < 1)
                return 0;
        unsigned pick = data[0];
        const char *body = (const char *)data + 1;
        size--;

        switch (pick % 5) {
        case 0: {
                E621PostList *l = NULL;
                if (e621_parse_posts(body, size, &l, &message) >= 0)
                        check_posts(l);
                e621_post_list_free(l);
                break;
        }
        case 1: {
                E621PostList *l = NULL;
                if (e621_parse_post_response(body, size, &l, &message) >= 0)
                        check_posts(l);
                e621_post_list_free(l);
                break;
        }
        case 2: {
                E621User u;
                E621UserStorage *s = NULL;
                if (e621_parse_user(body, size, &u, &s, &message) >= 0) {
                        fuzz_check_text(u.name);
                        if (u.blacklisted_tags)
                                FUZZ_CHECK(text_is_clean(u.blacklisted_tags, strlen(u.blacklisted_tags),
                                                         TEXT_KEEP_NEWLINES));
                }
                e621_user_storage_free(s);
                break;
        }
        case 3: {
                E621VoteResult v;
                if (e621_parse_vote(body, size, &v, &message) >= 0)
                        FUZZ_CHECK(v.our_score >= -1 && v.our_score <= 1);
                break;
        }
        default: {
                char *m = NULL;
                FUZZ_CHECK(e621_error_body_message(types[(pick / 5) % ELEMENTSOF(types)], body, size, &m) >=
                           0);
                fuzz_check_text(m);
                FUZZ_CHECK(!m || strlen(m) <= E621_MESSAGE_MAX);
                free(m);
        }
        }
        fuzz_check_text(message);
        return 0;
}
