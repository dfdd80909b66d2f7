/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <strings.h>

#include "config.h"
#include "fluff/text.h"

#define CONFIG_FILE_MAX (64 * 1024)
#define SITE_MAX 256

Config *config_free(Config *c)
{
        if (!c)
                return NULL;
        free(c->path);
        free(c->site);
        strv_free(c->image_hosts);
        strv_free(c->warnings);
        free(c);
        return NULL;
}

int config_new_default(Config **ret)
{
        _cleanup_(config_freep) Config *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = (Config){
                .site = strdup(CONFIG_SITE_DEFAULT),
                .rate_limit = 1.0,
                .download_concurrency = 4,
                .image_size = 448,
                .crop = CROP_CENTRE,
                .include_animated = false,
                .like_favourites = true,
                .max_image_bytes = IMAGE_MAX_BYTES_DEFAULT,
                .max_image_pixels = IMAGE_MAX_PIXELS_DEFAULT,
                .watch_max_per_run = 10,
                .model_keep = 10,
                .model_install_margin = 0.02,
                .like_threshold = 0.5,
                .artist_cap = 3,
                .auto_sync = true,
                .full_sync_interval_s = 86400,
                .sync_page_size = 320,
                .auto_retrain = true,
                .retrain_changes = 50,
                .retrain_fraction = 0.10,
                .retrain_budget_s = 300,
                .retrain_on_battery = false,
                .train_image_posts = CONFIG_TRAIN_IMAGE_POSTS_DEFAULT,
        };
        if (!c->site)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

int config_default_path(char **ret)
{
        return xdg_fluff_dir("CONFIG", "config", ret);
}

int config_parse_bool(const char *v)
{
        static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off",
                                                                                    "0"};
        for (size_t i = 0; v && i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0)
                        return 1;
                if (strcasecmp(v, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

static bool host_is_loopback(const char *host)
{
        struct in_addr a4;

        if (strcasecmp(host, "localhost") == 0 || streq(host, "[::1]"))
                return true;
        /* inet_pton refuses "127.1" and octal forms: only the plain dotted quad */
        if (inet_pton(AF_INET, host, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        return false;
}

static bool host_valid(const char *host)
{
        if (host[0] == '[') {
                /* an IPv6 literal */
                size_t n = strlen(host);
                char buf[INET6_ADDRSTRLEN];
                struct in6_addr a6;
                if (n < 3 || host[n - 1] != ']' || n - 2 >= sizeof buf)
                        return false;
                memcpy(buf, host + 1, n - 2);
                buf[n - 2] = 0;
                return inet_pton(AF_INET6, buf, &a6) == 1;
        }
        if (!host[0] || host[0] == '.' || host[0] == '-')
                return false;
        for (const char *c = host; *c; c++)
                if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-')
                        return false;
        return true;
}

int config_parse_site(const char *value, char **ret_site, Error *ret_reason, char **ret_warning)
{
        _cleanup_free_ char *url = NULL, *host = NULL;
        const char *rest;
        bool https;

        if (isempty(value))
                return error_setf(ret_reason, -EINVAL, "the site is empty");
        if (strlen(value) > SITE_MAX)
                return error_setf(ret_reason, -EINVAL, "the site is longer than %d characters", SITE_MAX);
        if (strncasecmp(value, "https://", 8) == 0)
                https = true, rest = value + 8;
        else if (strncasecmp(value, "http://", 7) == 0)
                https = false, rest = value + 7;
        else
                return error_setf(ret_reason, -EINVAL,
                                  "the site must start with https:// (or http:// for this computer)");

        size_t len = strlen(rest);
        if (len > 0 && rest[len - 1] == '/')
                len--;
        if (len == 0)
                return error_setf(ret_reason, -EINVAL, "the site has no host name");
        host = strndup(rest, len);
        if (!host)
                return -ENOMEM;
        for (char *c = host; *c; c++) {
                if (*c == '/' || *c == '?' || *c == '#')
                        return error_setf(ret_reason, -EINVAL,
                                          "the site must be just scheme://host[:port], without a path");
                if (*c == '@')
                        return error_setf(ret_reason, -EINVAL,
                                          "the site must not carry a user name or password");
                if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
                        return error_setf(ret_reason, -EINVAL,
                                          "the site contains a space or an unusual character");
                *c = (char)tolower((unsigned char)*c);
        }

        /* split an optional ":port" off the host; "[::1]:8080" keeps its brackets */
        char *port = NULL;
        char *close = host[0] == '[' ? strchr(host, ']') : NULL;
        char *colon = strrchr(close ? close : host, ':');
        if (colon) {
                unsigned p;
                *colon = 0;
                port = colon + 1;
                if (safe_atou(port, &p) < 0 || p == 0 || p > 65535 || !isdigit((unsigned char)port[0]))
                        return error_setf(ret_reason, -EINVAL,
                                          "the site's port is not a number from 1 to 65535");
        }
        if (!host_valid(host))
                return error_setf(ret_reason, -EINVAL, "the site's host name is not valid");
        bool loopback = host_is_loopback(host);
        if (!https && !loopback)
                return error_setf(ret_reason, -EINVAL,
                                  "http:// is only allowed for this computer (127.0.0.1, ::1, localhost); "
                                  "use https://");

        if (asprintf(&url, "%s://%s%s%s", https ? "https" : "http", host, port ? ":" : "",
                     port ? port : "") < 0)
                return -ENOMEM;
        if (ret_warning) {
                *ret_warning = NULL;
                if (!loopback && !streq(host, "e621.net") && !streq(host, "e926.net") &&
                    asprintf(ret_warning,
                             "site %s is neither e621.net nor e926.net: your API key will be sent to it",
                             url) < 0)
                        return -ENOMEM;
        }
        *ret_site = TAKE_PTR(url);
        return 0;
}

/* "50M", "1G", "65536", "64KiB": binary multiples for bytes (base 1024),
 * decimal for pixel counts (base 1000). */
static int parse_size(const char *v, uint64_t base, uint64_t *ret)
{
        char *end;
        uint64_t mult = 1;

        if (isempty(v) || !isdigit((unsigned char)v[0]))
                return -EINVAL;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        switch (toupper((unsigned char)*end)) {
        case 0:
                break;
        case 'K':
                mult = base, end++;
                break;
        case 'M':
                mult = base * base, end++;
                break;
        case 'G':
                mult = base * base * base, end++;
                break;
        default:
                return -EINVAL;
        }
        if (mult > 1 && (streq(end, "iB") || streq(end, "B")))
                end += strlen(end);
        if (*end)
                return -EINVAL;
        if (n > UINT64_MAX / mult)
                return -ERANGE;
        *ret = n * mult;
        return 0;
}

static int parse_uint_range(const char *v, unsigned lo, unsigned hi, unsigned *ret, Error *reason)
{
        unsigned u;
        if (safe_atou(v, &u) < 0 || u < lo || u > hi)
                return error_setf(reason, -EINVAL, "must be a whole number from %u to %u", lo, hi);
        *ret = u;
        return 0;
}

typedef int (*ConfigParser)(Config *c, const char *value, Error *reason);

static int parse_site_key(Config *c, const char *v, Error *reason)
{
        char *site = NULL, *warning = NULL;
        int r = config_parse_site(v, &site, reason, &warning);
        if (r < 0)
                return r;
        free(c->site);
        c->site = site;
        if (warning)
                (void)strv_push(&c->warnings, warning);
        return 0;
}

static int parse_rate_limit(Config *c, const char *v, Error *reason)
{
        double d;
        /* rejected rather than clamped: a silently lowered rate would make the
         * user wonder why sync is slower than configured */
        if (safe_atod(v, &d) < 0 || !isfinite(d) || d <= 0.0 || d > CONFIG_RATE_LIMIT_MAX)
                return error_setf(
                        reason, -EINVAL,
                        "must be more than 0 and at most %g requests per second (the site's limit)",
                        CONFIG_RATE_LIMIT_MAX);
        c->rate_limit = d;
        return 0;
}

static int parse_concurrency(Config *c, const char *v, Error *reason)
{
        return parse_uint_range(v, 1, 16, &c->download_concurrency, reason);
}

static int parse_image_size(Config *c, const char *v, Error *reason)
{
        return parse_uint_range(v, 64, 2048, &c->image_size, reason);
}

static int parse_crop(Config *c, const char *v, Error *reason)
{
        CropMode m = crop_mode_from_string(v);
        if (m < 0)
                return error_setf(reason, -EINVAL, "must be centre, center or attention");
        c->crop = m;
        return 0;
}

static int parse_bool_into(bool *b, const char *v, Error *reason)
{
        int k = config_parse_bool(v);
        if (k < 0)
                return error_setf(reason, -EINVAL, "must be true or false (also yes/no, on/off, 1/0)");
        *b = k;
        return 0;
}

static int parse_include_animated(Config *c, const char *v, Error *reason)
{
        return parse_bool_into(&c->include_animated, v, reason);
}

static int parse_like_favourites(Config *c, const char *v, Error *reason)
{
        return parse_bool_into(&c->like_favourites, v, reason);
}

static int parse_max_bytes(Config *c, const char *v, Error *reason)
{
        uint64_t n;
        if (parse_size(v, 1024, &n) < 0 || n < (UINT64_C(1) << 20) || n > (UINT64_C(1) << 30))
                return error_setf(reason, -EINVAL, "must be a size from 1M to 1G bytes (e.g. 50M)");
        c->max_image_bytes = n;
        return 0;
}

static int parse_max_pixels(Config *c, const char *v, Error *reason)
{
        uint64_t n;
        if (parse_size(v, 1000, &n) < 0 || n < UINT64_C(1000000) || n > UINT64_C(1000000000))
                return error_setf(reason, -EINVAL, "must be a pixel count from 1M to 1G (e.g. 64M)");
        c->max_image_pixels = n;
        return 0;
}

static int parse_watch_max_per_run(Config *c, const char *v, Error *reason)
{
        return parse_uint_range(v, 1, 320, &c->watch_max_per_run, reason);
}

static int parse_image_hosts(Config *c, const char *v, Error *reason)
{
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        _cleanup_free_ char *copy = strdup(v);
        if (!l || !copy)
                return -ENOMEM;
        if (!streq(v, "none"))
                for (char *save = NULL, *h = strtok_r(copy, " ,\t", &save); h;
                     h = strtok_r(NULL, " ,\t", &save)) {
                        for (char *p = h; *p; p++)
                                *p = (char)tolower((unsigned char)*p);
                        /* host names only: no scheme, port, path or address of this computer */
                        struct in_addr a4;
                        if (!host_valid(h) || h[0] == '[' || host_is_loopback(h) || strlen(h) > 253 ||
                            inet_pton(AF_INET, h, &a4) == 1)
                                return error_setf(reason, -EINVAL,
                                                  "\"%.*s\" is not a host name (e.g. static1.e621.net)",
                                                  (int)utf8_prefix_len(h, 64), h);
                        char *d = strdup(h);
                        if (!d)
                                return -ENOMEM;
                        int r = strv_push(&l, d);
                        if (r < 0)
                                return r;
                }
        if (strv_length(l) == 0 && !streq(v, "none"))
                return error_setf(reason, -EINVAL, "must name at least one host, or be \"none\"");
        strv_free(c->image_hosts);
        c->image_hosts = TAKE_PTR(l);
        return 0;
}

static int parse_like_threshold(Config *c, const char *v, Error *reason)
{
        double d;
        if (safe_atod(v, &d) < 0 || !isfinite(d) || d < 0.01 || d > 0.99)
                return error_setf(reason, -EINVAL, "must be a probability from 0.01 to 0.99 (e.g. 0.5)");
        c->like_threshold = d;
        return 0;
}

static int parse_artist_cap(Config *c, const char *v, Error *reason)
{
        return parse_uint_range(v, 0, 320, &c->artist_cap, reason);
}

static int parse_model_keep(Config *c, const char *v, Error *reason)
{
        return parse_uint_range(v, 1, 1000, &c->model_keep, reason);
}

static int parse_model_install_margin(Config *c, const char *v, Error *reason)
{
        double d;
        if (safe_atod(v, &d) < 0 || !isfinite(d) || d < 0.0 || d > 1.0)
                return error_setf(reason, -EINVAL, "must be a ROC AUC difference from 0 to 1 (e.g. 0.02)");
        c->model_install_margin = d;
        return 0;
}

static int parse_auto_sync(Config *c, const char *v, Error *reason)
{
        return parse_bool_into(&c->auto_sync, v, reason);
}

static int parse_duration_range(const char *v, uint64_t lo, uint64_t hi, uint64_t *ret, const char *range,
                                Error *reason)
{
        uint64_t s;
        if (parse_duration_s(v, &s) < 0 || s < lo || s > hi)
                return error_setf(reason, -EINVAL, "must be a duration from %s (e.g. 90m, 1h30m, 1d)",
                                  range);
        *ret = s;
        return 0;
}

static int parse_full_sync_interval(Config *c, const char *v, Error *reason)
{
        return parse_duration_range(v, 3600, 30 * 86400, &c->full_sync_interval_s, "1h to 30d", reason);
}

static int parse_sync_page_size(Config *c, const char *v, Error *reason)
{
        return parse_uint_range(v, 1, 320, &c->sync_page_size, reason);
}

static int parse_auto_retrain(Config *c, const char *v, Error *reason)
{
        return parse_bool_into(&c->auto_retrain, v, reason);
}

static int parse_retrain_changes(Config *c, const char *v, Error *reason)
{
        return parse_uint_range(v, 1, 1000000, &c->retrain_changes, reason);
}

/* "10%" or "0.1". */
static int parse_retrain_fraction(Config *c, const char *v, Error *reason)
{
        _cleanup_free_ char *num = strdup(v);
        double d;
        if (!num)
                return -ENOMEM;
        size_t n = strlen(num);
        bool percent = n > 0 && num[n - 1] == '%';
        if (percent)
                num[n - 1] = 0;
        if (safe_atod(num, &d) < 0 || !isfinite(d))
                d = NAN;
        else if (percent)
                d /= 100.0;
        if (!(d >= 0.01 && d <= 1.0))
                return error_setf(reason, -EINVAL, "must be a share from 1%% to 100%% (or 0.01 to 1)");
        c->retrain_fraction = d;
        return 0;
}

static int parse_retrain_budget(Config *c, const char *v, Error *reason)
{
        return parse_duration_range(v, 5, 24 * 3600, &c->retrain_budget_s, "5s to 24h", reason);
}

static int parse_retrain_on_battery(Config *c, const char *v, Error *reason)
{
        return parse_bool_into(&c->retrain_on_battery, v, reason);
}

static int parse_train_image_posts(Config *c, const char *v, Error *reason)
{
        return parse_uint_range(v, 100, 1000000, &c->train_image_posts, reason);
}

static const struct {
        const char *key;
        ConfigParser parse;
} config_keys[] = {
        {"site", parse_site_key},
        {"rate_limit", parse_rate_limit},
        {"download_concurrency", parse_concurrency},
        {"image_size", parse_image_size},
        {"crop", parse_crop},
        {"include_animated", parse_include_animated},
        {"like_favourites", parse_like_favourites},
        {"max_image_bytes", parse_max_bytes},
        {"max_image_pixels", parse_max_pixels},
        {"watch_max_per_run", parse_watch_max_per_run},
        {"model_keep", parse_model_keep},
        {"model_install_margin", parse_model_install_margin},
        {"like_threshold", parse_like_threshold},
        {"artist_cap", parse_artist_cap},
        {"auto_sync", parse_auto_sync},
        {"full_sync_interval", parse_full_sync_interval},
        {"sync_page_size", parse_sync_page_size},
        {"auto_retrain", parse_auto_retrain},
        {"retrain_changes", parse_retrain_changes},
        {"retrain_fraction", parse_retrain_fraction},
        {"retrain_budget", parse_retrain_budget},
        {"retrain_on_battery", parse_retrain_on_battery},
        {"train_image_posts", parse_train_image_posts},
        {"image_hosts", parse_image_hosts},
};

static char *strip(char *s)
{
        while (isspace((unsigned char)*s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char)s[n - 1]))
                s[--n] = 0;
        return s;
}

/* Cuts a " # comment" off a value (a "#" right after text is kept: no value
 * needs one, but a URL fragment should give a clear site error, not vanish). */
static char *unquote_and_uncomment(char *v, bool *ret_bad_quote)
{
        *ret_bad_quote = false;
        if (v[0] == '"') {
                char *close = strchr(v + 1, '"');
                if (!close) {
                        *ret_bad_quote = true;
                        return v;
                }
                *close = 0;
                char *after = strip(close + 1);
                if (*after && *after != '#')
                        *ret_bad_quote = true;
                return v + 1;
        }
        for (char *c = v; *c; c++)
                if (*c == '#' && c > v && isspace((unsigned char)c[-1])) {
                        *c = 0;
                        break;
                }
        return strip(v);
}

static int parse_text(Config *c, const char *path, char *text, Error *error)
{
        _cleanup_strv_free_ char **warned = NULL;
        unsigned line = 0;

        for (char *l = text, *next; l; l = next) {
                next = strchr(l, '\n');
                if (next)
                        *next++ = 0;
                line++;
                char *s = strip(l);
                if (!*s || *s == '#')
                        continue;
                char *eq = strchr(s, '=');
                if (!eq) {
                        return error_setf(error, -EINVAL, "%s:%u: expected \"key = value\"", path, line);
                }
                *eq = 0;
                char *key = strip(s);
                bool bad_quote;
                char *value = unquote_and_uncomment(strip(eq + 1), &bad_quote);
                if (!*key) {
                        return error_setf(error, -EINVAL, "%s:%u: a line has no key before \"=\"", path,
                                          line);
                }
                if (bad_quote) {
                        return error_setf(error, -EINVAL, "%s:%u: %s: unbalanced or misplaced quote", path,
                                          line, key);
                }

                size_t i;
                for (i = 0; i < ELEMENTSOF(config_keys); i++)
                        if (streq(key, config_keys[i].key))
                                break;
                if (i == ELEMENTSOF(config_keys)) {
                        if (strv_contains(warned, key))
                                continue;
                        char *w = NULL, *k = strdup(key);
                        if (!k || asprintf(&w, "%s:%u: unknown key \"%s\", ignoring", path, line, key) < 0) {
                                free(k);
                                return -ENOMEM;
                        }
                        if (strv_push(&warned, k) < 0 || strv_push(&c->warnings, w) < 0)
                                return -ENOMEM;
                        continue;
                }
                Error reason = {};
                int r = config_keys[i].parse(c, value, &reason);
                if (r < 0) {
                        (void)error_setf(error, -EINVAL, "%s:%u: %s = %s: %s", path, line, key, value,
                                         error_message(&reason, r));
                        return r == -ENOMEM ? r : -EINVAL;
                }
        }
        return 0;
}

int config_load(const char *path, Config **ret, Error *error)
{
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *default_path = NULL, *text = NULL;
        int r;

        if (!path) {
                r = config_default_path(&default_path);
                if (r < 0) {
                        return error_setf(error, r, "Cannot find the configuration folder: %s",
                                          strerror(-r));
                }
                path = default_path;
        }
        r = config_new_default(&c);
        if (r < 0)
                return r;

        size_t size = 0;
        r = read_file_full(path, CONFIG_FILE_MAX, &text, &size);
        if (r == -EFBIG) {
                return error_setf(error, r, "%s: larger than %d KiB, not a configuration file", path,
                                  CONFIG_FILE_MAX / 1024);
        }
        if (r < 0 && r != -ENOENT) {
                return error_setf(error, r, "Cannot read %s: %s", path, strerror(-r));
        }
        if (r >= 0) {
                if (strlen(text) != size) {
                        return error_setf(error, -EINVAL,
                                          "%s: contains a NUL byte, not a configuration file", path);
                }
                c->path = strdup(path);
                if (!c->path)
                        return -ENOMEM;
                r = parse_text(c, path, text, error);
                if (r < 0)
                        return r;
        }

        const char *env = getenv("FLUFF_SITE");
        if (!isempty(env)) {
                Error reason = {};
                r = parse_site_key(c, env, &reason);
                if (r < 0) {
                        (void)error_setf(error, -EINVAL, "FLUFF_SITE=%s: %s", env,
                                         error_message(&reason, r));
                        return r == -ENOMEM ? r : -EINVAL;
                }
        }

        for (char **w = c->warnings; w && *w; w++)
                log_warning("%s", *w);
        *ret = TAKE_PTR(c);
        return 0;
}
