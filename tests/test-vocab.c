/* SPDX-License-Identifier: MIT */
/* The tag vocabulary. Must survive: bad tag names, posts in any order, huge
 * tag counts, and JSON that is malformed, oversized, out of order, duplicated
 * or randomly corrupted, without a crash or a leak (run under ASan); ids must
 * come out the same on every build and after a JSON round trip. */
#include <malloc.h>

#include "tests.h"
#include "vocab.h"

/* "category:name" pairs separated by spaces; no colon means general. */
static Post *mkpost(uint64_t id, const char *tags)
{
        Post *p = calloc(1, sizeof(Post));
        _cleanup_free_ char *copy = strdup(tags);
        char *save = NULL;

        ASSERT_TRUE(p && copy);
        p->id = id;
        for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
                char *colon = strchr(t, ':');
                if (colon) {
                        *colon = '\0';
                        ASSERT_OK(post_add_tag(p, colon + 1, t));
                } else
                        ASSERT_OK(post_add_tag(p, t, "general"));
        }
        return p;
}

static void expect_entry(const Vocab *v, size_t id, const char *category, const char *name, unsigned count)
{
        const char *c, *n;
        unsigned k;

        ASSERT_OK(vocab_entry(v, id, &c, &n, &k));
        ASSERT_STREQ(c, category);
        ASSERT_STREQ(n, name);
        ASSERT_EQ(k, count);
        ASSERT_EQ(vocab_lookup(v, category, name), (int)id);
}

/* The shared little corpus: counts by category, a name in two categories. */
static Vocab *build_sample(unsigned min_count, bool reversed)
{
        static const char *const posts[] = {
                "fox solo artist:alice species:fox",
                "fox duo solo artist:alice species:fox",
                "fox wolf solo artist:bob species:wolf",
                "wolf duo artist:alice species:wolf fox",
                "fox fox fox species:fox", /* repeats on one post count once */
                "cat artist:carol",
        };
        Post *p[ELEMENTSOF(posts)];
        Vocab *v;

        for (size_t i = 0; i < ELEMENTSOF(posts); i++)
                p[reversed ? ELEMENTSOF(posts) - 1 - i : i] = mkpost(i + 1, posts[i]);
        ASSERT_OK(vocab_build(p, ELEMENTSOF(posts), min_count, &v));
        for (size_t i = 0; i < ELEMENTSOF(posts); i++)
                post_free(p[i]);
        return v;
}

TEST(counts_and_order)
{
        _cleanup_vocab_free_ Vocab *v = build_sample(2, false);

        /* artist < general < species; count descending; then name */
        ASSERT_EQ(vocab_size(v), 7);
        ASSERT_EQ(vocab_min_count(v), 2);
        expect_entry(v, 0, "artist", "alice", 3);
        expect_entry(v, 1, "general", "fox", 5);
        expect_entry(v, 2, "general", "solo", 3);
        expect_entry(v, 3, "general", "duo", 2);
        expect_entry(v, 4, "general", "wolf", 2);
        expect_entry(v, 5, "species", "fox", 3);
        expect_entry(v, 6, "species", "wolf", 2);
}

TEST(lookup)
{
        _cleanup_vocab_free_ Vocab *v = build_sample(2, false);

        /* the same name in two categories is two entries */
        ASSERT_TRUE(vocab_lookup(v, "general", "fox") != vocab_lookup(v, "species", "fox"));
        ASSERT_ERROR(vocab_lookup(v, "artist", "bob"), ENOENT); /* below min_count */
        ASSERT_ERROR(vocab_lookup(v, "general", "cat"), ENOENT);
        ASSERT_ERROR(vocab_lookup(v, "artist", "fox"), ENOENT);
        ASSERT_ERROR(vocab_lookup(v, "general", "fo"), ENOENT);
        ASSERT_ERROR(vocab_lookup(v, "", ""), ENOENT);
        ASSERT_ERROR(vocab_lookup(v, NULL, "fox"), ENOENT);
        ASSERT_ERROR(vocab_lookup(NULL, "general", "fox"), ENOENT);
        ASSERT_ERROR(vocab_entry(v, vocab_size(v), NULL, NULL, NULL), ENOENT);
        ASSERT_EQ(vocab_size(NULL), 0);
}

