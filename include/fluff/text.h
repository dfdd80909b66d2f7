/* SPDX-License-Identifier: MIT */
#pragma once

/* Text that came from elsewhere (the site, a file, a caller) made fit for
 * D-Bus, SQLite and a terminal: valid UTF-8 (sd-bus refuses anything else)
 * without control characters (an ESC or a C1 CSI from the site must never
 * reach a terminal). Done once, where the text enters fluffd; the setters that
 * publish text check it again as a backstop. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The character at s (n > 0 bytes available): its code point in *ret_cp and
 * the bytes it takes. A byte that does not start a well-formed UTF-8 sequence
 * is read as Latin-1 (one byte, that code point): an error page from a captive
 * portal or an old proxy then reads as it was meant. */
size_t text_next_char(const char *s, size_t n, uint32_t *ret_cp);
/* The UTF-8 bytes of cp (at most 4) in out; returns how many. */
size_t utf8_encode(uint32_t cp, char out[static 4]);
/* C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F): the characters a
 * terminal acts on. */
static inline bool text_char_is_control(uint32_t cp)
{
        return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

enum {
        TEXT_KEEP_NEWLINES = 1 << 0, /* "\n" stays (a blacklist's lines); other controls do not */
        TEXT_DROP_CONTROLS = 1 << 1, /* controls are removed, not turned into a space */
};
/* A malloc'd copy of s[0..n) that is valid UTF-8 (see text_next_char) with
 * every control character turned into a space (or dropped, or a kept
 * newline, as flags say). NULL only when out of memory. */
char *text_sanitize(const char *s, size_t n, unsigned flags);
/* true when s[0..n) is valid UTF-8 without control characters (newlines
 * allowed with TEXT_KEEP_NEWLINES): what text_sanitize() would leave as is. */
bool text_is_clean(const char *s, size_t n, unsigned flags);

/* The length of the longest prefix of s of at most max bytes that ends on a
 * character boundary: "%.*s" with (int)utf8_prefix_len(s, max) cuts text
 * without leaving half a character, which sd-bus would refuse. */
size_t utf8_prefix_len(const char *s, size_t max);
