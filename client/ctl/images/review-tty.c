/* SPDX-License-Identifier: MIT */
/* "review --interactive": the least-certain posts one at a time, the picture
 * drawn in the terminal by libchafa (sixel or kitty graphics where the
 * terminal has them, coloured symbols otherwise), one key per post. */
/* fluff/util.h first: glib then replaces its MIN/MAX with equivalent ones. */
#include "bus-util.h"
#include "ctl.h"
#include "fluff/bus.h"
#include "fluff/util.h"

#include <chafa.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <vips/vips.h>

#include "output.h"

#define IMAGE_PIXELS 384 /* the thumbnail handed to chafa; it scales to the cells */
#define KEY_CTRL_C 3
#define KEY_ESC 27

extern char **environ;

typedef struct Terminal {
        struct termios saved;
        bool raw;
        unsigned cols, rows, cell_w, cell_h;
        ChafaTermInfo *info;
        ChafaPixelMode mode;
} Terminal;

static void terminal_restore(Terminal *t)
{
        if (t->raw) {
                (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
                t->raw = false;
        }
        fputs("\033[?25h", stdout); /* the cursor back */
        fflush(stdout);
        if (t->info)
                chafa_term_info_unref(t->info);
        t->info = NULL;
}

static int terminal_open(Terminal *t)
{
        struct termios raw;
        struct winsize ws = {};

        if (tcgetattr(STDIN_FILENO, &t->saved) < 0)
                return -errno;
        raw = t->saved;
        /* one key at a time, no echo; Ctrl-C arrives as a key so the terminal
         * is always given back before leaving */
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ISIG);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) < 0)
                return -errno;
        t->raw = true;

        (void)ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
        t->cols = ws.ws_col ?: 80;
        t->rows = ws.ws_row ?: 24;
        t->cell_w = ws.ws_xpixel && ws.ws_col ? ws.ws_xpixel / ws.ws_col : 0;
        t->cell_h = ws.ws_ypixel && ws.ws_row ? ws.ws_ypixel / ws.ws_row : 0;

        gchar **envp = g_get_environ();
        t->info = chafa_term_db_detect(chafa_term_db_get_default(), envp);
        g_strfreev(envp);
        /* pixels only where the terminal says it can and its cell size is known */
        if (t->info && t->cell_w && t->cell_h &&
            chafa_term_info_have_seq(t->info, CHAFA_TERM_SEQ_BEGIN_KITTY_IMMEDIATE_IMAGE_V1))
                t->mode = CHAFA_PIXEL_MODE_KITTY;
        else if (t->info && t->cell_w && t->cell_h &&
                 chafa_term_info_have_seq(t->info, CHAFA_TERM_SEQ_BEGIN_SIXELS))
                t->mode = CHAFA_PIXEL_MODE_SIXELS;
        else
                t->mode = CHAFA_PIXEL_MODE_SYMBOLS;
        return 0;
}

/* The crop as RGBA pixels. */
static int load_rgba(const char *path, guchar **ret, int *ret_w, int *ret_h)
{
        VipsImage *a = NULL, *b = NULL, *c = NULL;
        size_t size;
        int r = -EIO;

        if (isempty(path) || vips_thumbnail(path, &a, IMAGE_PIXELS, NULL) < 0 ||
            vips_colourspace(a, &b, VIPS_INTERPRETATION_sRGB, NULL) < 0)
                goto finish;
        if (vips_image_get_bands(b) == 3) {
                if (vips_bandjoin_const1(b, &c, 255, NULL) < 0)
                        goto finish;
        } else if (vips_extract_band(b, &c, 0, "n", 4, NULL) < 0)
                goto finish;
        *ret_w = vips_image_get_width(c);
        *ret_h = vips_image_get_height(c);
        *ret = vips_image_write_to_memory(c, &size);
        r = *ret ? 0 : -ENOMEM;
finish:
        vips_error_clear();
        if (c)
                g_object_unref(c);
        if (b)
                g_object_unref(b);
        if (a)
                g_object_unref(a);
        return r;
}

static void draw_image(const Terminal *t, const char *path)
{
        guchar *pixels = NULL;
        int w, h;

        if (load_rgba(path, &pixels, &w, &h) < 0) {
                printf("(no picture: the crop \"%s\" is gone)\r\n", strempty(path));
                return;
        }
        /* room left for the heading (2 lines) and the keys (2 lines); cells
         * are about twice as high as wide */
        gint width = (gint)MAX(t->cols, 10u), height = (gint)MAX(t->rows, 8u) - 5;
        ChafaCanvasConfig *config = chafa_canvas_config_new();
        chafa_calc_canvas_geometry(w, h, &width, &height,
                                   t->cell_w && t->cell_h ? (gfloat)t->cell_w / t->cell_h : 0.5f, TRUE,
                                   FALSE);
        chafa_canvas_config_set_geometry(config, width, height);
        chafa_canvas_config_set_pixel_mode(config, t->mode);
        chafa_canvas_config_set_canvas_mode(config, CHAFA_CANVAS_MODE_TRUECOLOR);
        if (t->cell_w && t->cell_h)
                chafa_canvas_config_set_cell_geometry(config, (gint)t->cell_w, (gint)t->cell_h);
        ChafaSymbolMap *map = chafa_symbol_map_new();
        chafa_symbol_map_add_by_tags(map, CHAFA_SYMBOL_TAG_BLOCK | CHAFA_SYMBOL_TAG_BORDER |
                                                  CHAFA_SYMBOL_TAG_SPACE);
        chafa_canvas_config_set_symbol_map(config, map);
        ChafaCanvas *canvas = chafa_canvas_new(config);
        chafa_canvas_draw_all_pixels(canvas, CHAFA_PIXEL_RGBA8_UNASSOCIATED, pixels, w, h, w * 4);
        GString *out = chafa_canvas_print(canvas, t->info);
        /* raw mode: each line needs its carriage return */
        for (const char *p = out->str; *p; p++) {
                if (*p == '\n')
                        fputc('\r', stdout);
                fputc(*p, stdout);
        }
        fputs("\r\n", stdout);
        g_string_free(out, TRUE);
        chafa_canvas_unref(canvas);
        chafa_symbol_map_unref(map);
        chafa_canvas_config_unref(config);
        g_free(pixels);
}