TEST(min_count)
{
        _cleanup_vocab_free_ Vocab *all = build_sample(0, false), *one = build_sample(1, false),
                                   *many = build_sample(100, false),
                                   *dflt = build_sample(VOCAB_MIN_COUNT_DEFAULT, false);

        ASSERT_EQ(vocab_min_count(all), 1);
        ASSERT_EQ(vocab_size(all), 10);
        ASSERT_EQ(vocab_size(one), 10);
        ASSERT_EQ(vocab_size(many), 0);
        ASSERT_EQ(vocab_size(dflt), 7);
        ASSERT_OK(vocab_lookup(all, "artist", "carol"));
        ASSERT_ERROR(vocab_lookup(many, "general", "fox"), ENOENT);
}

TEST(deterministic)
{
        /* posts in the other order, and in fresh memory, give the same ids */
        _cleanup_vocab_free_ Vocab *a = build_sample(1, false), *b = build_sample(1, true);
        _cleanup_free_ char *ja = NULL, *jb = NULL;

        ASSERT_EQ(vocab_size(a), vocab_size(b));
        for (size_t i = 0; i < vocab_size(a); i++) {
                const char *ca, *na, *cb, *nb;
                ASSERT_OK(vocab_entry(a, i, &ca, &na, NULL));
                ASSERT_OK(vocab_entry(b, i, &cb, &nb, NULL));
                ASSERT_STREQ(ca, cb);
                ASSERT_STREQ(na, nb);
        }
        ASSERT_OK(vocab_to_json(a, &ja));
        ASSERT_OK(vocab_to_json(b, &jb));
        ASSERT_STREQ(ja, jb);
}

TEST(builder)
{
        _cleanup_vocab_builder_free_ VocabBuilder *b = NULL;
        _cleanup_vocab_free_ Vocab *v = NULL;
        _cleanup_post_free_ Post *p = mkpost(1, "ok");
        char name[32];

        ASSERT_OK(vocab_builder_new(&b));
        ASSERT_ERROR(vocab_builder_add(b, "general", ""), EINVAL);
        ASSERT_ERROR(vocab_builder_add(b, "", "x"), EINVAL);
        ASSERT_ERROR(vocab_builder_add(b, "general", NULL), EINVAL);
        ASSERT_ERROR(vocab_builder_add(b, "general", "tab\there"), EINVAL);
        ASSERT_ERROR(vocab_builder_add(b, "general", "bad\xff utf8"), EINVAL);
        ASSERT_ERROR(vocab_builder_add(b, "general", "\xc0\xaf"), EINVAL); /* overlong '/' */
        ASSERT_ERROR(vocab_builder_add(b, "general", "cut\xe2\x82"), EINVAL);
        ASSERT_ERROR(vocab_builder_add(b, "general", "\xed\xa0\x80"), EINVAL); /* a surrogate */
        memset(name, 'a', sizeof(name));
        {
                char long_name[VOCAB_NAME_MAX + 2];
                memset(long_name, 'x', sizeof(long_name) - 1);
                long_name[sizeof(long_name) - 1] = '\0';
                ASSERT_ERROR(vocab_builder_add(b, "general", long_name), EINVAL);
                long_name[VOCAB_NAME_MAX] = '\0';
                ASSERT_OK(vocab_builder_add(b, "general", long_name));
        }
        ASSERT_OK(vocab_builder_add(b, "general", "caf\xc3\xa9"));
        ASSERT_OK(vocab_builder_add(b, "general", "\xf0\x9f\xa6\x8a"));
        ASSERT_OK(vocab_builder_add(b, "meta", "16:9"));
        /* bad tags on a post are skipped, the good ones counted */
        ASSERT_OK(post_add_tag(p, "", "general"));
        ASSERT_OK(post_add_tag(p, "ctl\x01", "general"));
        ASSERT_OK(vocab_builder_add_post(b, p));

        /* enough distinct pairs to grow the table many times */
        for (unsigned i = 0; i < 100000; i++) {
                vocab_builder_begin_post(b);
                snprintf(name, sizeof(name), "t%u", i % 50000);
                ASSERT_OK(vocab_builder_add(b, i % 2 ? "general" : "species", name));
                ASSERT_OK(vocab_builder_add(b, i % 2 ? "general" : "species", name)); /* same post */
        }
        ASSERT_OK(vocab_builder_finish(b, 1, &v));
        ASSERT_EQ(vocab_size(v), 5 + 50000);
        for (unsigned i = 0; i < 50000; i++) {
                unsigned count;
                int id;

                snprintf(name, sizeof(name), "t%u", i);
                id = vocab_lookup(v, i % 2 ? "general" : "species", name);
                ASSERT_OK(id);
                ASSERT_OK(vocab_entry(v, (size_t)id, NULL, NULL, &count));
                ASSERT_EQ(count, 2);
                ASSERT_ERROR(vocab_lookup(v, i % 2 ? "species" : "general", name), ENOENT);
        }
        ASSERT_OK(vocab_lookup(v, "general", "ok"));
        ASSERT_OK(vocab_lookup(v, "general", "caf\xc3\xa9"));

        /* finishing leaves the builder empty and usable */
        {
                _cleanup_vocab_free_ Vocab *again = NULL;
                ASSERT_OK(vocab_builder_add(b, "general", "new"));
                ASSERT_OK(vocab_builder_finish(b, 1, &again));
                ASSERT_EQ(vocab_size(again), 1);
        }
}

