/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <time.h>

#include "fluff/util.h"
#include "progress.h"

#define DELAY_USEC (1 * USEC_PER_SEC)           /* nothing for work shorter than this */
#define TTY_INTERVAL_USEC (500 * USEC_PER_MSEC) /* at most twice a second */
#define PLAIN_INTERVAL_USEC (5 * USEC_PER_SEC)
#define WINDOW 16 /* samples in the rate window */
#define WINDOW_USEC (10 * USEC_PER_SEC)

typedef struct Sample {
        uint64_t usec, done;
} Sample;

struct Progress {
        bool tty;
        char *title;
        uint64_t done, total;
        uint64_t start_usec;    /* of the current title */
        uint64_t last_draw_usec;
        bool shown;             /* something of this title is on screen */
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

static void draw(Progress *p, uint64_t now, const char *end)
{
        char line[256], counts[64], speed[32] = "", eta[32] = "";
        double r = rate(p, now);
        int n;

        if (p->total > 0)
                snprintf(counts, sizeof(counts), "%3u%% (%" PRIu64 "/%" PRIu64 ")",
                         (unsigned)(p->done * 100 / (p->total ?: 1)), p->done, p->total);
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

        n = snprintf(line, sizeof(line), "%s: %s%s%s%s%s%s", p->title ?: "Working", counts, speed, eta,
                     end ? ", " : "", end ?: "", end ? "." : "");
        if (n < 0)
                return;
        if (p->tty) {
                /* pad over what the previous, longer line left behind */
                size_t len = (size_t)n;
                fprintf(stderr, "\r%s%*s%s", line, len < p->last_len ? (int)(p->last_len - len) : 0, "",
                        end ? "\n" : "");
                p->last_len = end ? 0 : len;
        } else
                fprintf(stderr, "%s\n", line);
        fflush(stderr);
        p->shown = !end;
        p->last_draw_usec = now;
}

static void maybe_draw(Progress *p, uint64_t now)
{
        if (now < p->start_usec + DELAY_USEC)
                return;
        if (p->last_draw_usec && now < p->last_draw_usec + (p->tty ? TTY_INTERVAL_USEC : PLAIN_INTERVAL_USEC))
                return;
        draw(p, now, NULL);
}

void progress_stop(Progress *p, const char *word)
{
        if (!p)
                return;
        /* a title never drawn was work under a second: stay silent */
        if (p->shown || (p->last_draw_usec && !p->tty))
                draw(p, now_usec(CLOCK_MONOTONIC), word ?: "done");
        p->shown = false;
        p->last_draw_usec = 0;
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
                progress_stop(p, "done");
                p->title = strdup(title ?: "");
                p->start_usec = now;
                p->n_window = p->window_pos = 0;
        }
        p->done = done;
        p->total = total;
        /* a sample every half second keeps ~8 s in the window */
        size_t last = (p->window_pos + WINDOW - 1) % WINDOW;
        if (p->n_window == 0 || now >= p->window[last].usec + 500 * USEC_PER_MSEC) {
                p->window[p->window_pos] = (Sample){ now, done };
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