static void open_in_browser(const char *url)
{
        char *argv[] = {(char *)"xdg-open", (char *)url, NULL};
        posix_spawn_file_actions_t fa;
        pid_t pid;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        if (posix_spawnp(&pid, "xdg-open", &fa, NULL, argv, environ) == 0)
                (void)waitpid(pid, NULL, 0); /* xdg-open hands over to the browser and returns */
        posix_spawn_file_actions_destroy(&fa);
}

static void show_post(const Terminal *t, const Prediction *p, size_t i, size_t n, const char *note)
{
        _cleanup_free_ char *tags = list_fit(p->top_tags, t->cols > 20 ? t->cols - 12 : 8);

        /* the picture's and the tags' shares of the score (fluffctl(1), EXPLANATIONS) */
        char why[64] = "";
        if (p->why.present)
                snprintf(why, sizeof(why), " (image %+.1f, tags %+.1f)", p->why.image, p->why.tags);
        fputs("\033[H\033[2J", stdout);
        printf("\033[1mPost %zu of %zu\033[0m  id %" PRIu64 "  score %.3f%s, guess: %s\r\n", i + 1, n, p->id,
               p->score, why, p->label);
        printf("Top tags: %s\r\n", strempty(tags));
        draw_image(t, p->image);
        printf("\033[1m[l]\033[0mike  \033[1m[d]\033[0mislike  \033[1m[s]\033[0mkip  "
               "\033[1m[o]\033[0mpen in the browser  \033[1m[q]\033[0muit%s%s\r\n",
               isempty(note) ? "" : "   ", strempty(note));
        fflush(stdout);
}

static int vote(sd_bus *bus, uint64_t id, int score, char *note, size_t size)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, "Vote",
                                   &error, NULL, "ti", id, (int32_t)score);
        if (r < 0)
                snprintf(note, size, "Failed to vote: %s", error.message ?: strerror(-r));
        return r;
}

int review_interactive(sd_bus *bus, const Prediction *rows, size_t n)
{
        Terminal t = {};
        unsigned likes = 0, dislikes = 0, skipped = 0;
        size_t i = 0;
        int r;

        if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
                log_error("\"review --interactive\" needs a terminal; \"fluffctl review\" lists the posts.");
                return VERB_USAGE_ERROR;
        }
        if (n == 0) {
                printf("Nothing to review: every predicted post has your vote, or there are no predictions "
                       "yet (run \"fluffctl predict TAGS\").\n");
                return 0;
        }
        if (VIPS_INIT("fluffctl") != 0)
                return log_error_errno(-EIO, "Failed to start libvips: %s", vips_error_buffer());
        r = terminal_open(&t);
        if (r < 0) {
                terminal_restore(&t);
                return log_error_errno(r, "Failed to set up the terminal: %m");
        }
        fputs("\033[?25l", stdout); /* no blinking cursor over the picture */

        char note[256] = "";
        while (i < n) {
                unsigned char key;
                show_post(&t, &rows[i], i, n, note);
                note[0] = 0;
                ssize_t k = read(STDIN_FILENO, &key, 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0 || key == 'q' || key == KEY_ESC)
                        break;
                if (key == KEY_CTRL_C) {
                        arg_interrupted = 1;
                        break;
                }
                switch (key) {
                case 'l':
                case 'd':
                        if (vote(bus, rows[i].id, key == 'l' ? 1 : -1, note, sizeof(note)) >= 0) {
                                key == 'l' ? likes++ : dislikes++;
                                i++;
                        }
                        break;
                case 's':
                case ' ':
                case 'n':
                        skipped++;
                        i++;
                        break;
                case 'o':
                        open_in_browser(rows[i].url);
                        snprintf(note, sizeof(note), "(opened %s)", rows[i].url);
                        break;
                default:
                        snprintf(note, sizeof(note), "(l, d, s, o or q)");
                }
        }
        fputs("\033[H\033[2J", stdout);
        terminal_restore(&t);
        printf("Reviewed %zu of %zu posts: %u liked, %u disliked, %u skipped.%s\n", i, n, likes, dislikes,
               skipped, likes + dislikes > 0 ? " The votes are sent to the site in the background." : "");
        return arg_interrupted ? -EINTR : 0;
}
