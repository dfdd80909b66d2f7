/* SPDX-License-Identifier: MIT */
/* fluff/util.h first: glib then replaces its MIN/MAX with equivalent ones. */
#include "bus-util.h"
#include "ctl.h"
#include "fluff/util.h"

#include <inttypes.h>
#include <math.h>
#include <vips/vips.h>

#include "output.h"
#include "sheet.h"

/* At most max bytes of s, never half a UTF-8 character. */
static gssize cut_at(const char *s, size_t max)
{
        size_t n = strlen(s);
        if (n <= max)
                return (gssize)n;
        while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
                max--;
        return (gssize)max;
}

/* One tag in its colour, cut to fit half a tile. */
static void tag_span(const char *tag, const char *colour, const char *arrow, char *buf, size_t size)
{
        gchar *e = g_markup_escape_text(tag, cut_at(tag, 10));
        /* a no-break space: the arrow never ends a line without its tag */
        snprintf(buf, size, "<span foreground=\"%s\">%s\302\240%s%s</span>", colour, arrow, e,
                 strlen(tag) > 10 ? "\342\200\246" : "");
        g_free(e);
}

/* The tag that pushed hardest towards like and towards dislike, in their
 * colours: from the explanation when there is one (exact pushes), else
 * from the top tags (two decimals, so a push under 0.005 reads as none). */
static void tag_line(const Prediction *p, char *buf, size_t size)
{
        TagPush *t = NULL;
        size_t n = 0, up = SIZE_MAX, down = SIZE_MAX;
        const char *up_tag = NULL, *down_tag = NULL;
        char a[96] = "", b[96] = "";

        buf[0] = 0;
        if (p->why.present) {
                up_tag = p->why.n_up > 0 ? p->why.up[0].tag : NULL;
                down_tag = p->why.n_down > 0 ? p->why.down[0].tag : NULL;
        } else if (tag_pushes_parse(p->top_tags, &t, &n) >= 0) {
                for (size_t i = 0; i < n; i++) {
                        if (t[i].push > 0 && (up == SIZE_MAX || t[i].push > t[up].push))
                                up = i;
                        if (t[i].push < 0 && (down == SIZE_MAX || t[i].push < t[down].push))
                                down = i;
                }
                up_tag = up != SIZE_MAX ? t[up].tag : NULL;
                down_tag = down != SIZE_MAX ? t[down].tag : NULL;
        }
        if (up_tag)
                tag_span(up_tag, "#34a853", "\342\226\262", a, sizeof(a));
        if (down_tag)
                tag_span(down_tag, "#d9483c", "\342\226\274", b, sizeof(b));
        snprintf(buf, size, "%s%s%s", a, *a && *b ? "  " : "", b);
        tag_pushes_free(t, n);
}

#define TILE 192
#define FRAME 6
#define CAPTION_H 80 /* four lines: rank and score, id, the shares, the tags */
#define GAP 10
#define MARGIN 16
#define COLUMNS_MAX 6
#define COLUMNS_MIN 3

static const double BACKGROUND[3] = {32, 33, 36};
static const double INK[3] = {232, 234, 237};

void label_colour(const char *label, double ret[3])
{
        static const double like[3] = {52, 168, 83}, dislike[3] = {217, 72, 60}, other[3] = {128, 128, 128};
        const double *c = streq(strempty(label), "like")      ? like
                          : streq(strempty(label), "dislike") ? dislike
                                                              : other;
        memcpy(ret, c, sizeof(double) * 3);
}

/* Text (Pango markup, spans may set colours) in ink over the background. */
static int text_image(const char *markup, int width, int dpi, VipsImage *scope, VipsImage **ret)
{
        VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(scope), 3);
        _cleanup_free_ char *m = NULL;
        int r = 0;

        if (asprintf(&m, "<span foreground=\"#%02x%02x%02x\">%s</span>", (unsigned)INK[0], (unsigned)INK[1],
                     (unsigned)INK[2], markup) < 0)
                return -ENOMEM;
        if (vips_text(&t[0], m, "width", width, "dpi", dpi, "font", "sans", "rgba", TRUE, NULL) < 0)
                return -EIO;
        VipsArrayDouble *bg = vips_array_double_new(BACKGROUND, 3);
        if (vips_flatten(t[0], &t[1], "background", bg, NULL) < 0 ||
            vips_cast(t[1], &t[2], VIPS_FORMAT_UCHAR, NULL) < 0)
                r = -EIO;
        vips_area_unref(VIPS_AREA(bg));
        if (r >= 0)
                *ret = t[2];
        return r;
}

