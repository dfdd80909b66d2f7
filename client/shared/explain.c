/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "bus-util.h"
#include "explain.h"
#include "fluff/util.h"

/* Copies s into buf (size bytes), never cutting a UTF-8 character in two. */
static void copy_cut(char *buf, size_t size, const char *s)
{
        size_t n = strlen(s);
        if (n >= size) {
                n = size - 1;
                while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
                        n--;
        }
        memcpy(buf, s, n);
        buf[n] = 0;
}

static int read_tags(sd_bus_message *m, ExplainTag *list, size_t *ret_n)
{
        const char *tag;
        double push;
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'v', "a(sd)");
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "(sd)");
        while (r >= 0 && (r = sd_bus_message_read(m, "(sd)", &tag, &push)) > 0)
                if (n < EXPLAIN_TAGS) {
                        copy_cut(list[n].tag, sizeof(list[n].tag), tag);
                        list[n++].push = push;
                }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        *ret_n = n;
        return r;
}

static int read_part(sd_bus_message *m, const char *key, void *userdata)
{
        Explanation *e = userdata;
        const char *s;
        double *d;
        int r;

        d = streq(key, "logit")   ? &e->logit
            : streq(key, "bias")  ? &e->bias
            : streq(key, "image") ? &e->image
            : streq(key, "tags")  ? &e->tags
                                  : NULL;
        if (d)
                r = sd_bus_message_read(m, "v", "d", d);
        else if (streq(key, "calibration")) {
                r = sd_bus_message_read(m, "v", "s", &s);
                if (r >= 0)
                        copy_cut(e->calibration, sizeof(e->calibration), s);
        } else if (streq(key, "tags_up"))
                r = read_tags(m, e->up, &e->n_up);
        else if (streq(key, "tags_down"))
                r = read_tags(m, e->down, &e->n_down);
        else
                r = sd_bus_message_skip(m, "v");
        if (r < 0)
                return r;
        e->present = e->present || d != NULL;
        return 0;
}

int explanation_read(sd_bus_message *m, Explanation *ret)
{
        Explanation e = {};
        int r;

        r = bus_message_read_dict(m, read_part, &e);
        if (r < 0)
                return r;
        *ret = e;
        return 0;
}

void explanation_parts(const Explanation *e, char *buf, size_t size)
{
        if (!e->present) {
                buf[0] = 0;
                return;
        }
        (void)snprintf(buf, size, "image %+.2f + tags %+.2f + bias %+.2f = logit %+.2f", e->image, e->tags,
                       e->bias, e->logit);
}

void explanation_tags(const Explanation *e, char *buf, size_t size)
{
        size_t used = 0;

        buf[0] = 0;
        for (size_t i = 0; i < e->n_up + e->n_down; i++) {
                const ExplainTag *t = i < e->n_up ? &e->up[i] : &e->down[i - e->n_up];
                int k = snprintf(buf + used, size - used, "%s%s %+.2f", used ? ", " : "", t->tag, t->push);
                if (k < 0 || (size_t)k >= size - used) {
                        buf[used] = 0; /* whole items only */
                        return;
                }
                used += (size_t)k;
        }
}
