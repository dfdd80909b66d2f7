/* SPDX-License-Identifier: MIT */
/* The blacklist parser and matcher. Must survive: comments, odd whitespace and
 * case, bad metatags and ranges, a 1 MiB blacklist, a 10,000-character line and
 * random garbage, without a crash or a leak (run under ASan), and hide exactly
 * what the site would hide. */
#include <time.h>

#include "blacklist.h"
#include "tests.h"

/* A post with space-separated general tags; the rest set by the caller. */
static Post *mkpost(uint64_t id, char rating, const char *ext, const char *tags)
{
        Post *p = calloc(1, sizeof(Post));
        ASSERT_TRUE(p);
        p->id = id;
        p->rating = rating;
        p->ext = ext ? strdup(ext) : NULL;
        p->width = 1000;
        p->height = 800;
        p->score_total = 10;
        p->fav_count = 20;
        p->file_size = 500 * 1024;
        _cleanup_free_ char *copy = strdup(tags);
        char *save = NULL;
        for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
                ASSERT_OK(post_add_tag(p, t, "general"));
        return p;
}

/* Whether the one-rule-or-more blacklist text hides p. */
static bool hides(const char *text, const Post *p)
{
        _cleanup_blacklist_free_ Blacklist *bl = NULL;

        ASSERT_OK(blacklist_parse(text, &bl));
        return blacklist_match(bl, p, NULL);
}

static size_t n_rules(const char *text, size_t *ret_skipped)
{
        _cleanup_blacklist_free_ Blacklist *bl = NULL;

        ASSERT_OK(blacklist_parse(text, &bl));
        if (ret_skipped)
                *ret_skipped = blacklist_n_skipped(bl);
        return blacklist_n_rules(bl);
}

TEST(plain_tags_all_must_match)
{
        _cleanup_post_free_ Post *p = mkpost(1, 's', "jpg", "fox blue_eyes solo");

        ASSERT_TRUE(hides("fox", p));
        ASSERT_TRUE(hides("fox solo", p));
        ASSERT_FALSE(hides("fox wolf", p));
        ASSERT_FALSE(hides("wolf", p));
        ASSERT_FALSE(hides("fo", p));        /* whole names only */
        ASSERT_FALSE(hides("fox_tail", p));  /* no prefix match */
        ASSERT_TRUE(hides("wolf\nsolo", p)); /* any rule */
        ASSERT_FALSE(hides("wolf\ncat", p));
        ASSERT_FALSE(hides("", p));
        ASSERT_FALSE(hides(NULL, p));
        ASSERT_FALSE(blacklist_match(NULL, p, NULL));
}

TEST(negation)
{
        _cleanup_post_free_ Post *p = mkpost(1, 's', "jpg", "fox blue_eyes solo");

        ASSERT_TRUE(hides("fox -wolf", p));
        ASSERT_FALSE(hides("fox -solo", p));
        /* a rule of negated terms only hides every post lacking them, as on the site */
        ASSERT_TRUE(hides("-wolf", p));
        ASSERT_FALSE(hides("-fox", p));
        ASSERT_TRUE(hides("-wolf -cat", p));
        ASSERT_FALSE(hides("-wolf -solo", p));
}

TEST(or_group)
{
        _cleanup_post_free_ Post *p = mkpost(1, 'e', "png", "fox blue_eyes solo");

        ASSERT_TRUE(hides("~fox ~wolf", p));
        ASSERT_TRUE(hides("~wolf ~fox", p));
        ASSERT_FALSE(hides("~wolf ~cat", p));
        ASSERT_TRUE(hides("solo ~wolf ~fox", p));
        ASSERT_FALSE(hides("duo ~wolf ~fox", p));
        ASSERT_TRUE(hides("~fox", p)); /* a group of one is simply required */
        ASSERT_FALSE(hides("~cat", p));
        /* the combo from the brief */
        ASSERT_TRUE(hides("~fox ~wolf -cat rating:e", p));
        ASSERT_FALSE(hides("~fox ~wolf -solo rating:e", p));
        ASSERT_FALSE(hides("~fox ~wolf -cat rating:s", p));
        ASSERT_FALSE(hides("~cat ~wolf -duo rating:e", p));
        /* negated members of the group */
        ASSERT_TRUE(hides("~-fox ~-cat", p));
        ASSERT_FALSE(hides("~-fox ~-solo", p));
        ASSERT_TRUE(hides("-~cat ~wolf", p));
}

