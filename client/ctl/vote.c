/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <inttypes.h>
#include <json-c/json.h>

#include "bus-util.h"
#include "ctl.h"
#include "fluff/bus.h"
#include "fluff/text.h"
#include "output.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static int parse_digits(const char *s, size_t len, uint64_t *ret)
{
        char buf[24];
        uint64_t id;

        if (len == 0 || len >= sizeof(buf) || strspn(s, "0123456789") < len)
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = 0;
        if (safe_atou64(buf, &id) < 0 || id == 0 || id > INT64_MAX)
                return -EINVAL;
        *ret = id;
        return 0;
}

/* A post id as the site shows it (digits only, no sign, not 0), or a post's
 * address: http(s)://HOST/posts/ID (with any query or fragment) or the older
 * /post/show/ID. */
int parse_post_ref(const char *arg, uint64_t *ret)
{
        const char *p;

        if (isempty(arg))
                return -EINVAL;
        if (!strneq(arg, "https://", 8) && !strneq(arg, "http://", 7))
                return parse_digits(arg, strlen(arg), ret);
        p = strchr(strstr(arg, "//") + 2, '/');
        if (!p)
                return -EINVAL;
        if (strneq(p, "/posts/", 7))
                p += 7;
        else if (strneq(p, "/post/show/", 11))
                p += 11;
        else
                return -EINVAL;
        return parse_digits(p, strcspn(p, "/?#"), ret);
}

/* "HOST[:PORT]" of an http(s) address, lower case, without user info; NULL
 * when arg is not one. */
static char *url_host(const char *arg)
{
        const char *p = strstr(strempty(arg), "://");
        if (!p || (!strneq(arg, "https://", 8) && !strneq(arg, "http://", 7)))
                return NULL;
        p += 3;
        size_t n = strcspn(p, "/?#");
        const char *at = memchr(p, '@', n);
        if (at) {
                n -= (size_t)(at + 1 - p);
                p = at + 1;
        }
        char *h = strndup(p, n);
        for (char *c = h; c && *c; c++)
                *c = (char)tolower((unsigned char)*c);
        return h;
}

/* A post's address must be on the site fluffd votes on: the same post id on
 * another site is another post. */
static int check_hosts(sd_bus *bus, int argc, char *argv[])
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *site = NULL, *site_host = NULL;
        int r;

        for (int i = 1; i < argc; i++) {
                _cleanup_free_ char *host = url_host(argv[i]);
                if (!host)
                        continue;
                if (!site) {
                        r = sd_bus_get_property_string(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH,
                                                       FLUFF_BUS_MANAGER_IFACE, "Site", &error, &site);
                        if (r < 0)
                                return bus_log_call_error("read the site fluffd uses", &error, r);
                        site_host = url_host(site);
                        if (!site_host)
                                return log_oom();
                }
                if (!streq(host, site_host)) {
                        log_error("\"%.*s\" is a post on %s, not on %s, the site fluffd votes on: give "
                                  "its id or an address on %s.",
                                  (int)utf8_prefix_len(argv[i], 200), argv[i], host, site_host, site_host);
                        return VERB_USAGE_ERROR;
                }
        }
        return 0;
}

static int vote_one(sd_bus *bus, uint64_t id, int score, sd_bus_error *error)
{
        return sd_bus_call_method(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, "Vote",
                                  error, NULL, "ti", id, (int32_t)score);
}

/* Votes on each post in turn; one that fails does not stop the others, and
 * the command fails when any did. Arguments are all checked first. */
static int vote(int argc, char *argv[], int score, sd_bus *bus)
{
        static const char *const what[] = {"dislike", "vote removal", "like"};
        static const char *const vote_name[] = {"dislike", "none", "like"};
        _cleanup_(json_object_putp) json_object *a = arg_json ? json_object_new_array() : NULL;
        _cleanup_free_ uint64_t *ids = calloc((size_t)argc, sizeof(uint64_t));
        int r, ret = 0;

        if (!ids || (arg_json && !a))
                return log_oom();
        for (int i = 1; i < argc; i++)
                if (parse_post_ref(argv[i], &ids[i]) < 0) {
                        log_error("\"%.*s\" is not a post id or a post's address (e.g. 12345, or "
                                  "https://HOST/posts/12345).",
                                  (int)utf8_prefix_len(argv[i], 64), argv[i]);
                        return VERB_USAGE_ERROR;
                }
        r = check_hosts(bus, argc, argv);
        if (r < 0)
                return r;
        for (int i = 1; i < argc; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                r = vote_one(bus, ids[i], score, &error);
                if (r < 0) {
                        char why[64];
                        snprintf(why, sizeof(why), "%s post %" PRIu64,
                                 score > 0   ? "like"
                                 : score < 0 ? "dislike"
                                             : "remove the vote on",
                                 ids[i]);
                        (void)bus_log_call_error(why, &error, r);
                        /* the one that needs the user (not logged in) decides the exit status */
                        if (ret == 0 || exit_status_of(r) == EXIT_TEMPFAIL)
                                ret = r;
                } else if (!arg_quiet && !arg_json)
                        printf("Recorded the %s of post %" PRIu64 "%s\n", what[score + 1], ids[i],
                               argc == 2 ? "; it is sent to the site in the background (\"fluffctl status\" "
                                           "shows the outbox)."
                                         : ".");
                if (a) {
                        json_object *o = json_object_new_object();
                        if (!o)
                                return log_oom();
                        json_object_object_add(o, "id", json_object_new_uint64(ids[i]));
                        json_object_object_add(o, "vote", json_object_new_string(vote_name[score + 1]));
                        json_object_object_add(o, "recorded", json_object_new_boolean(r >= 0));
                        json_object_object_add(o, "error",
                                               r < 0 ? json_object_new_string(error.message ?: strerror(-r))
                                                     : NULL);
                        json_object_array_add(a, o);
                }
        }
        if (a)
                json_print(a);
        else if (!arg_quiet && ret == 0 && argc > 2)
                printf("The votes are sent to the site in the background (\"fluffctl status\" shows the "
                       "outbox).\n");
        return ret;
}

int verb_like(int argc, char *argv[], sd_bus *bus)
{
        return vote(argc, argv, 1, bus);
}

int verb_dislike(int argc, char *argv[], sd_bus *bus)
{
        return vote(argc, argv, -1, bus);
}

int verb_unvote(int argc, char *argv[], sd_bus *bus)
{
        return vote(argc, argv, 0, bus);
}
