/* SPDX-License-Identifier: MIT */
/* The e621 client's parsers against bodies shaped like the site's, and against
 * bodies a broken or hostile server could send: what must survive is the
 * process (no crash, no unbounded copy) and the rule that nothing unchecked
 * becomes a path or a URL. */
#include "e621-json.h"
#include "tests.h"

#define MD5 "0123456789abcdef0123456789abcdef"

/* One post as e621 serves it (trimmed of fields Fluff ignores, plus a few it
 * must ignore). */
static const char post_json[] =
        "{\"id\":4123456,\"created_at\":\"2023-06-01T12:34:56.789-04:00\","
        "\"updated_at\":\"2024-01-01T00:00:00.000-05:00\","
        "\"file\":{\"width\":2000,\"height\":1500,\"ext\":\"png\",\"size\":3456789,\"md5\":\"" MD5 "\","
        "\"url\":\"https://static1.example.net/data/01/23/" MD5 ".png\"},"
        "\"preview\":{\"width\":150,\"height\":112,\"url\":\"https://static1.example.net/data/preview/01/"
        "23/" MD5 ".jpg\"},"
        "\"sample\":{\"has\":true,\"height\":637,\"width\":850,\"url\":\"https://static1.example.net/data/"
        "sample/01/23/" MD5 ".jpg\",\"alternates\":{}},"
        "\"score\":{\"up\":120,\"down\":-3,\"total\":117},"
        "\"tags\":{\"general\":[\"blue_eyes\",\"smile\"],\"artist\":[\"some_artist\"],\"contributor\":[],"
        "\"copyright\":[],\"character\":[\"someone_(character)\"],\"species\":[\"canine\",\"mammal\"],"
        "\"invalid\":[],\"meta\":[\"hi_res\"],\"lore\":[]},"
        "\"locked_tags\":[],\"change_seq\":1,"
        "\"flags\":{\"pending\":false,\"flagged\":true,\"note_locked\":false,\"status_locked\":false,"
        "\"rating_locked\":false,\"deleted\":false},"
        "\"rating\":\"q\",\"fav_count\":345,\"sources\":[\"https://example.org/x\"],\"pools\":[],"
        "\"relationships\":{\"parent_id\":null,\"has_children\":false,\"children\":[]},"
        "\"approver_id\":7,\"uploader_id\":9,\"description\":\"\",\"comment_count\":3,"
        "\"is_favorited\":true,\"has_notes\":false,\"duration\":null,\"vote\":-1}";

static E621PostList *parse_ok(const char *body)
{
        E621PostList *l = NULL;
        _cleanup_free_ char *msg = NULL;
        int r = e621_parse_posts(body, strlen(body), &l, &msg);
        if (r < 0)
                TEST_FAIL("parse failed: %s (%s)", strerror(-r), msg ? msg : "-");
        return l;
}

static const char *tag_category(const Post *p, const char *name)
{
        for (size_t i = 0; i < p->n_tags; i++)
                if (streq(p->tags[i].name, name))
                        return p->tags[i].category;
        return NULL;
}