TEST(case_whitespace_comments)
{
        _cleanup_post_free_ Post *p = mkpost(1, 's', "jpg", "fox blue_eyes solo");
        size_t skipped;

        ASSERT_TRUE(hides("FOX", p));
        ASSERT_TRUE(hides("  Fox \t SOLO  \r\n", p));
        ASSERT_TRUE(hides("Rating:S", p));
        ASSERT_FALSE(hides("# fox", p));
        ASSERT_FALSE(hides("   #fox", p));
        ASSERT_TRUE(hides("fox # not wolf", p));
        ASSERT_TRUE(hides("fox\t#comment -fox", p));
        ASSERT_FALSE(hides("wolf # fox", p));
        ASSERT_FALSE(hides("fox#solo", p)); /* '#' inside a term is part of it */
        ASSERT_EQ(n_rules("\n\n  \n# a\nfox\r\n\t\nsolo # x\n#\n", &skipped), 2);
        ASSERT_EQ(skipped, 0);

        _cleanup_blacklist_free_ Blacklist *bl = NULL;
        ASSERT_OK(blacklist_parse("  Fox   SOLO   # why\n", &bl));
        ASSERT_STREQ(blacklist_rule_text(bl, 0), "fox solo");
        ASSERT_TRUE(blacklist_rule_text(bl, 1) == NULL);
}

TEST(wildcards)
{
        _cleanup_post_free_ Post *p = mkpost(1, 's', "jpg", "fox blue_eyes solo canine");

        ASSERT_TRUE(hides("blue_*", p));
        ASSERT_TRUE(hides("*_eyes", p));
        ASSERT_TRUE(hides("b*s", p));
        ASSERT_TRUE(hides("*lue*", p));
        ASSERT_TRUE(hides("*", p));
        ASSERT_TRUE(hides("can*ne", p));
        ASSERT_TRUE(hides("c*n*e", p));
        ASSERT_TRUE(hides("fox*", p)); /* '*' may match nothing */
        ASSERT_FALSE(hides("red_*", p));
        ASSERT_FALSE(hides("*_hair", p));
        ASSERT_FALSE(hides("b*x", p));
        ASSERT_FALSE(hides("fox*x", p));
        ASSERT_FALSE(hides("-blue_*", p));
        ASSERT_TRUE(hides("-red_*", p));
        ASSERT_TRUE(hides("~red_* ~*ine", p));

        _cleanup_post_free_ Post *bare = mkpost(2, 's', "jpg", "");
        ASSERT_FALSE(hides("*", bare));
        ASSERT_FALSE(hides("fox", bare));
}

TEST(rating)
{
        _cleanup_post_free_ Post *s = mkpost(1, 's', "jpg", "fox");
        _cleanup_post_free_ Post *q = mkpost(2, 'q', "jpg", "fox");
        _cleanup_post_free_ Post *e = mkpost(3, 'e', "jpg", "fox");
        size_t skipped;

        ASSERT_TRUE(hides("rating:s", s));
        ASSERT_TRUE(hides("rating:safe", s));
        ASSERT_FALSE(hides("rating:safe", q));
        ASSERT_TRUE(hides("rating:q", q));
        ASSERT_TRUE(hides("rating:questionable", q));
        ASSERT_TRUE(hides("rating:e", e));
        ASSERT_TRUE(hides("rating:explicit", e));
        ASSERT_FALSE(hides("rating:explicit", s));
        ASSERT_TRUE(hides("-rating:s", e));
        ASSERT_FALSE(hides("-rating:s", s));
        ASSERT_TRUE(hides("~rating:q ~rating:e", e));
        ASSERT_FALSE(hides("~rating:q ~rating:e", s));
        ASSERT_EQ(n_rules("rating:x\nrating:\nrating:<e\n-rating:g", &skipped), 0);
        ASSERT_EQ(skipped, 4);
}

