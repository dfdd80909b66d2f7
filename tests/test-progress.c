/* SPDX-License-Identifier: MIT */
/* fluffctl's progress display. Off a terminal: silent for work under a
 * second, else only the final line ending in ", done.", unknown totals as
 * "--". Under an 80-column pseudo-terminal: one line redrawn with \r, never
 * wider than 79 columns, a new title redrawing the same line. A NULL handle
 * (quiet) is accepted everywhere. */
#include <fcntl.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>

#include "fluff/util.h"
#include "progress.h"
#include "tests.h"

static char *capture_begin(int *saved)
{
        char tmpl[] = "/tmp/fluff-progress-XXXXXX";
        int fd = mkstemp(tmpl);
        ASSERT_TRUE(fd >= 0);
        fflush(stderr);
        *saved = dup(STDERR_FILENO);
        ASSERT_TRUE(dup2(fd, STDERR_FILENO) >= 0);
        close(fd);
        return strdup(tmpl);
}

static char *capture_end(char *path, int saved)
{
        char *data = NULL;
        size_t size = 0;

        fflush(stderr);
        ASSERT_TRUE(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        ASSERT_OK(read_file_full(path, 1 << 20, &data, &size));
        unlink(path);
        free(path);
        return data;
}

static void sleep_ms(long ms)
{
        (void)nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

TEST(quick_work_is_silent)
{
        int saved;
        char *path = capture_begin(&saved);
        Progress *p = progress_new(false);
        for (unsigned i = 0; i <= 100; i++)
                progress_update(p, "Fetching favourites", i, 100);
        progress_stop(p, "done");
        progress_free(p);
        char *out = capture_end(path, saved);
        ASSERT_STREQ(out, "");
        free(out);
}

TEST(off_a_terminal_only_the_final_line)
{
        int saved;
        char *path = capture_begin(&saved);
        Progress *p = progress_new(false);
        progress_update(p, "Downloading images", 0, 10);
        sleep_ms(1100);
        progress_update(p, "Downloading images", 4, 10);
        progress_update(p, "Downloading images", 10, 10);
        progress_update(p, "Fetching upvotes", 3, 0);
        sleep_ms(600);
        progress_update(p, "Fetching upvotes", 7, 0);
        progress_stop(p, "failed");
        progress_free(p);
        char *out = capture_end(path, saved);
        ASSERT_STREQ(out, "Fetching upvotes: -- (7), failed.\n");
        free(out);
}

static size_t display_columns(const char *s, size_t len)
{
        size_t c = 0;
        for (size_t i = 0; i < len; i++)
                c += ((unsigned char)s[i] & 0xC0) != 0x80;
        return c;
}

/* Reads what the pty's master holds now. */
static size_t drain(int master, char *buf, size_t size, size_t have)
{
        ssize_t n;
        while (have + 1 < size && (n = read(master, buf + have, size - 1 - have)) > 0)
                have += (size_t)n;
        buf[have] = 0;
        return have;
}

TEST(fitted_to_an_80_column_terminal)
{
        struct winsize ws = {.ws_row = 24, .ws_col = 80};
        struct termios raw;
        int master, slave, saved;
        static char out[1 << 16];
        size_t have = 0;

        if (openpty(&master, &slave, NULL, NULL, &ws) < 0) {
                printf("no pseudo-terminal: %s\n", strerror(errno));
                exit(77);
        }
        /* no "\n" → "\r\n" translation: the bytes as written */
        ASSERT_TRUE(tcgetattr(slave, &raw) >= 0);
        cfmakeraw(&raw);
        ASSERT_TRUE(tcsetattr(slave, TCSANOW, &raw) >= 0);
        ASSERT_TRUE(fcntl(master, F_SETFL, O_NONBLOCK) >= 0);
        unsetenv("COLUMNS");
        fflush(stderr);
        saved = dup(STDERR_FILENO);
        ASSERT_TRUE(dup2(slave, STDERR_FILENO) >= 0);

        Progress *p = progress_new(false);
        const char *long_title =
                "Training (feature-sets): epoch 12, loss 0.4123, val AUC 0.8731, 4m 12s left, "
                "best epoch 9, learning rate 0.000300, batch 64";
        char title[256];
        for (unsigned e = 1; e <= 4; e++) {
                snprintf(title, sizeof(title), "%s (epoch %u of 4)", long_title, e);
                for (unsigned i = 0; i <= 10; i++) {
                        progress_update(p, title, e * 10 + i, 1000);
                        sleep_ms(110);
                }
                have = drain(master, out, sizeof(out), have);
        }
        progress_stop(p, "done");
        progress_free(p);
        fflush(stderr);
        ASSERT_TRUE(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        sleep_ms(50);
        have = drain(master, out, sizeof(out), have);
        close(slave);
        close(master);

        /* drawn, in place, and only the last draw ends the line */
        ASSERT_TRUE(have > 0);
        ASSERT_TRUE(strchr(out, '\r') != NULL);
        char *nl = strchr(out, '\n');
        ASSERT_TRUE(nl != NULL && nl == out + have - 1);
        ASSERT_TRUE(strstr(out, ", done.\n") != NULL);
        ASSERT_TRUE(strstr(out, "(1000)") == NULL); /* a percentage: the total is known */
        size_t draws = 0;
        for (char *seg = out; *seg;) {
                if (*seg == '\r') {
                        seg++;
                        continue;
                }
                size_t len = strcspn(seg, "\r\n");
                size_t cols = display_columns(seg, len);
                if (cols > 79)
                        printf("too wide (%zu): \"%.*s\"\n", cols, (int)len, seg);
                ASSERT_TRUE(cols <= 79);
                ASSERT_TRUE(cols > 20); /* the counts are always there */
                draws++;
                seg += len + (seg[len] == '\n');
        }
        ASSERT_TRUE(draws >= 4);                      /* redrawn as the epochs went by */
        ASSERT_TRUE(strstr(out, "\u2026: ") != NULL); /* the long title cut, the counts kept */
}

TEST(quiet_handle)
{
        Progress *p = progress_new(true);
        ASSERT_TRUE(p == NULL);
        progress_update(p, "x", 1, 2);
        progress_tick(p);
        progress_stop(p, "done");
        ASSERT_TRUE(progress_free(p) == NULL);
}

TEST_MAIN()