TEST(full_post)
{
        _cleanup_free_ char *body = NULL;
        ASSERT_TRUE(asprintf(&body, "{\"posts\":[%s]}", post_json) > 0);
        _cleanup_(e621_post_list_freep) E621PostList *l = parse_ok(body);

        ASSERT_EQ(l->n_posts, 1);
        ASSERT_EQ(l->n_entries, 1);
        ASSERT_EQ(l->n_invalid, 0);
        ASSERT_EQ(l->min_id, 4123456);
        ASSERT_EQ(l->max_id, 4123456);
        Post *p = l->posts[0];
        ASSERT_EQ(p->id, 4123456);
        ASSERT_EQ(p->created_at, 1685637296); /* 2023-06-01T16:34:56Z */
        ASSERT_EQ(p->width, 2000);
        ASSERT_EQ(p->height, 1500);
        ASSERT_EQ(p->file_size, 3456789);
        ASSERT_STREQ(p->ext, "png");
        ASSERT_STREQ(p->md5, MD5);
        ASSERT_STREQ(p->file_url, "https://static1.example.net/data/01/23/" MD5 ".png");
        ASSERT_STREQ(p->sample_url, "https://static1.example.net/data/sample/01/23/" MD5 ".jpg");
        ASSERT_EQ(p->sample_width, 850);
        ASSERT_EQ(p->sample_height, 637);
        ASSERT_STREQ(p->preview_url, "https://static1.example.net/data/preview/01/23/" MD5 ".jpg");
        ASSERT_EQ(p->rating, 'q');
        ASSERT_EQ(p->score_up, 120);
        ASSERT_EQ(p->score_down, -3);
        ASSERT_EQ(p->score_total, 117);
        ASSERT_EQ(p->fav_count, 345);
        ASSERT_FALSE(p->deleted);
        ASSERT_FALSE(p->pending);
        ASSERT_TRUE(p->flagged);
        ASSERT_TRUE(p->is_favorited);
        ASSERT_EQ(p->own_vote, -1);
        ASSERT_EQ(p->n_tags, 7);
        ASSERT_STREQ(tag_category(p, "blue_eyes"), "general");
        ASSERT_STREQ(tag_category(p, "some_artist"), "artist");
        ASSERT_STREQ(tag_category(p, "someone_(character)"), "character");
        ASSERT_STREQ(tag_category(p, "canine"), "species");
        ASSERT_STREQ(tag_category(p, "hi_res"), "meta");
        ASSERT_STREQ(post_image_url(p), p->sample_url);
}

TEST(single_post_response)
{
        _cleanup_free_ char *body = NULL, *msg = NULL;
        _cleanup_(e621_post_list_freep) E621PostList *l = NULL;

        ASSERT_TRUE(asprintf(&body, "{\"post\":%s}", post_json) > 0);
        ASSERT_OK(e621_parse_post_response(body, strlen(body), &l, &msg));
        ASSERT_EQ(l->n_posts, 1);
        ASSERT_EQ(l->posts[0]->id, 4123456);
        e621_post_list_free(TAKE_PTR(l));
        ASSERT_ERROR(e621_parse_post_response("{\"post\":{}}", 11, &l, &msg), EPROTO);
        ASSERT_TRUE(msg != NULL);
        ASSERT_TRUE(l == NULL);
}

TEST(null_urls_and_deleted)
{
        /* as the site shows a deleted post, or a login-only one to anonymous */
        static const char body[] =
                "{\"posts\":[{\"id\":10,\"file\":{\"width\":100,\"height\":100,\"ext\":\"jpg\",\"size\":1,"
                "\"md5\":\"" MD5 "\",\"url\":null},\"sample\":{\"has\":false,\"url\":null},"
                "\"preview\":{\"url\":null},\"flags\":{\"deleted\":true},\"rating\":\"s\",\"tags\":{}}]}";
        _cleanup_(e621_post_list_freep) E621PostList *l = parse_ok(body);

        ASSERT_EQ(l->n_posts, 1);
        Post *p = l->posts[0];
        ASSERT_TRUE(p->file_url == NULL);
        ASSERT_TRUE(p->sample_url == NULL);
        ASSERT_TRUE(p->preview_url == NULL);
        ASSERT_TRUE(p->deleted);
        ASSERT_TRUE(post_image_url(p) == NULL);
        ASSERT_EQ(p->created_at, 0); /* missing: tolerated */
}