TEST(numeric_metatags)
{
        _cleanup_post_free_ Post *p = mkpost(1234, 's', "jpg", "fox solo");
        p->score_total = -5;
        p->fav_count = 30;
        p->width = 1920;
        p->height = 1080;

        ASSERT_TRUE(hides("score:<0", p));
        ASSERT_FALSE(hides("score:<-5", p));
        ASSERT_TRUE(hides("score:<=-5", p));
        ASSERT_TRUE(hides("score:=<-5", p));
        ASSERT_FALSE(hides("score:>-5", p));
        ASSERT_TRUE(hides("score:>=-5", p));
        ASSERT_TRUE(hides("score:=>-5", p));
        ASSERT_TRUE(hides("score:-5", p));
        ASSERT_TRUE(hides("score:=-5", p));
        ASSERT_TRUE(hides("score:==-5", p));
        ASSERT_FALSE(hides("score:5", p));
        ASSERT_TRUE(hides("favcount:30", p));
        ASSERT_TRUE(hides("favcount:>29", p));
        ASSERT_FALSE(hides("favcount:>30", p));
        ASSERT_TRUE(hides("id:1234", p));
        ASSERT_FALSE(hides("id:1235", p));
        ASSERT_TRUE(hides("id:<2000", p));
        ASSERT_TRUE(hides("width:>=1920 height:1080", p));
        ASSERT_FALSE(hides("width:>1920", p));
        ASSERT_TRUE(hides("height:<1081", p));
        ASSERT_FALSE(hides("height:<1080", p));
        ASSERT_TRUE(hides("tagcount:2", p));
        ASSERT_TRUE(hides("tagcount:<3", p));
        ASSERT_TRUE(hides("filesize:500kb", p));
        ASSERT_TRUE(hides("filesize:<1mb", p));
        ASSERT_FALSE(hides("filesize:>1mb", p));
        ASSERT_TRUE(hides("filesize:512000b", p));
        ASSERT_TRUE(hides("-score:>0 fox", p));
        ASSERT_FALSE(hides("-score:<0 fox", p));
        ASSERT_TRUE(hides("score:-2147483648..0", p));
}

TEST(ranges)
{
        _cleanup_post_free_ Post *p = mkpost(500, 's', "jpg", "fox");
        size_t skipped;

        p->score_total = 10;
        ASSERT_TRUE(hides("score:5..15", p));
        ASSERT_TRUE(hides("score:10..10", p));
        ASSERT_TRUE(hides("score:10..20", p));
        ASSERT_TRUE(hides("score:0..10", p));
        ASSERT_FALSE(hides("score:11..20", p));
        ASSERT_FALSE(hides("score:0..9", p));
        ASSERT_TRUE(hides("score:15..5", p)); /* either order, as on the site */
        ASSERT_TRUE(hides("score:..10", p));
        ASSERT_FALSE(hides("score:..9", p));
        ASSERT_TRUE(hides("score:10..", p));
        ASSERT_FALSE(hides("score:11..", p));
        ASSERT_TRUE(hides("score:-20..-5\nscore:-5..20", p));
        ASSERT_TRUE(hides("id:400..600", p));
        ASSERT_FALSE(hides("id:..499", p));
        ASSERT_TRUE(hides("-id:..499", p));

        /* bad ranges and numbers skip the rule */
        static const char *const bad[] = {
                "score:..",     "score:1..2..3",
                "score:a..b",   "score:1..x",
                "score:<1..5",  "score:>",
                "score:",       "score:<x",
                "score:1.5",    "id:99999999999999999999",
                "width:1...5",  "score:--5",
                "height:5kb",   "favcount:=",
                "filesize:5gb", "score:9223372036854775807..9223372036854775808",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_blacklist_free_ Blacklist *bl = NULL;
                ASSERT_OK(blacklist_parse(bad[i], &bl));
                if (blacklist_n_rules(bl) != 0 || blacklist_n_skipped(bl) != 1)
                        TEST_FAIL("\"%s\" was not skipped", bad[i]);
                ASSERT_FALSE(blacklist_match(bl, p, NULL));
        }

        /* a bad rule does not take the good ones with it */
        ASSERT_EQ(n_rules("score:..\nfox\nscore:x..y", &skipped), 1);
        ASSERT_EQ(skipped, 2);
        ASSERT_TRUE(hides("score:..\nfox\nscore:x..y", p));

        /* the extremes are ranges, not overflows */
        ASSERT_TRUE(hides("score:>-9223372036854775808", p));
        ASSERT_FALSE(hides("score:<-9223372036854775808", p));
        ASSERT_FALSE(hides("score:>9223372036854775807", p));
        p->id = UINT64_MAX;
        ASSERT_TRUE(hides("id:>1000", p));
}

