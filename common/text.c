/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "fluff/text.h"

size_t text_next_char(const char *s, size_t n, uint32_t *ret_cp)
{
        const unsigned char *u = (const unsigned char *)s;
        unsigned c = u[0], k;
        uint32_t cp;

        if (c < 0x80)
                goto single;
        if (c >= 0xc2 && c <= 0xdf)
                k = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
                k = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
                k = 3, cp = c & 0x07;
        else
                goto single;
        if (k >= n)
                goto single;
        for (unsigned i = 1; i <= k; i++) {
                if ((u[i] & 0xc0) != 0x80)
                        goto single;
                cp = (cp << 6) | (u[i] & 0x3f);
        }
        /* overlong forms, surrogates and code points past U+10FFFF are not UTF-8 */
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
            cp > 0x10ffff)
                goto single;
        *ret_cp = cp;
        return k + 1;
single:
        *ret_cp = c;
        return 1;
}

size_t utf8_encode(uint32_t cp, char out[static 4])
{
        if (cp < 0x80) {
                out[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char)(0xc0 | (cp >> 6));
                out[1] = (char)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char)(0xe0 | (cp >> 12));
                out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                out[2] = (char)(0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (char)(0xf0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
}

char *text_sanitize(const char *s, size_t n, unsigned flags)
{
        /* a Latin-1 byte becomes at most two bytes; a valid sequence stays as long */
        if (n > (SIZE_MAX - 1) / 2)
                return NULL;
        char *out = malloc(2 * n + 1);
        size_t len = 0;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n;) {
                uint32_t cp;
                i += text_next_char(s + i, n - i, &cp);
                if (cp == '\n' && (flags & TEXT_KEEP_NEWLINES))
                        out[len++] = '\n';
                else if (text_char_is_control(cp)) {
                        if (!(flags & TEXT_DROP_CONTROLS))
                                out[len++] = ' ';
                } else
                        len += utf8_encode(cp, out + len);
        }
        out[len] = '\0';
        return out;
}

bool text_is_clean(const char *s, size_t n, unsigned flags)
{
        for (size_t i = 0; i < n;) {
                uint32_t cp;
                size_t k = text_next_char(s + i, n - i, &cp);
                /* a byte read as Latin-1 was not UTF-8 */
                if (k == 1 && (unsigned char)s[i] >= 0x80)
                        return false;
                if (text_char_is_control(cp) && !(cp == '\n' && (flags & TEXT_KEEP_NEWLINES)))
                        return false;
                i += k;
        }
        return true;
}

size_t utf8_prefix_len(const char *s, size_t max)
{
        size_t n = strnlen(s, max);

        if (n < max || s[n] == '\0')
                return n;
        /* s[n] is the first byte left out: back up while it continues a character */
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
                n--;
        return n;
}
