/* SPDX-License-Identifier: MIT */
/* Where image downloads may go. A post's file URL is the site's text: without
 * a policy a hostile or broken answer points fluffd at any address it can
 * reach (a router's admin page, a local service on 127.0.0.1). Images come
 * from the site itself or its known image hosts, over https; plain http only
 * back to the loopback test site they came from. */
#include <strings.h>

#include "e621-internal.h"

/* where the real site serves its files (e621.net and its safe twin e926.net) */
static const char *const default_image_hosts[] = {"static1.e621.net", "static1.e926.net", NULL};

typedef struct UrlParts {
        char *scheme, *host, *port;
} UrlParts;

static void url_parts_done(UrlParts *p)
{
        curl_free(p->scheme);
        curl_free(p->host);
        curl_free(p->port);
}

/* scheme, host and port (the scheme's default when absent), all lower case. */
static int url_parts(const char *url, UrlParts *ret)
{
        CURLU *h = curl_url();
        UrlParts p = {};
        int r = -EINVAL;

        if (!h)
                return -ENOMEM;
        if (curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(h, CURLUPART_SCHEME, &p.scheme, 0) == CURLUE_OK &&
            curl_url_get(h, CURLUPART_HOST, &p.host, 0) == CURLUE_OK &&
            curl_url_get(h, CURLUPART_PORT, &p.port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
                for (char *c = p.host; *c; c++)
                        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
                *ret = p;
                p = (UrlParts){};
                r = 0;
        }
        url_parts_done(&p);
        curl_url_cleanup(h);
        return r;
}

int e621_image_url_allowed(const char *site, char *const *image_hosts, const char *url)
{
        _cleanup_(url_parts_done) UrlParts s = {}, u = {};
        int r;

        /* the checks every URL passes first: no user info, no fragment, no
         * control characters, http only on loopback */
        if (!site || url_check_safe(url, true, NULL) < 0)
                return -EINVAL;
        r = url_parts(site, &s);
        if (r < 0)
                return r;
        r = url_parts(url, &u);
        if (r < 0)
                return r;

        bool same_as_site = streq(u.host, s.host) && streq(u.port, s.port);
        if (strcasecmp(u.scheme, "http") == 0)
                /* a loopback test site serves its own images, and nothing else
                 * on this computer may be reached through it */
                return strcasecmp(s.scheme, "http") == 0 && same_as_site ? 0 : -EPERM;
        if (strcasecmp(u.scheme, "https") != 0)
                return -EPERM;
        if (same_as_site)
                return 0;
        if (!streq(u.port, "443"))
                return -EPERM;
        for (char *const *h = image_hosts ? image_hosts : (char *const *)default_image_hosts; *h; h++)
                if (strcasecmp(*h, u.host) == 0)
                        return 0;
        return -EPERM;
}