static VipsArrayDouble *colour(const double c[3])
{
        return vips_array_double_new(c, 3);
}

/* The crop (grey when its file is gone) framed in its label's colour. */
static int make_tile(const Prediction *p, size_t rank, VipsImage *scope, VipsImage **ret)
{
        VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(scope), 10);
        VipsArrayDouble *frame_c = NULL, *bg_c = NULL;
        double frame[3];
        char caption[512], tags[200];
        int r = -EIO;

        if (isempty(p->image) || vips_thumbnail(p->image, &t[0], TILE, "height", TILE, "crop",
                                                VIPS_INTERESTING_CENTRE, NULL) < 0) {
                vips_error_clear();
                if (vips_black(&t[9], TILE, TILE, "bands", 3, NULL) < 0 ||
                    vips_linear1(t[9], &t[0], 1.0, 96.0, "uchar", TRUE, NULL) < 0)
                        return -EIO;
        }
        label_colour(p->label, frame);
        frame_c = colour(frame);
        bg_c = colour(BACKGROUND);
        /* Greyscale crops get three bands too, so the tiles join. */
        if (vips_colourspace(t[0], &t[1], VIPS_INTERPRETATION_sRGB, NULL) < 0 ||
            vips_extract_band(t[1], &t[2], 0, "n", 3, NULL) < 0 ||
            vips_gravity(t[2], &t[3], VIPS_COMPASS_DIRECTION_CENTRE, TILE, TILE, "extend",
                         VIPS_EXTEND_BACKGROUND, "background", bg_c, NULL) < 0 ||
            vips_embed(t[3], &t[4], FRAME, FRAME, TILE + 2 * FRAME, TILE + 2 * FRAME, "extend",
                       VIPS_EXTEND_BACKGROUND, "background", frame_c, NULL) < 0)
                goto finish;
        tag_line(p, tags, sizeof(tags));
        /* the picture's and the tags' shares of the logit (bias is the rest) */
        char why[96] = "";
        if (p->why.present)
                snprintf(why, sizeof(why), "\n<span size=\"small\">image %+.2f \302\267 tags %+.2f</span>",
                         p->why.image, p->why.tags);
        snprintf(caption, sizeof(caption),
                 "<b>#%zu</b>  <span foreground=\"#%02x%02x%02x\"><b>%.3f %s</b></span>\nid %" PRIu64
                 "%s\n<span size=\"small\">%s</span>",
                 rank, (unsigned)frame[0], (unsigned)frame[1], (unsigned)frame[2], p->score,
                 strempty(p->label), p->id, why, tags);
        if (text_image(caption, TILE + 2 * FRAME - 8, 96, scope, &t[5]) < 0 ||
            vips_embed(t[5], &t[6], 4, 4, TILE + 2 * FRAME, CAPTION_H, "extend", VIPS_EXTEND_BACKGROUND,
                       "background", bg_c, NULL) < 0 ||
            vips_join(t[4], t[6], &t[7], VIPS_DIRECTION_VERTICAL, "expand", TRUE, "background", bg_c, NULL) <
                    0)
                goto finish;
        *ret = t[7];
        r = 0;
finish:
        vips_area_unref(VIPS_AREA(frame_c));
        vips_area_unref(VIPS_AREA(bg_c));
        return r;
}

/* Columns for n tiles: a full last row if 3…6 columns give one, else the
 * fullest last row (centred below, so no cell is ever empty). */
unsigned sheet_columns(size_t n)
{
        unsigned best = (unsigned)MIN(n, (size_t)COLUMNS_MAX), best_fill = 0;

        if (n <= COLUMNS_MAX)
                return (unsigned)MAX(n, (size_t)1);
        for (unsigned c = COLUMNS_MAX; c >= COLUMNS_MIN; c--) {
                unsigned fill = n % c == 0 ? c : (unsigned)(n % c);
                if (fill * best > best_fill * c) { /* fill/c > best_fill/best */
                        best = c;
                        best_fill = fill;
                }
        }
        return best;
}

static void markup_escape(const char *s, char *buf, size_t size)
{
        gchar *e = g_markup_escape_text(strempty(s), -1);
        snprintf(buf, size, "%s", e);
        g_free(e);
}