TEST(encode)
{
        _cleanup_vocab_free_ Vocab *v = build_sample(2, false);
        _cleanup_post_free_ Post *p = mkpost(9, "wolf species:fox unknown fox wolf artist:alice artist:zed");
        _cleanup_post_free_ Post *none = mkpost(10, "nothing known");
        uint32_t ids[16];
        size_t n = 99;

        ASSERT_OK(vocab_encode_post(v, p, ids, ELEMENTSOF(ids), &n));
        ASSERT_EQ(n, 4);
        ASSERT_EQ(ids[0], vocab_lookup(v, "artist", "alice"));
        ASSERT_EQ(ids[1], vocab_lookup(v, "general", "fox"));
        ASSERT_EQ(ids[2], vocab_lookup(v, "general", "wolf"));
        ASSERT_EQ(ids[3], vocab_lookup(v, "species", "fox"));
        ASSERT_OK(vocab_encode_post(v, p, ids, 4, &n));
        ASSERT_EQ(n, 4);
        n = 99;
        ASSERT_ERROR(vocab_encode_post(v, p, ids, 3, &n), ENOBUFS);
        ASSERT_EQ(n, 99); /* untouched on failure */
        ASSERT_OK(vocab_encode_post(v, none, ids, 0, &n));
        ASSERT_EQ(n, 0);

        /* more tags than the stack buffer */
        _cleanup_post_free_ Post *big = mkpost(11, "");
        for (unsigned i = 0; i < 3000; i++)
                ASSERT_OK(post_add_tag(big, i % 2 ? "fox" : "solo", "general"));
        ASSERT_OK(vocab_encode_post(v, big, ids, 2, &n));
        ASSERT_EQ(n, 2);
        ASSERT_TRUE(ids[0] < ids[1]);
}

#if !defined(__SANITIZE_ADDRESS__) /* its allocator does not report to mallinfo2() */
static size_t heap_in_use(void)
{
        struct mallinfo2 mi = mallinfo2();
        return mi.uordblks + mi.hblkhd;
}
#endif

/* A packed post (post_pack(), what a training holds of every labelled
 * post) encodes to the same ids, keeps its tags and refuses new ones; and
 * it takes at most half the heap of the same post unpacked: with 100,000
 * labelled posts the difference is ~200 MB of fluffd's 500 MB goal. */
#define PACKED_POSTS 500
/* A training holds each post as builder entries (4 bytes a tag) and encodes
 * them after counting: the same vocabulary and the same ids as building
 * from the posts and encoding their strings, repeats and bad tags
 * included. */
