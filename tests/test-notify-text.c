/* SPDX-License-Identifier: MIT */
/* What fluff-notify puts into a notification. Bad input that must be
 * survived: markup in tags and queries, control characters, over-long tags
 * cut inside a multi-byte character, relative or odd image paths, URLs that
 * are not http(s) or would be read as options or by a shell. */
#include "notify.h"
#include "tests.h"

static Batch *batch(size_t n, const char *query, const char *tags)
{
        Batch *b = calloc(1, sizeof(Batch));
        ASSERT_TRUE(b);
        b->watch_id = 7;
        b->query = strdup(query);
        b->posts = calloc(n, sizeof(NotifyPost));
        for (size_t i = 0; i < n; i++)
                b->posts[i] = (NotifyPost){.id = 100 + i,
                                           .score = 0.9 - 0.1 * (double)i,
                                           .label = strdup("like"),
                                           .tags = strdup(tags),
                                           .image = strdup("/tmp/x.jpg"),
                                           .url = strdup("http://127.0.0.1:1/posts/100")};
        b->n_posts = n;
        return b;
}

TEST(markup_escape)
{
        _cleanup_free_ char *e = markup_escape("a<b>&\"c'");
        ASSERT_STREQ(e, "a&lt;b&gt;&amp;&quot;c&apos;");
        _cleanup_free_ char *empty = markup_escape("");
        ASSERT_STREQ(empty, "");
}

TEST(file_uri)
{
        _cleanup_free_ char *u = NULL, *v = NULL;
        ASSERT_OK(file_uri_from_path("/home/a b/.cache/fluff/watches/0123abcd.jpg", &u));
        ASSERT_STREQ(u, "file:///home/a%20b/.cache/fluff/watches/0123abcd.jpg");
        ASSERT_OK(file_uri_from_path("/x/%#?é", &v));
        ASSERT_STREQ(v, "file:///x/%25%23%3F%C3%A9");
        char *w = NULL;
        ASSERT_ERROR(file_uri_from_path("relative.jpg", &w), EINVAL);
        ASSERT_ERROR(file_uri_from_path("", &w), EINVAL);
        ASSERT_TRUE(w == NULL);
}

TEST(url_is_web)
{
        ASSERT_TRUE(url_is_web("https://e926.example/posts/12345"));
        ASSERT_TRUE(url_is_web("http://127.0.0.1:8080/posts/1"));
        ASSERT_TRUE(url_is_web("HTTPS://host/p?a=1&b=2"));
        ASSERT_FALSE(url_is_web(NULL));
        ASSERT_FALSE(url_is_web(""));
        ASSERT_FALSE(url_is_web("file:///etc/passwd"));
        ASSERT_FALSE(url_is_web("javascript:alert(1)"));
        ASSERT_FALSE(url_is_web("--help"));
        ASSERT_FALSE(url_is_web("http://"));
        ASSERT_FALSE(url_is_web("http:///etc/passwd"));
        ASSERT_FALSE(url_is_web("http://@evil"));
        ASSERT_FALSE(url_is_web("http://host/a b"));
        ASSERT_FALSE(url_is_web("http://host/a\nb"));
        ASSERT_FALSE(url_is_web("http://host/$(rm -rf ~)"));
        ASSERT_FALSE(url_is_web("http://host/`id`"));
        ASSERT_FALSE(url_is_web("http://host/\xff"));
}

TEST(single_plain_with_actions)
{
        Batch *b = batch(1, "wolf rating:s", "canine +0.31, <b>x</b> -0.12");
        _cleanup_free_ char *summary = NULL, *body = NULL;
        ASSERT_OK(text_single(b, false, true, &summary, &body));
        ASSERT_STREQ(summary, "Post 100: 90% like");
        ASSERT_STREQ(body, "New on \xe2\x80\x9cwolf rating:s\xe2\x80\x9d\ncanine +0.31, <b>x</b> -0.12");
        batch_free(b);
}

TEST(single_explained)
{
        /* a NewPredictions2 row: the parts of the logit, then the tags */
        Batch *b = batch(2, "wolf", "canine +0.31, feral -0.12");
        for (size_t i = 0; i < 2; i++) {
                b->posts[i].explained = true;
                b->posts[i].image_share = 1.204;
                b->posts[i].tags_share = 0.19;
                b->posts[i].bias = -0.4;
                b->posts[i].logit = 0.994;
        }
        _cleanup_free_ char *summary = NULL, *body = NULL, *gs = NULL, *gb = NULL;
        ASSERT_OK(text_single(b, false, true, &summary, &body));
        ASSERT_STREQ(body, "New on \xe2\x80\x9cwolf\xe2\x80\x9d\n"
                           "image +1.20 + tags +0.19 + bias -0.40 = logit +0.99\ncanine +0.31, feral -0.12");
        ASSERT_OK(text_group(b, false, true, &gs, &gb));
        ASSERT_TRUE(strstr(gb, "100: 90% (image +1.2, tags +0.2), canine +0.31, feral -0.12\n"));
        batch_free(b);
}