TEST(no_sample_uses_original)
{
        /* sample.has false: the site repeats the original's URL there */
        static const char body[] =
                "{\"posts\":[{\"id\":11,\"file\":{\"ext\":\"jpg\",\"md5\":\"" MD5 "\","
                "\"url\":\"http://127.0.0.1:8080/data/01/23/" MD5 ".jpg\"},"
                "\"sample\":{\"has\":false,\"url\":\"http://127.0.0.1:8080/data/01/23/" MD5 ".jpg\"}}]}";
        _cleanup_(e621_post_list_freep) E621PostList *l = parse_ok(body);

        ASSERT_TRUE(l->posts[0]->sample_url == NULL);
        ASSERT_STREQ(post_image_url(l->posts[0]), "http://127.0.0.1:8080/data/01/23/" MD5 ".jpg");
}

TEST(new_tag_categories)
{
        static const char body[] =
                "{\"posts\":[{\"id\":12,\"tags\":{\"general\":[\"a\"],\"director\":[\"b\",\"c\"],"
                "\"future_kind\":[\"d\"],\"bad category!\":[\"e\"],\"meta\":\"not_an_array\","
                "\"lore\":[1,null,\"\",\"has space\",\"ok_tag\",{\"x\":1}]}}]}";
        _cleanup_(e621_post_list_freep) E621PostList *l = parse_ok(body);
        Post *p = l->posts[0];

        ASSERT_STREQ(tag_category(p, "a"), "general");
        ASSERT_STREQ(tag_category(p, "b"), "director");
        ASSERT_STREQ(tag_category(p, "c"), "director");
        ASSERT_STREQ(tag_category(p, "d"), "future_kind");
        ASSERT_STREQ(tag_category(p, "ok_tag"), "lore");
        ASSERT_TRUE(tag_category(p, "e") == NULL);
        ASSERT_TRUE(tag_category(p, "has space") == NULL);
        ASSERT_EQ(p->n_tags, 5);
}

TEST(bad_md5_hides_the_post)
{
        static const char *const bad[] = {
                "0123456789ABCDEF0123456789ABCDEF", /* upper case */
                "0123456789abcdef",                 /* short */
                "../../../../etc/passwd0123456789a",
                "0123456789abcdef0123456789abcdeg",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *body = NULL;
                ASSERT_TRUE(asprintf(&body,
                                     "{\"posts\":[{\"id\":13,\"file\":{\"ext\":\"jpg\",\"md5\":\"%s\","
                                     "\"url\":\"https://x.example/a.jpg\"},\"sample\":{\"has\":true,"
                                     "\"url\":\"https://x.example/s.jpg\"}}]}",
                                     bad[i]) > 0);
                _cleanup_(e621_post_list_freep) E621PostList *l = parse_ok(body);
                Post *p = l->posts[0];
                ASSERT_TRUE(p->md5 == NULL);
                ASSERT_TRUE(p->file_url == NULL);
                ASSERT_TRUE(post_image_url(p) == NULL);
        }
}

TEST(huge_and_wrong_numbers)
{
        static const char body[] =
                "{\"posts\":["
                "{\"id\":99999999999999999999999,\"file\":{\"md5\":\"" MD5 "\"}},"
                "{\"id\":-5},{\"id\":\"abc\"},{\"id\":1.5},[],\"string\",null,"
                "{\"id\":14,\"file\":{\"width\":1e12,\"height\":-4,\"size\":1e300,\"md5\":\"" MD5 "\"},"
                "\"score\":{\"up\":99999999999,\"down\":\"x\",\"total\":-99999999999},"
                "\"fav_count\":18446744073709551615,\"vote\":7,\"rating\":\"explicit\"},"
                "{\"id\":\"15\"}]}";
        _cleanup_(e621_post_list_freep) E621PostList *l = parse_ok(body);

        ASSERT_EQ(l->n_entries, 9);
        ASSERT_EQ(l->n_invalid, 7);
        ASSERT_EQ(l->n_posts, 2);
        ASSERT_EQ(l->min_id, 14);
        ASSERT_EQ(l->max_id, 15);
        Post *p = l->posts[0];
        ASSERT_EQ(p->id, 14);
        ASSERT_EQ(p->width, 0);
        ASSERT_EQ(p->height, 0);
        ASSERT_EQ(p->file_size, 0);
        ASSERT_EQ(p->score_up, 0);
        ASSERT_EQ(p->score_down, 0);
        ASSERT_EQ(p->score_total, 0);
        ASSERT_EQ(p->fav_count, 0);
        ASSERT_EQ(p->own_vote, 0);
        ASSERT_EQ(p->rating, 0);
        ASSERT_EQ(l->posts[1]->id, 15);
}

