/* SPDX-License-Identifier: MIT */
/* fluff/util.h first: glib then replaces its MIN/MAX with equivalent ones. */
#include "bus-util.h"
#include "ctl.h"
#include "fluff/util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <vips/vips.h>

#include "output.h"
#include "sheet.h"

#define THUMB 256

/* The crop as a JPEG data: URI, or NULL when it cannot be read. */
static char *thumbnail_uri(const char *path)
{
        VipsImage *t = NULL, *s = NULL;
        void *buf = NULL;
        size_t len = 0;
        char *uri = NULL;

        if (isempty(path) ||
            vips_thumbnail(path, &t, THUMB, "height", THUMB, "crop", VIPS_INTERESTING_CENTRE, NULL) < 0 ||
            vips_colourspace(t, &s, VIPS_INTERPRETATION_sRGB, NULL) < 0 ||
            vips_jpegsave_buffer(s, &buf, &len, "Q", 82, "strip", TRUE, NULL) < 0) {
                vips_error_clear();
                goto finish;
        }
        gchar *b64 = g_base64_encode(buf, len);
        if (b64 && asprintf(&uri, "data:image/jpeg;base64,%s", b64) < 0)
                uri = NULL;
        g_free(b64);
finish:
        g_free(buf);
        if (s)
                g_object_unref(s);
        if (t)
                g_object_unref(t);
        return uri;
}

static void put_escaped(FILE *f, const char *s)
{
        for (; s && *s; s++)
                switch (*s) {
                case '&':
                        fputs("&amp;", f);
                        break;
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                default:
                        fputc(*s, f);
                }
}

static const char STYLE[] =
        "body{margin:0;padding:24px;background:#202124;color:#e8eaed;font:15px/1.4 sans-serif}"
        "h1{margin:0 0 4px;font-size:24px}"
        ".meta{color:#bdc1c6;margin-bottom:20px}"
        ".like{color:#34a853}.dislike{color:#d9483c}"
        ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:16px}"
        ".post{background:#2d2e31;border-radius:8px;overflow:hidden;border:6px solid #808080}"
        ".post.like{border-color:#34a853}.post.dislike{border-color:#d9483c}"
        ".post a.thumb{display:block;aspect-ratio:1;background:#444}"
        ".post img{display:block;width:100%;height:100%;object-fit:cover}"
        ".cap{padding:8px 10px;color:#e8eaed}"
        ".cap .head{display:flex;justify-content:space-between;font-weight:bold}"
        ".cap .id a{color:#8ab4f8}"
        ".cap .why{font-size:12px;color:#bdc1c6;margin-top:4px}"
        ".tags{margin:6px 0 0;padding:0;list-style:none;font-size:13px}"
        ".tags li{display:flex;justify-content:space-between;gap:8px}"
        ".tags .up{color:#34a853}.tags .down{color:#d9483c}";

int html_page_write(const char *out, const RunHeading *h, const Prediction *rows, size_t n)
{
        _cleanup_free_ char *tmp = NULL;
        size_t likes = 0;
        FILE *f;
        int r = 0;

        if (VIPS_INIT("fluffctl") != 0)
                return log_error_errno(-EIO, "Failed to start libvips: %s", vips_error_buffer());
        if (asprintf(&tmp, "%s.XXXXXX", out) < 0)
                return log_oom();
        int fd = mkstemp(tmp);
        if (fd < 0)
                return log_error_errno(errno, "Failed to write the web page \"%s\": %m", out);
        f = fdopen(fd, "w");
        if (!f) {
                r = log_error_errno(errno, "Failed to write the web page \"%s\": %m", out);
                close(fd);
                unlink(tmp);
                return r;
        }
        for (size_t i = 0; i < n; i++)
                likes += streq(strempty(rows[i].label), "like");

        fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
              "<meta name=\"viewport\" content=\"width=device-width\">\n<title>Fluff: ",
              f);
        put_escaped(f, h->query);
        fprintf(f, "</title>\n<style>%s</style></head>\n<body>\n<h1>Fluff: \342\200\234", STYLE);
        put_escaped(f, h->query);
        fprintf(f,
                "\342\200\235</h1>\n<div class=\"meta\">%s \302\267 %zu posts, %zu likely likes \302\267 "
                "like "
                "threshold ",
                h->date, n, likes);
        if (isfinite(h->threshold))
                fprintf(f, "%.3f", h->threshold);
        else
                fputs("none", f);
        fputs(" \302\267 model: ", f);
        put_escaped(f, h->model);
        fputs("<br><span class=\"like\">\342\226\240 like</span> \302\267 <span "
              "class=\"dislike\">\342\226\240 "
              "dislike</span> \302\267 ranked by score</div>\n<main class=\"grid\">\n",
              f);
        for (size_t i = 0; i < n; i++) {
                const Prediction *p = &rows[i];
                const char *cls = streq(strempty(p->label), "like")      ? "like"
                                  : streq(strempty(p->label), "dislike") ? "dislike"
                                                                         : "other";
                _cleanup_free_ char *uri = thumbnail_uri(p->image);
                TagPush *tags = NULL;
                size_t n_tags = 0;

                fprintf(f, "<article class=\"post %s\" id=\"post-%" PRIu64 "\" data-score=\"%.3f\">\n", cls,
                        p->id, p->score);
                fputs("<a class=\"thumb\" href=\"", f);
                put_escaped(f, p->url);
                fputs("\">", f);
                if (uri)
                        fprintf(f, "<img src=\"%s\" alt=\"post %" PRIu64 "\">", uri, p->id);
                fprintf(f,
                        "</a>\n<div class=\"cap\"><div class=\"head\"><span>#%zu</span>"
                        "<span class=\"%s\">%.3f %s</span></div>\n<div class=\"id\"><a href=\"",
                        i + 1, cls, p->score, cls);
                put_escaped(f, p->url);
                fprintf(f, "\">post %" PRIu64 "</a></div>\n", p->id);
                if (p->why.present) {
                        /* the parts of the score's logit, which add up */
                        char why[160];
                        explanation_parts(&p->why, why, sizeof(why));
                        fprintf(f,
                                "<div class=\"why\" data-image=\"%.4f\" data-tags=\"%.4f\" "
                                "data-bias=\"%.4f\" "
                                "data-logit=\"%.4f\">",
                                p->why.image, p->why.tags, p->why.bias, p->why.logit);
                        put_escaped(f, why);
                        fputs("</div>\n", f);
                }
                fputs("<ul class=\"tags\">", f);
                (void)tag_pushes_parse(p->top_tags, &tags, &n_tags);
                for (size_t j = 0; j < n_tags; j++) {
                        fputs("<li><span>", f);
                        put_escaped(f, tags[j].tag);
                        fprintf(f, "</span><span class=\"%s\">%+.2f</span></li>",
                                tags[j].push >= 0 ? "up" : "down", tags[j].push);
                }
                tag_pushes_free(tags, n_tags);
                fputs("</ul></div>\n</article>\n", f);
        }
        fputs("</main>\n</body></html>\n", f);
        if (fflush(f) != 0 || ferror(f))
                r = -errno ?: -EIO;
        if (fclose(f) != 0 && r >= 0)
                r = -errno;
        if (r >= 0 && (chmod(tmp, 0644) < 0 || rename(tmp, out) < 0))
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return log_error_errno(r, "Failed to write the web page \"%s\": %m", out);
        }
        return 0;
}