TEST(entries)
{
        static const char *const posts[] = {
                "fox solo artist:alice species:fox",
                "fox duo solo artist:alice species:fox",
                "fox wolf solo artist:bob species:wolf",
                "wolf duo artist:alice species:wolf fox",
                "fox fox fox species:fox",
                "cat artist:carol",
                "lonely_tag_seen_once",
        };
        Post *p[ELEMENTSOF(posts)];
        _cleanup_vocab_free_ Vocab *want = NULL, *got = NULL;
        _cleanup_vocab_builder_free_ VocabBuilder *b = NULL;
        _cleanup_free_ uint32_t *map = NULL;
        uint32_t held[ELEMENTSOF(posts)][16], a[16], c[16];
        size_t n_held[ELEMENTSOF(posts)], n_map, na, nc;
        _cleanup_free_ char *json_want = NULL, *json_got = NULL;

        for (size_t i = 0; i < ELEMENTSOF(posts); i++)
                p[i] = mkpost(i + 1, posts[i]);
        ASSERT_OK(post_add_tag(p[1], "bad\x01name", "general")); /* skipped, never an entry */
        ASSERT_OK(vocab_build(p, ELEMENTSOF(posts), 2, &want));
        ASSERT_OK(vocab_builder_new(&b));
        for (size_t i = 0; i < ELEMENTSOF(posts); i++) {
                ASSERT_OK(vocab_builder_add_post_ids(b, p[i], held[i], 16, &n_held[i]));
                /* each tag once, however often the post repeats it */
                for (size_t j = 0; j < n_held[i]; j++)
                        for (size_t k = 0; k < j; k++)
                                ASSERT_TRUE(held[i][j] != held[i][k]);
        }
        ASSERT_EQ(n_held[4], (size_t)2); /* "fox fox fox species:fox" */
        ASSERT_EQ(n_held[1], (size_t)5); /* the bad name left out */
        {
                _cleanup_vocab_builder_free_ VocabBuilder *small = NULL;
                ASSERT_OK(vocab_builder_new(&small));
                ASSERT_EQ(vocab_builder_add_post_ids(small, p[0], a, 2, &na), -ENOBUFS);
        }
        /* the entries as another vocabulary (an installed model's) numbers them */
        {
                _cleanup_vocab_free_ Vocab *other = build_sample(1, true);
                _cleanup_free_ uint32_t *omap = NULL;
                size_t n_omap;
                ASSERT_OK(vocab_builder_map(b, other, &omap, &n_omap));
                for (size_t i = 0; i < 6; i++) {
                        ASSERT_OK(vocab_encode_post(other, p[i], a, 16, &na));
                        ASSERT_OK(vocab_encode_entries(omap, n_omap, held[i], n_held[i], c, &nc));
                        ASSERT_EQ(nc, na);
                        ASSERT_TRUE(nc == 0 || memcmp(a, c, nc * sizeof(uint32_t)) == 0);
                }
                ASSERT_EQ(omap[held[6][0]], UINT32_MAX); /* not in the other one */
        }
        ASSERT_OK(vocab_builder_finish_map(b, 2, &got, &map, &n_map));
        ASSERT_OK(vocab_to_json(want, &json_want));
        ASSERT_OK(vocab_to_json(got, &json_got));
        ASSERT_STREQ(json_got, json_want);
        for (size_t i = 0; i < ELEMENTSOF(posts); i++) {
                ASSERT_OK(vocab_encode_post(want, p[i], a, 16, &na));
                ASSERT_OK(vocab_encode_entries(map, n_map, held[i], n_held[i], c, &nc));
                ASSERT_EQ(nc, na);
                ASSERT_TRUE(nc == 0 || memcmp(a, c, nc * sizeof(uint32_t)) == 0);
        }
        /* the seen-once tag is an entry that maps to nothing */
        ASSERT_EQ(n_held[6], (size_t)1);
        ASSERT_EQ(map[held[6][0]], UINT32_MAX);
        uint32_t past = (uint32_t)n_map;
        ASSERT_EQ(vocab_encode_entries(map, n_map, &past, 1, c, &nc), -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(posts); i++)
                post_free(p[i]);
}