TEST(hostile_urls_dropped)
{
        static const char *const urls[] = {
                "javascript:alert(1)",       "file:///etc/passwd",
                "ftp://x.example/a.jpg",     "https://",
                "https://x.example/a b.jpg", "https://user:pw@x.example/a.jpg",
                "//x.example/a.jpg",         "https://x.example/a\\b.jpg",
        };
        for (size_t i = 0; i < ELEMENTSOF(urls); i++) {
                ASSERT_FALSE(e621_url_is_valid(urls[i]));
                _cleanup_free_ char *body = NULL;
                ASSERT_TRUE(asprintf(&body,
                                     "{\"posts\":[{\"id\":16,\"file\":{\"ext\":\"jpg\",\"md5\":\"" MD5 "\","
                                     "\"url\":\"%s\"}}]}",
                                     urls[i]) > 0);
                _cleanup_(e621_post_list_freep) E621PostList *l = parse_ok(body);
                ASSERT_TRUE(l->posts[0]->file_url == NULL);
        }
        char long_url[E621_URL_MAX + 64] = "https://x.example/";
        memset(long_url + 18, 'a', sizeof(long_url) - 19);
        long_url[sizeof(long_url) - 1] = '\0';
        ASSERT_FALSE(e621_url_is_valid(long_url));
        ASSERT_TRUE(e621_url_is_valid("https://static1.e621.example/data/a.jpg"));
        ASSERT_TRUE(e621_url_is_valid("http://127.0.0.1:1234/data/a.jpg"));
}

TEST(malformed_json)
{
        static const char *const bodies[] = {
                "{\"posts\":[{\"id\":1}", /* ends early */
                "{\"posts\":[{\"id\":1,}]}",
                "{\"posts\":[]} trailing",
                "<!doctype html><html></html>",
                "{\"posts\":{\"id\":1}}", /* not a list */
                "{\"post\":[]}",
                "42",
                "{\"posts\":[{\"id\":1}]}\",{", /* the fake site's malformed_json */
        };
        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                E621PostList *l = NULL;
                _cleanup_free_ char *msg = NULL;
                ASSERT_ERROR(e621_parse_posts(bodies[i], strlen(bodies[i]), &l, &msg), EPROTO);
                ASSERT_TRUE(l == NULL);
                ASSERT_TRUE(msg != NULL && strlen(msg) > 10);
        }
        E621PostList *l = NULL;
        _cleanup_free_ char *msg = NULL;
        ASSERT_ERROR(e621_parse_posts("", 0, &l, &msg), EPROTO);

        /* nesting far deeper than the site ever sends */
        size_t depth = 10000;
        _cleanup_free_ char *deep = malloc(depth * 2 + 1);
        ASSERT_TRUE(deep != NULL);
        memset(deep, '[', depth);
        memset(deep + depth, ']', depth);
        deep[depth * 2] = '\0';
        ASSERT_ERROR(e621_parse_posts(deep, depth * 2, &l, NULL), EPROTO);

        /* not NUL-terminated: only size bytes are read */
        char buf[] = {'{', '"', 'p', 'o', 's', 't', 's', '"', ':', '[', ']', '}', 'x', 'x'};
        _cleanup_(e621_post_list_freep) E621PostList *ok = NULL;
        ASSERT_OK(e621_parse_posts(buf, 12, &ok, NULL));
        ASSERT_EQ(ok->n_entries, 0);
}

