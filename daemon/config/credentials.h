/* SPDX-License-Identifier: MIT */
#pragma once

/* The remembered login: $XDG_CONFIG_HOME/fluff/credentials, mode 0600.
 *
 * Format (written by credentials_save, read back by credentials_load):
 *   # Fluff login. Delete this file (or run "fluffctl logout --forget") to forget it.
 *   site = <scheme://host[:port]>
 *   username = <name>
 *   api_key = <key>
 *
 * The key belongs to the site it was made for: a file names that site, and
 * fluffd uses the key only there (credentials_match_site), so pointing site=
 * or FLUFF_SITE elsewhere asks for a new login instead of sending the key to
 * another host. A file without a site line (written before sites were
 * recorded) belongs to the default site, https://e621.net.
 *
 * Rules: the file is written atomically (temporary file, fsync, rename) with
 * mode 0600. When loading, a file readable or writable by group or others is
 * FIXED (chmod 0600) and a warning advises creating a new API key, since others
 * may have read it; a file that is not a regular file (symlink included) or is
 * owned by another user is refused (-EPERM). Error messages never contain the
 * file's content: only the path, the line number and what was expected. */

#include <stdbool.h>

#include "fluff/error.h"
#include "fluff/util.h"

typedef struct Credentials {
        char *site;     /* owned; NULL: the default site (a file from before sites were recorded) */
        char *username; /* owned */
        char *api_key;  /* owned; wiped with erase_and_free() when freed */
} Credentials;

#define CREDENTIALS_USERNAME_MAX 64
#define CREDENTIALS_API_KEY_MAX 128

/* Copies both strings; -EINVAL when either fails the checks below. */
int credentials_new(const char *username, const char *api_key, Credentials **ret);
/* Binds the credentials to site (a normalised "scheme://host[:port]", as
 * config_parse_site() writes it; copied); -EINVAL for anything else. */
int credentials_set_site(Credentials *c, const char *site);
/* true when the credentials were made for site (NULL site: the default). */
bool credentials_match_site(const Credentials *c, const char *site);
/* Wipes the key (and the name) before freeing. NULL-safe. */
Credentials *credentials_free(Credentials *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Credentials *, credentials_free);
#define _cleanup_credentials_free_ _cleanup_(credentials_freep)

/* 1..64 printable ASCII characters, no space and no ":" (the Basic auth separator). */
bool credentials_username_valid(const char *s);
/* 1..128 printable ASCII characters without spaces. */
bool credentials_api_key_valid(const char *s);

/* "$XDG_CONFIG_HOME/fluff/credentials". */
int credentials_default_path(char **ret);

/* path NULL: the default path. -ENOENT when there is no file (not logged: the
 * usual "not remembered" case). Other errors: negative errno and, when
 * error is not NULL, a sentence naming the path (never the content);
 * -EBADMSG for a malformed file, -EPERM for a file we must not trust.
 * Fixing too-open permissions is logged at warning level. */
int credentials_load(const char *path, Credentials **ret, Error *error);

/* Creates the folder (0700) when needed, writes atomically with mode 0600. */
int credentials_save(const char *path, const Credentials *c);

/* Deletes the file; 0 also when there was none. */
int credentials_remove(const char *path);