TEST(packed_post)
{
        _cleanup_vocab_free_ Vocab *v = build_sample(2, false);
        const char *tags = "wolf species:fox unknown fox wolf artist:alice artist:zed";
        _cleanup_post_free_ Post *p = mkpost(9, tags), *q = mkpost(9, tags);
        uint32_t a[16], b[16];
        size_t na, nb;

        ASSERT_TRUE(p->file_url = strdup("https://example.org/a.jpg"));
        ASSERT_OK(post_pack(p));
        ASSERT_OK(post_pack(p)); /* twice is once */
        ASSERT_TRUE(p->packed && !p->file_url && !post_image_url(p));
        ASSERT_EQ(p->n_tags, q->n_tags);
        for (size_t i = 0; i < p->n_tags; i++) {
                ASSERT_STREQ(p->tags[i].name, q->tags[i].name);
                ASSERT_STREQ(p->tags[i].category, q->tags[i].category);
        }
        ASSERT_TRUE(post_has_tag(p, "alice") && !post_has_tag(p, "bob"));
        ASSERT_OK(vocab_encode_post(v, p, a, ELEMENTSOF(a), &na));
        ASSERT_OK(vocab_encode_post(v, q, b, ELEMENTSOF(b), &nb));
        ASSERT_EQ(na, nb);
        ASSERT_TRUE(memcmp(a, b, na * sizeof(uint32_t)) == 0);
        ASSERT_ERROR(post_add_tag(p, "new", "general"), EPERM);

#if !defined(__SANITIZE_ADDRESS__)
        /* 30 tags in 4 categories, as a fake-site post has (e621's have more) */
        static const char *const cats[] = {"general", "species", "artist", "character"};
        static Post *many[PACKED_POSTS];
        char name[32];
        size_t before = heap_in_use();
        for (unsigned i = 0; i < PACKED_POSTS; i++) {
                ASSERT_TRUE(many[i] = calloc(1, sizeof(Post)));
                for (unsigned k = 0; k < 30; k++) {
                        snprintf(name, sizeof(name), "tag_number_%u_%u", k, i % 7);
                        ASSERT_OK(post_add_tag(many[i], name, cats[k % 4]));
                }
        }
        size_t unpacked = heap_in_use() - before;
        for (unsigned i = 0; i < PACKED_POSTS; i++)
                ASSERT_OK(post_pack(many[i]));
        size_t packed = heap_in_use() - before;
        printf("30 tags: %zu bytes a post unpacked, %zu packed\n", unpacked / PACKED_POSTS,
               packed / PACKED_POSTS);
        ASSERT_TRUE(2 * packed <= unpacked);
        for (unsigned i = 0; i < PACKED_POSTS; i++)
                post_free(many[i]);
#endif
}

static Vocab *roundtrip(const Vocab *v)
{
        _cleanup_free_ char *j1 = NULL, *j2 = NULL;
        Vocab *w;

        ASSERT_OK(vocab_to_json(v, &j1));
        ASSERT_OK(vocab_from_json(j1, strlen(j1), &w));
        ASSERT_OK(vocab_to_json(w, &j2));
        ASSERT_STREQ(j1, j2);
        ASSERT_EQ(vocab_size(w), vocab_size(v));
        ASSERT_EQ(vocab_min_count(w), vocab_min_count(v));
        for (size_t i = 0; i < vocab_size(v); i++) {
                const char *c, *n;
                unsigned k, k2;
                ASSERT_OK(vocab_entry(v, i, &c, &n, &k));
                ASSERT_EQ(vocab_lookup(w, c, n), (int)i);
                ASSERT_OK(vocab_entry(w, i, NULL, NULL, &k2));
                ASSERT_EQ(k, k2);
        }
        return w;
}

TEST(json_roundtrip)
{
        _cleanup_vocab_free_ Vocab *v = build_sample(2, false), *w = NULL, *e = NULL, *we = NULL;
        _cleanup_vocab_builder_free_ VocabBuilder *b = NULL;
        _cleanup_vocab_free_ Vocab *odd = NULL, *wodd = NULL;
        _cleanup_free_ char *j = NULL;

        w = roundtrip(v);
        ASSERT_OK(vocab_to_json(v, &j));
        ASSERT_STREQ(
                j,
                "{\"version\":1,\"min_count\":2,\"size\":7,\"categories\":["
                "{\"name\":\"artist\",\"tags\":[\"alice\"],\"counts\":[3]},"
                "{\"name\":\"general\",\"tags\":[\"fox\",\"solo\",\"duo\",\"wolf\"],\"counts\":[5,3,2,2]},"
                "{\"name\":\"species\",\"tags\":[\"fox\",\"wolf\"],\"counts\":[3,2]}]}");

        ASSERT_OK(vocab_build(NULL, 0, 3, &e));
        ASSERT_EQ(vocab_size(e), 0);
        we = roundtrip(e);

        /* names that need escaping, and non-ASCII ones */
        ASSERT_OK(vocab_builder_new(&b));
        ASSERT_OK(vocab_builder_add(b, "general", "quote\"d"));
        ASSERT_OK(vocab_builder_add(b, "general", "back\\slash"));
        ASSERT_OK(vocab_builder_add(b, "general", "a/b"));
        ASSERT_OK(vocab_builder_add(b, "general", ":colon:"));
        ASSERT_OK(vocab_builder_add(b, "lore", "caf\xc3\xa9"));
        ASSERT_OK(vocab_builder_add(b, "new_category", "\xf0\x9f\xa6\x8a"));
        ASSERT_OK(vocab_builder_finish(b, 1, &odd));
        wodd = roundtrip(odd);
        ASSERT_OK(vocab_lookup(wodd, "general", "quote\"d"));
        ASSERT_OK(vocab_lookup(wodd, "new_category", "\xf0\x9f\xa6\x8a"));
}