TEST(too_many_posts)
{
        size_t n = E621_POSTS_PER_PAGE_MAX + 1;
        _cleanup_free_ char *body = malloc(n * 16 + 32);
        char *p = stpcpy(body, "{\"posts\":[");
        for (size_t i = 0; i < n; i++)
                p += sprintf(p, "%s{\"id\":%zu}", i ? "," : "", i + 1);
        strcpy(p, "]}");
        E621PostList *l = NULL;
        ASSERT_ERROR(e621_parse_posts(body, strlen(body), &l, NULL), EPROTO);
}

static char *error_message(const char *ct, const char *body)
{
        char *m = NULL;
        ASSERT_OK(e621_error_body_message(ct, body, strlen(body), &m));
        return m;
}

TEST(error_shapes)
{
        _cleanup_free_ char *a = error_message(
                "application/json; charset=utf-8",
                "{\"success\":false,\"message\":\"SessionLoader::AuthenticationFailure\",\"code\":null}");
        ASSERT_STREQ(a, "SessionLoader::AuthenticationFailure");
        _cleanup_free_ char *b =
                error_message("application/json", "{\"success\":false,\"reason\":\"Access Denied\"}");
        ASSERT_STREQ(b, "Access Denied");
        _cleanup_free_ char *c =
                error_message("application/json", "{\"success\":false,\"message\":\"\",\"reason\":\"r\"}");
        ASSERT_STREQ(c, "r");
        _cleanup_free_ char *d = error_message("application/json", "{\"success\":false}");
        ASSERT_TRUE(d == NULL);
        _cleanup_free_ char *e = error_message("application/json", "{\"message\":\"line\\none\\ttab\"}");
        ASSERT_STREQ(e, "line one tab");
        _cleanup_free_ char *f = error_message("application/json", "{broken");
        ASSERT_TRUE(f == NULL);
        /* JSON mislabelled as HTML is never shown raw */
        _cleanup_free_ char *g = error_message("text/html", "{\"posts\":[{\"id\":1}]}");
        ASSERT_TRUE(g == NULL);
        _cleanup_free_ char *h = error_message("text/html", " {\"reason\":\"Access Denied\"}");
        ASSERT_STREQ(h, "Access Denied");
}

TEST(html_errors)
{
        _cleanup_free_ char *a = error_message(
                "text/html; charset=utf-8",
                "<!doctype html>\n<html><head><title>503 Service Temporarily Unavailable</title></head>"
                "<body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>");
        ASSERT_STREQ(a, "503 Service Temporarily Unavailable");
        _cleanup_free_ char *b = error_message(
                "text/html", "<html><head><style>h1{x}</style><script>var k=1;</script></head>"
                             "<body><h1>Bad &amp; worse</h1>\n\n<p>Try   again</p></body></html>");
        ASSERT_STREQ(b, "Bad & worse Try again");
        _cleanup_free_ char *c = error_message(NULL, "<!DOCTYPE html><title>e621 | 520: Web server</title>");
        ASSERT_STREQ(c, "e621 | 520: Web server");

        /* a huge page is cut, not copied */
        size_t n = 100000;
        _cleanup_free_ char *big = malloc(n + 64);
        char *p = stpcpy(big, "<html><body>");
        memset(p, 'x', n);
        strcpy(p + n, "</body></html>");
        _cleanup_free_ char *d = error_message("text/html", big);
        ASSERT_TRUE(d != NULL);
        ASSERT_TRUE(strlen(d) <= E621_MESSAGE_MAX);

        /* UTF-8 is cut at a character boundary */
        char utf[E621_MESSAGE_MAX * 2 + 32] = "<title>";
        for (size_t i = 0; i < E621_MESSAGE_MAX; i++)
                strcat(utf, "é");
        strcat(utf, "</title>");
        _cleanup_free_ char *u = error_message("text/html", utf);
        ASSERT_TRUE(strlen(u) % 2 == 0);

        _cleanup_free_ char *t = error_message("text/plain", "Throttled: Too many requests\r\n");
        ASSERT_STREQ(t, "Throttled: Too many requests");
        _cleanup_free_ char *bin = error_message("image/jpeg", "\xff\xd8\xff");
        ASSERT_TRUE(bin == NULL);
}