TEST(type_status_fav)
{
        _cleanup_post_free_ Post *p = mkpost(1, 's', "webm", "fox");

        ASSERT_TRUE(hides("type:webm", p));
        ASSERT_FALSE(hides("type:jpg", p));
        ASSERT_TRUE(hides("-type:jpg", p));
        ASSERT_TRUE(hides("~type:swf ~type:webm", p));
        free(p->ext);
        p->ext = strdup("jpg");
        ASSERT_TRUE(hides("type:jpeg", p));
        free(p->ext);
        p->ext = NULL;
        ASSERT_FALSE(hides("type:jpg", p));
        ASSERT_EQ(n_rules("type:\ntype:<jpg\ntype:j.pg", NULL), 0);

        ASSERT_TRUE(hides("status:active", p));
        ASSERT_FALSE(hides("status:deleted", p));
        ASSERT_FALSE(hides("status:pending", p));
        ASSERT_FALSE(hides("status:flagged", p));
        ASSERT_FALSE(hides("status:modqueue", p));
        ASSERT_TRUE(hides("status:any", p));
        p->deleted = true;
        ASSERT_TRUE(hides("status:deleted", p));
        ASSERT_FALSE(hides("status:active", p));
        ASSERT_FALSE(hides("-status:deleted", p));
        p->deleted = false;
        p->flagged = true;
        ASSERT_TRUE(hides("status:flagged", p));
        ASSERT_TRUE(hides("status:modqueue", p));
        ASSERT_TRUE(hides("status:active", p)); /* flagged posts are still active on the site */
        p->flagged = false;
        p->pending = true;
        ASSERT_TRUE(hides("status:pending", p));
        ASSERT_FALSE(hides("status:active", p));
        ASSERT_EQ(n_rules("status:gone\nstatus:", NULL), 0);

        ASSERT_FALSE(hides("fav:me", p));
        p->is_favorited = true;
        ASSERT_TRUE(hides("fav:me", p));
        ASSERT_TRUE(hides("fav:anyone", p));
}

TEST(other_metatags)
{
        _cleanup_post_free_ Post *p = mkpost(1, 's', "jpg", "16:9 fox");
        size_t skipped;

        /* unknown metatags are tags: the site has tags with colons */
        ASSERT_TRUE(hides("16:9", p));
        ASSERT_FALSE(hides("order:score", p));
        ASSERT_TRUE(hides("-order:score", p));
        /* metatags a Post cannot answer skip the rule instead of guessing */
        ASSERT_EQ(n_rules("user:bob\nfox uploader:bob\n-pool:12\nuserid:5\nusername:x\nfox", &skipped), 1);
        ASSERT_EQ(skipped, 5);
}

TEST(bad_terms_skip_the_rule)
{
        _cleanup_post_free_ Post *p = mkpost(1, 's', "jpg", "fox");
        _cleanup_blacklist_free_ Blacklist *bl = NULL;
        char *const *w;

        /* a bare '-' would hide everything on the site; here the rule is reported */
        ASSERT_OK(blacklist_parse("-\n~\nfox -\n--fox\n~~fox\nwolf", &bl));
        ASSERT_EQ(blacklist_n_rules(bl), 1);
        ASSERT_EQ(blacklist_n_skipped(bl), 5);
        ASSERT_FALSE(blacklist_match(bl, p, NULL));
        w = blacklist_warnings(bl);
        ASSERT_TRUE(w && w[0] && w[4] && !w[5]);
        ASSERT_TRUE(strstr(w[0], "line 1") != NULL);
        ASSERT_TRUE(strstr(w[2], "line 3: empty term: \"fox -\"") != NULL);
}

TEST(utf8)
{
        _cleanup_post_free_ Post *p = mkpost(1, 's', "jpg", "caf\xc3\xa9 fox");
        _cleanup_blacklist_free_ Blacklist *bl = NULL;
        char long_rule[200];
        char *const *w;
        size_t n = 0;

        ASSERT_TRUE(hides("CAF\xc3\xa9", p)); /* only ASCII is lower-cased; the rest kept */
        ASSERT_TRUE(hides("caf*", p));
        ASSERT_TRUE(hides("*\xc3\xa9", p));
        /* a lone byte: the rule is skipped, its quote made readable */
        ASSERT_OK(blacklist_parse("fox \xff\n", &bl));
        ASSERT_EQ(blacklist_n_rules(bl), 0);
        ASSERT_EQ(blacklist_n_skipped(bl), 1);
        w = blacklist_warnings(bl);
        ASSERT_STREQ(w[0], "line 1: not UTF-8: \"fox ?\"");
        bl = blacklist_free(bl);
        /* a long bad rule is quoted cut on a character boundary (byte 80 is inside an é) */
        n = (size_t)sprintf(long_rule, "a");
        while (n + 2 < 100)
                n += (size_t)sprintf(long_rule + n, "\xc3\xa9");
        n += (size_t)sprintf(long_rule + n, " user:x");
        ASSERT_OK(blacklist_parse(long_rule, &bl));
        w = blacklist_warnings(bl);
        ASSERT_TRUE(w && w[0]);
        ASSERT_TRUE(utf8_is_valid(w[0], strlen(w[0])));
        ASSERT_TRUE(strstr(w[0], "\xc3\xa9\xe2\x80\xa6\"") != NULL); /* ends in a whole é, then … */
}

