/* SPDX-License-Identifier: MIT */
#include "fluff/text.h"
#include "fluff/util.h"
#include "tests.h"

TEST(sanitize_latin1_page)
{
        /* "Caf\xe9 \xab Portal \xbb" as a captive portal sends it in Latin-1 */
        static const char latin1[] = "Caf\xe9 \xab Portal \xbb";
        _cleanup_free_ char *s = text_sanitize(latin1, strlen(latin1), 0);

        ASSERT_TRUE(s);
        ASSERT_STREQ(s, "Café « Portal »");
        ASSERT_TRUE(utf8_is_valid(s, strlen(s)));
        ASSERT_FALSE(text_is_clean(latin1, strlen(latin1), 0));
        ASSERT_TRUE(text_is_clean(s, strlen(s), 0));
}

TEST(sanitize_controls)
{
        /* an OSC title, a clear-screen CSI, BEL, DEL and the C1 CSI (U+009B) */
        static const char evil[] = "a\x1b]0;owned\x07\x1b[2J\x7f b\xc2\x9b"
                                   "31m c\xc2\x85";
        _cleanup_free_ char *spaced = text_sanitize(evil, strlen(evil), 0);
        _cleanup_free_ char *dropped = text_sanitize(evil, strlen(evil), TEXT_DROP_CONTROLS);

        ASSERT_STREQ(spaced, "a ]0;owned  [2J  b 31m c ");
        ASSERT_STREQ(dropped, "a]0;owned[2J b31m c");
        ASSERT_FALSE(text_is_clean(evil, strlen(evil), 0));
        for (const char *p = spaced; *p; p++)
                ASSERT_TRUE((unsigned char)*p >= 0x20 && *p != 0x7f);
}

TEST(sanitize_keeps_good_text)
{
        static const char good[] = "fox_(species) 狐 🦊 ü";
        _cleanup_free_ char *s = text_sanitize(good, strlen(good), 0);
        static const char lines[] = "a\nb\tc\r\n";
        _cleanup_free_ char *l = text_sanitize(lines, strlen(lines), TEXT_KEEP_NEWLINES);

        ASSERT_STREQ(s, good);
        ASSERT_TRUE(text_is_clean(good, strlen(good), 0));
        ASSERT_STREQ(l, "a\nb c \n");
        ASSERT_TRUE(text_is_clean("a\nb", 3, TEXT_KEEP_NEWLINES));
        ASSERT_FALSE(text_is_clean("a\nb", 3, 0));
}

TEST(sanitize_malformed_utf8)
{
        /* overlong "/", a surrogate, a truncated sequence, a lone continuation */
        static const char bad[] = "\xc0\xaf|\xed\xa0\x80|\xe2\x82|\x80";
        _cleanup_free_ char *s = text_sanitize(bad, sizeof bad - 1, 0);

        ASSERT_TRUE(s);
        ASSERT_TRUE(utf8_is_valid(s, strlen(s)));
        ASSERT_TRUE(text_is_clean(s, strlen(s), 0));
        /* an embedded NUL is a control too: the copy is one C string */
        _cleanup_free_ char *z = text_sanitize("a\0b", 3, 0);
        ASSERT_STREQ(z, "a b");
}

TEST(prefix_on_boundary)
{
        /* "é" is two bytes: a cut at 3 must not split the second one */
        ASSERT_EQ(utf8_prefix_len("éé", 3), 2u);
        ASSERT_EQ(utf8_prefix_len("éé", 4), 4u);
        ASSERT_EQ(utf8_prefix_len("éé", 100), 4u);
        ASSERT_EQ(utf8_prefix_len("abc", 2), 2u);
        ASSERT_EQ(utf8_prefix_len("a🦊", 4), 1u);
        ASSERT_EQ(utf8_prefix_len("a🦊", 5), 5u);

        char buf[64];
        (void)snprintf(buf, sizeof buf, "[%.*s]", (int)utf8_prefix_len("ääää", 5), "ääää");
        ASSERT_STREQ(buf, "[ää]");
        ASSERT_TRUE(utf8_is_valid(buf, strlen(buf)));
}

TEST_MAIN()