TEST(content_types)
{
        ASSERT_TRUE(e621_content_type_is_json("application/json"));
        ASSERT_TRUE(e621_content_type_is_json("application/json; charset=utf-8"));
        ASSERT_TRUE(e621_content_type_is_json("Application/JSON;charset=utf-8"));
        ASSERT_FALSE(e621_content_type_is_json("text/html; charset=utf-8"));
        ASSERT_FALSE(e621_content_type_is_json("application/jsonx"));
        ASSERT_FALSE(e621_content_type_is_json(NULL));
}

TEST(user)
{
        static const char body[] = "{\"id\":77,\"name\":\"fluffy_tester\",\"level\":20,"
                                   "\"blacklisted_tags\":\"gore\\nscat\\n# comment\\nrating:e -solo\"}";
        E621User u;
        E621UserStorage *s = NULL;
        _cleanup_free_ char *msg = NULL;

        ASSERT_OK(e621_parse_user(body, strlen(body), &u, &s, &msg));
        ASSERT_EQ(u.id, 77);
        ASSERT_STREQ(u.name, "fluffy_tester");
        ASSERT_STREQ(u.blacklisted_tags, "gore\nscat\n# comment\nrating:e -solo");
        s = e621_user_storage_free(s);

        /* another user's page has no blacklist */
        ASSERT_OK(e621_parse_user("{\"id\":78,\"name\":\"x\"}", 21, &u, &s, &msg));
        ASSERT_TRUE(u.blacklisted_tags == NULL);
        s = e621_user_storage_free(s);
        ASSERT_ERROR(e621_parse_user("{\"name\":\"x\"}", 12, &u, &s, &msg), EPROTO);
        ASSERT_TRUE(s == NULL);
}

TEST(vote)
{
        E621VoteResult v;
        static const char body[] = "{\"score\":5,\"up\":7,\"down\":-2,\"our_score\":1}";

        ASSERT_OK(e621_parse_vote(body, strlen(body), &v, NULL));
        ASSERT_EQ(v.score, 5);
        ASSERT_EQ(v.up, 7);
        ASSERT_EQ(v.down, -2);
        ASSERT_EQ(v.our_score, 1);
        ASSERT_OK(e621_parse_vote("{\"our_score\":0}", 15, &v, NULL));
        ASSERT_EQ(v.our_score, 0);
        ASSERT_ERROR(e621_parse_vote("{\"our_score\":5}", 15, &v, NULL), EPROTO);
        ASSERT_ERROR(e621_parse_vote("{}", 2, &v, NULL), EPROTO);
}

TEST(times)
{
        int64_t t;

        ASSERT_OK(e621_parse_time("2023-06-01T12:34:56.789-04:00", &t));
        ASSERT_EQ(t, 1685637296);
        ASSERT_OK(e621_parse_time("2023-06-01T16:34:56Z", &t));
        ASSERT_EQ(t, 1685637296);
        ASSERT_OK(e621_parse_time("2023-06-01T18:04:56+0130", &t));
        ASSERT_EQ(t, 1685637296);
        ASSERT_OK(e621_parse_time("1970-01-01T00:00:00+00:00", &t));
        ASSERT_EQ(t, 0);
        ASSERT_ERROR(e621_parse_time("2023-06-01T12:34:56", &t), EINVAL); /* no offset */
        ASSERT_ERROR(e621_parse_time("2023-13-01T12:34:56Z", &t), EINVAL);
        ASSERT_ERROR(e621_parse_time("2023-06-01", &t), EINVAL);
        ASSERT_ERROR(e621_parse_time("yesterday", &t), EINVAL);
        ASSERT_ERROR(e621_parse_time("2023-06-01T12:34:56Zjunk", &t), EINVAL);
}