TEST(fake_site_blacklist)
{
        /* the text the fake site serves as the test user's blacklisted_tags */
        static const char text[] = "# things I never want to see\n"
                                   "tagme\n"
                                   "\n"
                                   "watermark -signature\n"
                                   "~shark ~fish   # nothing from the sea\n"
                                   "rating:e score:<0\n"
                                   "pixel_(artwork) rating:q\n";
        static const struct {
                char rating;
                int score;
                const char *tags;
                bool hidden;
        } cases[] = {
                { 's', 10, "fox solo", false },
                { 's', 10, "fox tagme", true },
                { 's', 10, "fox watermark", true },
                { 's', 10, "fox watermark signature", false },
                { 's', 10, "shark", true },
                { 'q', 10, "fish fox", true },
                { 'e', -1, "fox", true },
                { 'e', 0, "fox", false },
                { 'q', -1, "fox", false },
                { 'q', 10, "pixel_(artwork)", true },
                { 'e', 10, "pixel_(artwork)", false },
        };
        _cleanup_blacklist_free_ Blacklist *bl = NULL;

        ASSERT_OK(blacklist_parse(text, &bl));
        ASSERT_EQ(blacklist_n_rules(bl), 5);
        ASSERT_EQ(blacklist_n_skipped(bl), 0);
        ASSERT_STREQ(blacklist_rule_text(bl, 2), "~shark ~fish");
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_post_free_ Post *p = mkpost(i + 1, cases[i].rating, "jpg", cases[i].tags);
                p->score_total = cases[i].score;
                if (blacklist_match(bl, p, NULL) != cases[i].hidden)
                        TEST_FAIL("rating:%c score:%d \"%s\" should be %s", cases[i].rating, cases[i].score,
                                  cases[i].tags, cases[i].hidden ? "hidden" : "shown");
        }
}

TEST(which_rule)
{
        _cleanup_post_free_ Post *p = mkpost(1, 's', "jpg", "fox solo");
        _cleanup_blacklist_free_ Blacklist *bl = NULL;
        size_t rule = 99;

        ASSERT_OK(blacklist_parse("# first\nwolf\n\nsolo fox\nfox\n", &bl));
        ASSERT_EQ(blacklist_n_rules(bl), 3);
        ASSERT_TRUE(blacklist_match(bl, p, &rule));
        ASSERT_EQ(rule, 1);
        ASSERT_STREQ(blacklist_rule_text(bl, rule), "solo fox");
}

TEST(many_tags_on_a_post)
{
        /* beyond the stack buffer, the sorted copy comes from the heap */
        _cleanup_post_free_ Post *p = mkpost(1, 's', "jpg", "");
        char name[32];

        for (unsigned i = 0; i < 2000; i++) {
                snprintf(name, sizeof(name), "tag_%u", (i * 7919u) % 2000u);
                ASSERT_OK(post_add_tag(p, name, "general"));
        }
        ASSERT_TRUE(hides("tag_1999", p));
        ASSERT_TRUE(hides("tag_0 tag_1000", p));
        ASSERT_FALSE(hides("tag_2000", p));
        ASSERT_TRUE(hides("tag_19*", p));
        ASSERT_TRUE(hides("*_1234", p));
        ASSERT_TRUE(hides("tagcount:2000", p));
}

