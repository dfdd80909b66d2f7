/* SPDX-License-Identifier: MIT */
#pragma once

/* fluffd's settings: $XDG_CONFIG_HOME/fluff/config.
 *
 * Format: one "key = value" per line; blank lines and lines starting with "#"
 * are ignored; surrounding spaces are trimmed; values may be wrapped in double
 * quotes. A missing file means every default. An unknown key is reported once
 * in Config.warnings (with its line number) and ignored, so an older fluffd
 * can read a newer file. A bad value is an error that names the file, the line
 * and the key: fluffd should refuse to start rather than guess.
 *
 * Keys (default, accepted values):
 *   site                  https://e621.net   https://<any host>[:port], or http:// only for
 *                                            loopback hosts (127.0.0.0/8, ::1, localhost).
 *                                            Another https host than e621.net / e926.net is
 *                                            accepted with a warning (the API key is sent to it).
 *                                            No path, query or user part; a trailing "/" is dropped.
 *   rate_limit            1                  API requests per second, > 0 and ≤ 2 (the site's
 *                                            hard limit): a larger value is REJECTED, not clamped.
 *   download_concurrency  4                  1..16 image downloads at once
 *   image_size            448                64..2048 pixels, the side of the stored square crops
 *   crop                  centre             centre | center | attention
 *   include_animated      false              sync animated posts (their still sample) too
 *   like_favourites       true               a like from Fluff also favourites the post
 *   max_image_bytes       50M                1M..1G, bytes of one downloaded image (K/M/G suffixes)
 *   max_image_pixels      64M                1M..1G, width × height declared by an image
 *   watch_max_per_run     10                 1..320, posts a new watch announces per run at most
 *   image_hosts           (the real site's)  host names, separated by spaces or commas, that
 *                                            images may come from over https besides the site
 *                                            itself; "none" for the site alone. Default:
 *                                            static1.e621.net static1.e926.net.
 * The score and the lists (issues 13 and 14):
 *   like_threshold        0.5                0.01..0.99: P(like) at or above which a post counts as a like
 *                                            (the score is a calibrated probability, so 0.5 means
 *                                            "more likely liked than not")
 *   artist_cap            3                  0..320 posts of one artist a list (predict, a watch run)
 *                                            shows before the others get their turn (0: plain order)
 * The model's life on its own (README "What runs by itself"):
 *   model_keep            10                 1..1000 trained models kept in the history
 *   model_install_margin  0.02               0..1: a new model is installed unless its ROC AUC is below
 *                                            the installed one's by more than this, both on the posts
 *                                            labelled since the installed one was trained
 *                                            (services/taste-history.h)
 *   auto_sync             true               each timer run syncs (newest first, stopping at known
 *                                            posts) before it runs the watches
 *   full_sync_interval    1d                 1h..30d between full syncs (they see removed votes)
 *   sync_page_size        320                1..320 posts asked for per page of a list (the site's most)
 *   auto_retrain          true               retrain when enough labels changed since the installed model
 *   retrain_changes       50                 1..1000000 new, changed or removed labels that start one
 *   retrain_fraction      10%                1%..100% (or 0.01..1) of the installed model's dataset that
 *                                            starts one, whichever of the two comes first
 *   retrain_budget        5m                 5s..24h, the automatic training's time budget
 *   retrain_on_battery    false              also retrain while UPower says the machine is on battery
 *   train_image_posts     8000               100..1000000 labelled posts with an image a training
 *                                            holds the image rows of, the newest (each is 9-16 KB,
 *                                            and training's memory grows with them; the older ones
 *                                            train on their tags; train/budget.h caps it further)
 * Durations: a number of seconds or a sum like 1h30m (s, m, h, d).
 * Booleans: true/false, yes/no, on/off, 1/0.
 *
 * The environment variable FLUFF_SITE, when set and not empty, replaces site
 * and is validated the same way (errors name FLUFF_SITE). */

#include <stdbool.h>
#include <stdint.h>

#include "fluff/error.h"
#include "fluff/util.h"
#include "images.h"

#define CONFIG_SITE_DEFAULT "https://e621.net"
#define CONFIG_RATE_LIMIT_MAX 2.0
#define CONFIG_TRAIN_IMAGE_POSTS_DEFAULT 8000u

typedef struct Config {
        char *path;                    /* owned; the file read, or NULL for pure defaults */
        char *site;                    /* owned; "scheme://host[:port]", no trailing "/" */
        double rate_limit;             /* API requests per second, (0, 2] */
        unsigned download_concurrency; /* 1..16 */
        unsigned image_size;           /* 64..2048 */
        CropMode crop;
        bool include_animated;
        bool like_favourites;
        uint64_t max_image_bytes;
        uint64_t max_image_pixels;
        unsigned watch_max_per_run;    /* 1..320: AddWatch's default */
        char **image_hosts;            /* owned strv; NULL: the real site's image hosts, empty: none */
        double like_threshold;         /* 0.01..0.99 of P(like) */
        unsigned artist_cap;           /* 0..320; 0: no cap */
        unsigned model_keep;           /* 1..1000 models in the history */
        double model_install_margin;   /* 0..1 of ROC AUC */
        bool auto_sync;                /* the timer run syncs first */
        uint64_t full_sync_interval_s; /* between full syncs */
        unsigned sync_page_size;       /* 1..320 */
        bool auto_retrain;
        unsigned retrain_changes;  /* labels changed since the installed model … */
        double retrain_fraction;   /* … or this share of its dataset, whichever first */
        uint64_t retrain_budget_s; /* 5 s … 24 h */
        bool retrain_on_battery;
        unsigned train_image_posts; /* the newest labelled posts with an embedding a training holds */
        char **warnings; /* owned strv (may be NULL): unknown keys, unusual site; already logged */
} Config;

/* A Config with every default (FLUFF_SITE is NOT applied). */
int config_new_default(Config **ret);
Config *config_free(Config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);
#define _cleanup_config_free_ _cleanup_(config_freep)

/* "$XDG_CONFIG_HOME/fluff/config" (default ~/.config/fluff/config). */
int config_default_path(char **ret);

/* Reads path (NULL: config_default_path()), then applies FLUFF_SITE.
 * A missing file is not an error. Warnings are logged at warning level and kept
 * in Config.warnings. On failure returns a negative errno (-EINVAL for a bad
 * value or line, -EFBIG for a file over 64 KiB, the open/read error otherwise)
 * and, when error is not NULL, one sentence for a person such as
 * "/home/u/.config/fluff/config:3: rate_limit = 5: must be more than 0 and at
 * most 2 requests per second"; nothing is logged for errors. */
int config_load(const char *path, Config **ret, Error *error);

/* The rules behind site, for callers that take a site from elsewhere.
 * Returns the normalised URL, or -EINVAL with a reason (no "file:line"). When
 * ret_warning is not NULL and the site is accepted but unusual, it gets a
 * warning sentence (else NULL). */
int config_parse_site(const char *value, char **ret_site, Error *ret_reason, char **ret_warning);

/* "true"/"yes"/"on"/"1" → 1, "false"/"no"/"off"/"0" → 0, else -EINVAL. */
int config_parse_bool(const char *value);