TEST(retry_after)
{
        time_t now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */

        ASSERT_EQ(e621_parse_retry_after("5", now), 5);
        ASSERT_EQ(e621_parse_retry_after("0", now), 0);
        ASSERT_EQ(e621_parse_retry_after("999999999", now), 86400); /* bounded */
        ASSERT_EQ(e621_parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now), 30);
        ASSERT_EQ(e621_parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now), 0); /* past */
        ASSERT_EQ(e621_parse_retry_after("soon", now), 0);
        ASSERT_EQ(e621_parse_retry_after("-3", now), 0);
        ASSERT_EQ(e621_parse_retry_after("", now), 0);
        ASSERT_EQ(e621_parse_retry_after(NULL, now), 0);
}

TEST(transient_errors)
{
        ASSERT_TRUE(e621_error_is_transient(-ENETUNREACH));
        ASSERT_TRUE(e621_error_is_transient(-EAGAIN));
        ASSERT_TRUE(e621_error_is_transient(-EPROTO));
        ASSERT_FALSE(e621_error_is_transient(-ENOENT));
        ASSERT_FALSE(e621_error_is_transient(-EFBIG));
        ASSERT_FALSE(e621_error_is_transient(-EINVAL));
        ASSERT_FALSE(e621_error_is_transient(-EKEYREJECTED));
        ASSERT_FALSE(e621_error_is_transient(-EPERM));
        ASSERT_FALSE(e621_error_is_transient(0));
}

TEST(site_check)
{
        ASSERT_OK(e621_site_check("https://e621.net"));
        ASSERT_OK(e621_site_check("https://e926.net/"));
        ASSERT_OK(e621_site_check("http://127.0.0.1:8080"));
        ASSERT_OK(e621_site_check("http://localhost:8080"));
        ASSERT_OK(e621_site_check("http://[::1]:8080"));
        ASSERT_ERROR(e621_site_check("http://e621.net"), EINVAL); /* the key in clear text */
        ASSERT_ERROR(e621_site_check("http://10.0.0.1"), EINVAL);
        ASSERT_ERROR(e621_site_check("https://user:key@e621.net"), EINVAL);
        ASSERT_ERROR(e621_site_check("https://e621.net/posts"), EINVAL);
        ASSERT_ERROR(e621_site_check("https://e621.net/?login=x"), EINVAL);
        ASSERT_ERROR(e621_site_check("ftp://e621.net"), EINVAL);
        ASSERT_ERROR(e621_site_check(""), EINVAL);
        ASSERT_ERROR(e621_site_check(NULL), EINVAL);
}

TEST(query_join)
{
        _cleanup_free_ char *q = NULL;
        char *terms[] = {(char *)"fav:fluffy_tester", (char *)"-animated", (char *)"rating:s", NULL};

        ASSERT_OK(e621_query_join(terms, &q));
        ASSERT_STREQ(q, "fav:fluffy_tester -animated rating:s");

        char *bad[] = {(char *)"two words", NULL};
        ASSERT_ERROR(e621_query_join(bad, &q), EINVAL);
        char *empty[] = {(char *)"", NULL};
        ASSERT_ERROR(e621_query_join(empty, &q), EINVAL);

        char *many[E621_QUERY_TERMS_MAX + 2];
        for (size_t i = 0; i < E621_QUERY_TERMS_MAX + 1; i++)
                many[i] = (char *)"tag";
        many[E621_QUERY_TERMS_MAX + 1] = NULL;
        ASSERT_ERROR(e621_query_join(many, &q), EINVAL);
        many[E621_QUERY_TERMS_MAX] = NULL;
        _cleanup_free_ char *ok = NULL;
        ASSERT_OK(e621_query_join(many, &ok));
}

TEST_MAIN()
