/* SPDX-License-Identifier: MIT */
#pragma once

/* The user's e621 blacklist (`blacklisted_tags`, one rule per line), applied to
 * posts on our side because the site never filters. A post is hidden when any
 * rule matches it.
 *
 * Syntax, as the site's own client (e621ng `Filter.js`) reads it:
 *   - each line is trimmed; empty lines and lines starting with `#` are skipped;
 *     a comment after whitespace (`tag #why`) is cut off; the rest is lower-cased
 *     (ASCII only, as the site's tags are);
 *   - terms are separated by whitespace and must all match;
 *   - `-term` negates a term; `~term`s form one OR group of which at least one
 *     must match; both prefixes may be combined (`~-tag`, `-~tag`);
 *   - `*` in a tag is a wildcard for any run of characters, anywhere;
 *   - metatags: `rating:` (s/q/e, or any word starting with one of them, e.g.
 *     safe/questionable/explicit), `score:`, `favcount:`, `id:`, `width:`,
 *     `height:`, `tagcount:`, `filesize:` (suffix b/kb/mb allowed), `type:` (file
 *     extension; jpeg = jpg), `status:` (deleted, pending, flagged, active =
 *     neither pending nor deleted, modqueue = pending or flagged, any), `fav:`
 *     (any value: the post is a favourite of the user). Numbers take `<`, `>`,
 *     `<=`, `>=`, `=` (also `==`, `=<`, `=>`) or a range `a..b` (inclusive,
 *     bounds in either order as on the site), `..b` or `a..`.
 *
 * Interpretation choices (where the site is silent or surprising):
 *   - A rule of negated terms only (`-safe_tag`) hides every post lacking all of
 *     them, exactly as on the site. It is a legal, if broad, rule.
 *   - A rule is all or nothing: one bad term (a bare `-` or `~`, `--x`, a bad
 *     number or range such as `score:>x` or `id:..`, an unknown rating, status
 *     or comparison on a word metatag, a term over 512 bytes) makes the whole
 *     rule skipped and reported. Dropping just the bad term would silently
 *     broaden the rule (`a -` would become `a`); hiding on it (the site turns a
 *     bare `-` into "hide everything") would be worse.
 *   - Metatags the site knows but a Post cannot answer (`user:`, `uploader:`,
 *     `userid:`, `username:`, `pool:`) make the rule skipped and reported.
 *   - Any other `word:value` is an ordinary tag (tags such as `16:9` exist), so
 *     an unknown metatag simply matches nothing, as on the site.
 *   - A rule that is not valid UTF-8 cannot name a site tag: skipped and
 *     reported. Warnings are always valid UTF-8 (they may go over D-Bus).
 *   - More than 65536 rules or 1000 terms in one rule: the extra rules, or that
 *     rule, are skipped and reported.
 *   - Post tags are compared as the site spells them (lower case). */

#include <stdbool.h>
#include <stddef.h>

#include "fluff/util.h"
#include "post.h"

typedef struct Blacklist Blacklist;

/* Parses text (NULL or "" gives an empty blacklist). Never fails on odd input:
 * a bad rule is skipped, counted and described in the warnings. Returns 0, or
 * -ENOMEM. */
int blacklist_parse(const char *text, Blacklist **ret);
Blacklist *blacklist_free(Blacklist *bl);
DEFINE_TRIVIAL_CLEANUP_FUNC(Blacklist *, blacklist_free);
#define _cleanup_blacklist_free_ _cleanup_(blacklist_freep)

/* Rules kept, in the order they appear. */
size_t blacklist_n_rules(const Blacklist *bl);
/* The normalised text of rule i (trimmed, lower-cased, comment cut), or NULL. */
const char *blacklist_rule_text(const Blacklist *bl, size_t i);
/* Rules skipped as bad; the first few have a warning ("line 3: ...: \"rule\""). */
size_t blacklist_n_skipped(const Blacklist *bl);
char *const *blacklist_warnings(const Blacklist *bl); /* NULL-terminated, maybe NULL */

/* Whether bl (which may be NULL: nothing hidden) hides p. On true, ret_rule
 * (may be NULL) gets the index of the first matching rule. Allocation-free for
 * posts with up to 512 tags; never fails (it falls back to linear lookups). */
bool blacklist_match(const Blacklist *bl, const Post *p, size_t *ret_rule);
