/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>

#include "fluff/util.h"
#include "progress.h"

#define DELAY_USEC (1 * USEC_PER_SEC)           /* nothing for work shorter than this */
#define TTY_INTERVAL_USEC (500 * USEC_PER_MSEC) /* at most twice a second */
#define WINDOW 16                               /* samples in the rate window */
#define WINDOW_USEC (10 * USEC_PER_SEC)

typedef struct Sample {
        uint64_t usec, done;
} Sample;

struct Progress {
        bool tty;
        char *title;
        uint64_t done, total;
        uint64_t start_usec; /* of the first update: the one-second grace counts from here */
        uint64_t last_draw_usec;
        bool shown; /* a line is on screen, to be ended */
        size_t last_len;
        Sample window[WINDOW];
        size_t n_window, window_pos;
};

static bool stderr_is_foreground_tty(void)
{
        if (!isatty(STDERR_FILENO))
                return false;
        pid_t pg = tcgetpgrp(STDERR_FILENO);
        return pg < 0 || pg == getpgid(0);
}

/* The terminal's width, less one column so the cursor never wraps. */
static size_t line_width(void)
{
        struct winsize w;
        const char *e;
        unsigned c;

        if (ioctl(STDERR_FILENO, TIOCGWINSZ, &w) >= 0 && w.ws_col > 1)
                return w.ws_col - 1u;
        e = getenv("COLUMNS");
        if (e && safe_atou(e, &c) >= 0 && c > 1)
                return c - 1u;
        return 79;
}

Progress *progress_new(bool quiet)
{
        if (quiet)
                return NULL;
        Progress *p = calloc(1, sizeof(Progress));
        if (!p)
                return NULL;
        p->tty = stderr_is_foreground_tty();
        return p;
}

static double rate(const Progress *p, uint64_t now)
{
        /* oldest sample still in the window against now */
        const Sample *oldest = NULL;
        for (size_t i = 0; i < p->n_window; i++) {
                const Sample *s = &p->window[i];
                if (now - s->usec > WINDOW_USEC)
                        continue;
                if (!oldest || s->usec < oldest->usec)
                        oldest = s;
        }
        if (!oldest || now <= oldest->usec || p->done < oldest->done)
                return 0;
        return (double)(p->done - oldest->done) * USEC_PER_SEC / (double)(now - oldest->usec);
}

static void format_eta(char *buf, size_t size, double seconds)
{
        unsigned s = (unsigned)(seconds + 0.5);
        if (s >= 3600)
                snprintf(buf, size, "%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
        else
                snprintf(buf, size, "%u:%02u", s / 60, s % 60);
}

/* Cuts s to at most max display columns, at a character boundary. */
static size_t fit_prefix(const char *s, size_t max)
{
        size_t cols = 0, i = 0;
        for (; s[i]; i++) {
                if (((unsigned char)s[i] & 0xC0) != 0x80) {
                        if (cols == max)
                                break;
                        cols++;
                }
        }
        return i;
}

static size_t columns_of(const char *s)
{
        size_t c = 0;
        for (; *s; s++)
                c += ((unsigned char)*s & 0xC0) != 0x80;
        return c;
}

static void draw(Progress *p, uint64_t now, const char *end)
{
        char tail[160], counts[64], speed[32] = "", eta[32] = "";
        double r = rate(p, now);
        const char *title = p->title ?: "Working";

        if (p->total > 0)
                snprintf(counts, sizeof(counts), "%3u%% (%" PRIu64 "/%" PRIu64 ")",
                         (unsigned)(MIN(p->done, p->total) * 100 / p->total), p->done, p->total);
        else
                snprintf(counts, sizeof(counts), "-- (%" PRIu64 ")", p->done);
        if (!end) {
                if (r > 0)
                        snprintf(speed, sizeof(speed), ", %.1f/s", r);
                if (r > 0 && p->total > p->done) {
                        char t[16];
                        format_eta(t, sizeof(t), (double)(p->total - p->done) / r);
                        snprintf(eta, sizeof(eta), ", ETA %s", t);
                }
        }
        snprintf(tail, sizeof(tail), ": %s%s%s%s%s%s", counts, speed, eta, end ? ", " : "", end ?: "",
                 end ? "." : "");

        if (!p->tty) {
                /* off a terminal only the final line: a log, not an animation */
                if (end)
                        fprintf(stderr, "%s%s\n", title, tail);
                fflush(stderr);
                return;
        }
        /* One line that fits: the counts stay, a long title gives way ("…"). */
        size_t width = line_width(), tail_cols = columns_of(tail), title_cols = columns_of(title);
        char line[512];
        int n;
        if (tail_cols + title_cols <= width)
                n = snprintf(line, sizeof(line), "%s%s", title, tail);
        else if (tail_cols + 1 < width)
                n = snprintf(line, sizeof(line), "%.*s\u2026%s",
                             (int)fit_prefix(title, width - tail_cols - 1), title, tail);
        else
                n = snprintf(line, sizeof(line), "%.*s", (int)fit_prefix(tail + 2, width), tail + 2);
        if (n < 0)
                return;
        size_t cols = columns_of(line);
        /* pad over what the previous, longer line left behind */
        fprintf(stderr, "\r%s%*s%s", line, cols < p->last_len ? (int)(p->last_len - cols) : 0, "",
                end ? "\n" : "");
        p->last_len = end ? 0 : cols;
        fflush(stderr);
        p->shown = !end;
        p->last_draw_usec = now;
}

static void maybe_draw(Progress *p, uint64_t now)
{
        if (!p->tty || now < p->start_usec + DELAY_USEC)
                return;
        if (p->last_draw_usec && now < p->last_draw_usec + TTY_INTERVAL_USEC)
                return;
        draw(p, now, NULL);
}

void progress_stop(Progress *p, const char *word)
{
        if (!p || !p->title)
                return;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        /* work under a second stays silent, on a terminal or not */
        if (p->shown || (!p->tty && now >= p->start_usec + DELAY_USEC))
                draw(p, now, word ?: "done");
        p->shown = false;
        p->last_draw_usec = 0;
        p->start_usec = 0;
        free(p->title);
        p->title = NULL;
}

void progress_update(Progress *p, const char *title, uint64_t done, uint64_t total)
{
        uint64_t now;

        if (!p)
                return;
        now = now_usec(CLOCK_MONOTONIC);
        if (!p->title || !streq(p->title, title ?: "")) {
                /* a new phase or epoch: the same line, redrawn in place */
                char *t = strdup(title ?: "");
                if (!t)
                        return;
                free(p->title);
                p->title = t;
                if (p->start_usec == 0)
                        p->start_usec = now;
                p->n_window = p->window_pos = 0;
                p->last_draw_usec = 0; /* show the new title at once */
        }
        p->done = done;
        p->total = total;
        /* a sample every half second keeps ~8 s in the window */
        size_t last = (p->window_pos + WINDOW - 1) % WINDOW;
        if (p->n_window == 0 || now >= p->window[last].usec + 500 * USEC_PER_MSEC) {
                p->window[p->window_pos] = (Sample){now, done};
                p->window_pos = (p->window_pos + 1) % WINDOW;
                p->n_window = MIN(p->n_window + 1, WINDOW);
        }
        maybe_draw(p, now);
}

void progress_tick(Progress *p)
{
        if (!p || !p->title)
                return;
        maybe_draw(p, now_usec(CLOCK_MONOTONIC));
}

Progress *progress_free(Progress *p)
{
        if (!p)
                return NULL;
        free(p->title);
        free(p);
        return NULL;
}