TEST(single_markup_without_actions)
{
        Batch *b = batch(1, "a&b", "<i>tag</i> +0.5");
        _cleanup_free_ char *summary = NULL, *body = NULL;
        ASSERT_OK(text_single(b, true, false, &summary, &body));
        ASSERT_STREQ(body, "New on \xe2\x80\x9c"
                           "a&amp;b\xe2\x80\x9d\n&lt;i&gt;tag&lt;/i&gt; +0.5\n"
                           "Vote with: fluffctl like 100 (or fluffctl dislike 100)");
        batch_free(b);
}

TEST(single_odd_scores_and_control_characters)
{
        Batch *b = batch(1, "q\x1b[31m", "t\x01");
        b->posts[0].score = 7.5; /* out of range: clamped, never "750%" */
        _cleanup_free_ char *summary = NULL, *body = NULL;
        ASSERT_OK(text_single(b, false, true, &summary, &body));
        ASSERT_STREQ(summary, "Post 100: 100% like");
        ASSERT_TRUE(strchr(body, '\x1b') == NULL);
        ASSERT_TRUE(strchr(body, '\x01') == NULL);
        batch_free(b);
}

TEST(long_tags_cut_on_a_character)
{
        char tags[400];
        /* "é" is two bytes; 161 bytes of "a" + "é"… puts byte 160 inside one. */
        memset(tags, 'a', 159);
        strcpy(tags + 159, "\xc3\xa9\xc3\xa9\xc3\xa9 rest");
        Batch *b = batch(1, "q", tags);
        _cleanup_free_ char *summary = NULL, *body = NULL;
        ASSERT_OK(text_single(b, false, true, &summary, &body));
        ASSERT_TRUE(utf8_is_valid(body, strlen(body)));
        const char *t = strchr(body, '\n') + 1;
        ASSERT_EQ(strlen(t), 159 + strlen("…"));
        batch_free(b);
}

TEST(group)
{
        Batch *b = batch(7, "<q>", "tag +0.1");
        _cleanup_free_ char *summary = NULL, *body = NULL, *s2 = NULL, *b2 = NULL;
        ASSERT_OK(text_group(b, true, true, &summary, &body));
        /* Summaries are plain text everywhere: not escaped. */
        ASSERT_STREQ(summary, "7 new posts on \xe2\x80\x9c<q>\xe2\x80\x9d");
        ASSERT_TRUE(strstr(body, "100: 90%, tag +0.1\n101: 80%, tag +0.1\n"));
        ASSERT_TRUE(strstr(body, "104: 50%"));
        ASSERT_TRUE(strstr(body, "105") == NULL);
        ASSERT_TRUE(strstr(body, "and 2 more"));
        ASSERT_TRUE(strstr(body, "Show each"));
        ASSERT_OK(text_group(b, false, false, &s2, &b2));
        ASSERT_TRUE(strstr(b2, "fluffctl like ID"));
        batch_free(b);
}

TEST(batch_pick)
{
        Batch *b = batch(4, "q", "t"), *one = NULL;
        ASSERT_OK(batch_pick(b, 2, &one));
        ASSERT_EQ(one->n_posts, 1);
        ASSERT_EQ(one->posts[0].id, 102);
        ASSERT_EQ(one->watch_id, 7);
        ASSERT_STREQ(one->query, "q");
        batch_free(b);
        batch_free(one);
}

TEST(shown_table)
{
        Context c = {};
        uint32_t evicted = 1;
        for (uint32_t id = 1; id <= NOTIFY_MAX_SHOWN; id++) {
                ASSERT_OK(shown_add(&c, id, batch(1, "q", "t"), &evicted));
                ASSERT_EQ(evicted, 0);
        }
        ASSERT_OK(shown_add(&c, 1000, batch(1, "q", "t"), &evicted));
        ASSERT_EQ(evicted, 1); /* the oldest goes */
        ASSERT_TRUE(shown_find(&c, 1) == NULL);
        ASSERT_TRUE(shown_find(&c, 1000) != NULL);
        Batch *b = shown_take(&c, 5);
        ASSERT_TRUE(b);
        batch_free(b);
        ASSERT_TRUE(shown_take(&c, 5) == NULL);
        ASSERT_ERROR(shown_add(&c, 0, batch(1, "q", "t"), NULL), EINVAL);
        /* An id handed out again replaces the old entry. */
        size_t n = c.n_shown;
        ASSERT_OK(shown_add(&c, 1000, batch(2, "q", "t"), NULL));
        ASSERT_EQ(c.n_shown, n);
        ASSERT_EQ(shown_find(&c, 1000)->batch->n_posts, 2);
        shown_clear(&c);
        ASSERT_EQ(c.n_shown, 0);
}

TEST_MAIN()