static void expect_refused(const char *json, int err)
{
        Vocab *v = NULL;
        int r = vocab_from_json(json, strlen(json), &v);

        if (r != -err)
                TEST_FAIL("vocab_from_json(%s) returned %d, expected -%d", json, r, err);
        ASSERT_TRUE(v == NULL);
}

#define HEAD "{\"version\":1,\"min_count\":2,"

TEST(json_refused)
{
        static const char *const bad[] = {
                "",
                "{",
                "[]",
                "null",
                "42",
                "\"str\"",
                "{}",
                HEAD "\"size\":0,\"categories\":[]} trailing",
                HEAD "\"size\":0,\"categories\":[]}{}",
                "{\"version\":2,\"min_count\":2,\"size\":0,\"categories\":[]}",
                "{\"version\":\"1\",\"min_count\":2,\"size\":0,\"categories\":[]}",
                "{\"version\":1,\"min_count\":0,\"size\":0,\"categories\":[]}",
                "{\"version\":1,\"min_count\":-1,\"size\":0,\"categories\":[]}",
                "{\"version\":1,\"min_count\":2.5,\"size\":0,\"categories\":[]}",
                "{\"version\":1,\"min_count\":2,\"categories\":[]}",
                HEAD "\"size\":-1,\"categories\":[]}",
                HEAD "\"size\":0}",
                HEAD "\"size\":0,\"categories\":{}}",
                HEAD "\"size\":1,\"categories\":[]}",
                HEAD "\"size\":0,\"categories\":[{\"name\":\"g\",\"tags\":[\"a\"],\"counts\":[2]}]}",
                HEAD "\"size\":2,\"categories\":[{\"name\":\"g\",\"tags\":[\"a\"],\"counts\":[2]}]}",
                HEAD "\"size\":1,\"categories\":[{\"name\":\"g\",\"tags\":[\"a\"],\"counts\":[1]}]}",
                HEAD
                "\"size\":1,\"categories\":[{\"name\":\"g\",\"tags\":[\"a\"],\"counts\":[4294967296]}]}",
                HEAD "\"size\":1,\"categories\":[{\"name\":\"g\",\"tags\":[\"a\"],\"counts\":[\"2\"]}]}",
                HEAD "\"size\":1,\"categories\":[{\"name\":\"g\",\"tags\":[\"a\"],\"counts\":[2,3]}]}",
                HEAD "\"size\":1,\"categories\":[{\"name\":\"g\",\"tags\":[1],\"counts\":[2]}]}",
                HEAD "\"size\":1,\"categories\":[{\"name\":\"\",\"tags\":[\"a\"],\"counts\":[2]}]}",
                HEAD "\"size\":1,\"categories\":[{\"tags\":[\"a\"],\"counts\":[2]}]}",
                HEAD "\"size\":1,\"categories\":[{\"name\":\"g\",\"tags\":[\"\"],\"counts\":[2]}]}",
                HEAD "\"size\":1,\"categories\":[{\"name\":\"g\",\"tags\":[\"a\\u0001\"],\"counts\":[2]}]}",
                HEAD "\"size\":1,\"categories\":[{\"name\":\"g\",\"tags\":[\"a\\u0000b\"],\"counts\":[2]}]}",
                HEAD "\"size\":1,\"categories\":[{\"name\":\"g\",\"tags\":[\"\xff\"],\"counts\":[2]}]}",
                HEAD "\"size\":0,\"categories\":[{\"name\":\"g\",\"tags\":[],\"counts\":[]}]}",
                HEAD "\"size\":1,\"categories\":[[\"g\"]]}",
                /* out of the canonical order: counts rising, names falling, categories falling */
                HEAD "\"size\":2,\"categories\":[{\"name\":\"g\",\"tags\":[\"a\",\"b\"],\"counts\":[2,3]}]}",
                HEAD "\"size\":2,\"categories\":[{\"name\":\"g\",\"tags\":[\"b\",\"a\"],\"counts\":[2,2]}]}",
                HEAD "\"size\":2,\"categories\":[{\"name\":\"s\",\"tags\":[\"a\"],\"counts\":[2]},"
                     "{\"name\":\"g\",\"tags\":[\"a\"],\"counts\":[2]}]}",
                /* duplicates: in one category with other counts, or the category twice */
                HEAD "\"size\":3,\"categories\":[{\"name\":\"g\",\"tags\":[\"a\",\"b\",\"a\"],\"counts\":[5,"
                     "3,2]}]}",
                HEAD "\"size\":2,\"categories\":[{\"name\":\"g\",\"tags\":[\"a\"],\"counts\":[2]},"
                     "{\"name\":\"g\",\"tags\":[\"b\"],\"counts\":[2]}]}",
                HEAD "\"size\":0,\"categories\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}",
                "{\"version\":1,\"min_count\":2,\"size\":0,\"categories\":[],\"version\":2}",
                HEAD "\"size\":0,\"categories\":[]",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                expect_refused(bad[i], EBADMSG);
        expect_refused(HEAD "\"size\":2000000,\"categories\":[]}", E2BIG);

        /* the same good document is accepted, so the list above tests what it says */
        Vocab *v = NULL;
        const char *good =
                HEAD "\"size\":3,\"categories\":[{\"name\":\"g\",\"tags\":[\"b\",\"a\"],\"counts\":[3,2]},"
                     "{\"name\":\"s\",\"tags\":[\"a\"],\"counts\":[2]}]}  \n";
        ASSERT_OK(vocab_from_json(good, strlen(good), &v));
        ASSERT_EQ(vocab_lookup(v, "g", "a"), 1);
        v = vocab_free(v);

        /* NULL, an embedded NUL, and more bytes than a model file may hold */
        ASSERT_ERROR(vocab_from_json(NULL, 0, &v), EBADMSG);
        ASSERT_ERROR(vocab_from_json("{}\0{}", 5, &v), EBADMSG);
        _cleanup_free_ char *huge = malloc(VOCAB_JSON_MAX + 1);
        ASSERT_TRUE(huge);
        memset(huge, ' ', VOCAB_JSON_MAX + 1);
        ASSERT_ERROR(vocab_from_json(huge, VOCAB_JSON_MAX + 1, &v), E2BIG);
        ASSERT_TRUE(v == NULL);
}

TEST(json_corrupted)
{
        /* random byte edits of a good document: refused, or accepted only in a
         * form that writes back to itself */
        _cleanup_vocab_free_ Vocab *v = build_sample(1, false);
        _cleanup_free_ char *j = NULL;
        unsigned seed = 4242, accepted = 0;
        size_t len;

        ASSERT_OK(vocab_to_json(v, &j));
        len = strlen(j);
        for (unsigned round = 0; round < 3000; round++) {
                _cleanup_free_ char *m = strdup(j);
                Vocab *w = NULL;
                unsigned edits = 1 + (unsigned)rand_r(&seed) % 3;

                ASSERT_TRUE(m);
                for (unsigned e = 0; e < edits; e++)
                        m[(size_t)rand_r(&seed) % len] = (char)(1 + rand_r(&seed) % 255);
                if (vocab_from_json(m, len, &w) >= 0) {
                        _cleanup_vocab_free_ Vocab *w2 = NULL;
                        _cleanup_free_ char *back = NULL;

                        accepted++;
                        w2 = roundtrip(w);
                        ASSERT_OK(vocab_to_json(w, &back));
                        vocab_free(w);
                }
        }
        fprintf(stderr, "%u of 3000 corrupted documents were still valid vocabularies\n", accepted);
}

TEST_MAIN()