int contact_sheet_write(const char *out, const RunHeading *h, const Prediction *rows, size_t n)
{
        VipsImage *scope, *sheet = NULL;
        VipsArrayDouble *bg_c = NULL;
        size_t likes = 0;
        int r = 0;

        if (n == 0) {
                log_error("No predictions to put on a contact sheet.");
                return -ENODATA;
        }
        if (VIPS_INIT("fluffctl") != 0)
                return log_error_errno(-EIO, "Failed to start libvips: %s", vips_error_buffer());
        scope = vips_image_new();
        bg_c = colour(BACKGROUND);
        unsigned columns = sheet_columns(n);
        size_t n_rows = (n + columns - 1) / columns;
        VipsImage **tiles = (VipsImage **)vips_object_local_array(VIPS_OBJECT(scope), (int)n);
        VipsImage **lines = (VipsImage **)vips_object_local_array(VIPS_OBJECT(scope), (int)n_rows + 4);

        for (size_t i = 0; i < n && r >= 0; i++) {
                r = make_tile(&rows[i], i + 1, scope, &tiles[i]);
                if (r >= 0)
                        g_object_ref(tiles[i]);
                likes += streq(strempty(rows[i].label), "like");
        }
        for (size_t l = 0; l < n_rows && r >= 0; l++) {
                size_t first = l * columns, k = MIN((size_t)columns, n - first);
                if (vips_arrayjoin(tiles + first, &lines[l], (int)k, "across", (int)k, "shim", GAP,
                                   "background", bg_c, NULL) < 0)
                        r = -EIO;
        }
        /* rows below one another, the last one centred */
        VipsImage *grid = r >= 0 ? lines[0] : NULL;
        VipsImage **joined = (VipsImage **)vips_object_local_array(VIPS_OBJECT(scope), (int)n_rows + 1);
        for (size_t l = 1; l < n_rows && r >= 0; l++) {
                if (vips_join(grid, lines[l], &joined[l], VIPS_DIRECTION_VERTICAL, "expand", TRUE, "align",
                              VIPS_ALIGN_CENTRE, "shim", GAP, "background", bg_c, NULL) < 0)
                        r = -EIO;
                grid = joined[l];
        }

        VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(scope), 4);
        if (r >= 0) {
                char query[256], model[256], heading[1024];
                markup_escape(h->query, query, sizeof(query));
                markup_escape(h->model, model, sizeof(model));
                char threshold[32] = "none";
                if (isfinite(h->threshold))
                        snprintf(threshold, sizeof(threshold), "%.3f", h->threshold);
                snprintf(heading, sizeof(heading),
                         "<span size=\"x-large\"><b>Fluff: \342\200\234%s\342\200\235</b></span>\n"
                         "%s  \302\267  %zu posts, %zu likely likes  \302\267  like threshold %s\n"
                         "model: %s\n"
                         "<span foreground=\"#34a853\">\342\226\240 like</span>   "
                         "<span foreground=\"#d9483c\">\342\226\240 dislike</span>   ranked by score",
                         query, h->date, n, likes, threshold, model);
                if (text_image(heading, vips_image_get_width(grid), 110, scope, &t[0]) < 0 ||
                    vips_join(t[0], grid, &t[1], VIPS_DIRECTION_VERTICAL, "expand", TRUE, "shim", 2 * GAP,
                              "background", bg_c, NULL) < 0 ||
                    vips_embed(t[1], &t[2], MARGIN, MARGIN, vips_image_get_width(t[1]) + 2 * MARGIN,
                               vips_image_get_height(t[1]) + 2 * MARGIN, "extend", VIPS_EXTEND_BACKGROUND,
                               "background", bg_c, NULL) < 0)
                        r = -EIO;
                sheet = r >= 0 ? t[2] : NULL;
        }
        if (r >= 0 && vips_image_write_to_file(sheet, out, NULL) < 0)
                r = -EIO;
        if (r < 0) {
                /* libvips' message runs to two lines; the reason is what matters */
                const char *why = vips_error_buffer();
                if (strstr(why, "No such file") || access(out, W_OK) < 0)
                        log_error("Failed to write the contact sheet \"%s\": %s.", out,
                                  strstr(why, "No such file") ? "no such folder" : "cannot write there");
                else
                        log_error("Failed to make the contact sheet \"%s\".", out);
                log_debug("libvips: %s", why);
        }
        vips_area_unref(VIPS_AREA(bg_c));
        g_object_unref(scope);
        vips_error_clear();
        return r;
}