TEST(huge_inputs)
{
        _cleanup_post_free_ Post *p = mkpost(1, 's', "jpg", "fox solo");
        _cleanup_free_ char *big = malloc(1 << 20), *line = malloc(10001);
        size_t skipped, n = 0;

        ASSERT_TRUE(big && line);
        /* 1 MiB of short rules: more than the rule limit, the rest reported */
        while (n + 16 < (1 << 20))
                n += (size_t)sprintf(big + n, "t%06zu -x\n", n % 999999);
        big[n] = '\0';
        {
                _cleanup_blacklist_free_ Blacklist *bl = NULL;
                ASSERT_OK(blacklist_parse(big, &bl));
                ASSERT_EQ(blacklist_n_rules(bl), 65536);
                ASSERT_TRUE(blacklist_n_skipped(bl) > 0);
                ASSERT_FALSE(blacklist_match(bl, p, NULL));
        }
        /* one 1 MiB line of a few huge terms */
        memset(big, 'a', (1 << 20) - 1);
        big[(1 << 20) - 1] = '\0';
        ASSERT_EQ(n_rules(big, &skipped), 0);
        ASSERT_EQ(skipped, 1);
        /* a 10,000-character line of many terms: too many, skipped */
        for (size_t i = 0; i < 10000; i++)
                line[i] = i % 2 ? ' ' : 'a';
        line[10000] = '\0';
        ASSERT_EQ(n_rules(line, &skipped), 0);
        ASSERT_EQ(skipped, 1);
        /* a 10,000-character line of long wildcard terms under the limits still matches */
        n = 0;
        while (n + 80 < 10000)
                n += (size_t)sprintf(line + n, "*o*x*x*%s ",
                                     "*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t*u*v*w*x*y*z*");
        line[n] = '\0';
        ASSERT_EQ(n_rules(line, NULL), 1);
        ASSERT_FALSE(hides(line, p));
        n = 0;
        while (n + 80 < 10000)
                n += (size_t)sprintf(line + n, "~*o*x* ~%s ",
                                     "*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t*u*v*w*x*y*z*");
        line[n] = '\0';
        ASSERT_EQ(n_rules(line, NULL), 1);
        ASSERT_TRUE(hides(line, p));
}

TEST(garbage)
{
        /* NUL-free random bytes, weighted towards the syntax's own characters */
        static const char alphabet[] =
                "ab*~-:#<>=.. \n\t\r0123456789ratingscore:id:type:status:\xc3\xa9\xff";
        _cleanup_post_free_ Post *p = mkpost(42, 'q', "png", "a b ab ba aa");
        char buf[4096];
        unsigned seed = 12345;

        for (unsigned round = 0; round < 2000; round++) {
                _cleanup_blacklist_free_ Blacklist *bl = NULL;
                size_t len = (size_t)(rand_r(&seed) % (sizeof(buf) - 1));

                for (size_t i = 0; i < len; i++) {
                        unsigned r = (unsigned)rand_r(&seed);
                        buf[i] = r % 4 ? alphabet[r % (sizeof(alphabet) - 1)] : (char)(1 + r % 255);
                }
                buf[len] = '\0';
                ASSERT_OK(blacklist_parse(buf, &bl));
                (void)blacklist_match(bl, p, NULL);
                for (char *const *w = blacklist_warnings(bl); w && *w; w++)
                        ASSERT_TRUE(utf8_is_valid(*w, strlen(*w)));
                for (size_t i = 0; i < blacklist_n_rules(bl); i++)
                        ASSERT_TRUE(blacklist_rule_text(bl, i) != NULL);
        }
}

TEST(speed)
{
        /* 320 posts against 100 rules: what one predict run asks */
        _cleanup_blacklist_free_ Blacklist *bl = NULL;
        char text[100 * 48] = "", rule[48];
        Post *posts[320];
        size_t hidden = 0;
        struct timespec a, b;

        for (unsigned i = 0; i < 100; i++) {
                snprintf(rule, sizeof(rule), "%s tag_%u -tag_%u rating:e\n", i % 3 ? "~x ~y" : "t*_1*",
                         i * 3, i);
                strcat(text, rule);
        }
        ASSERT_OK(blacklist_parse(text, &bl));
        ASSERT_EQ(blacklist_n_rules(bl), 100);
        for (unsigned i = 0; i < 320; i++) {
                posts[i] = mkpost(i, i % 2 ? 'e' : 's', "jpg", "x");
                for (unsigned j = 0; j < 60; j++) {
                        char name[32];
                        snprintf(name, sizeof(name), "tag_%u", (i * 31 + j * 17) % 400);
                        ASSERT_OK(post_add_tag(posts[i], name, "general"));
                }
        }
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (unsigned i = 0; i < 320; i++)
                hidden += blacklist_match(bl, posts[i], NULL);
        clock_gettime(CLOCK_MONOTONIC, &b);
        fprintf(stderr, "320 posts × 100 rules: %zu hidden in %.3f ms\n", hidden,
                (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
        ASSERT_TRUE(hidden > 0 && hidden < 320);
        for (unsigned i = 0; i < 320; i++)
                post_free(posts[i]);
}

TEST_MAIN()
