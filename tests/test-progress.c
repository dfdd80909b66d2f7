/* SPDX-License-Identifier: MIT */
/* fluffctl's progress display when stderr is not a terminal: silent for work
 * under a second, plain lines otherwise, a final line ending in ", done.",
 * unknown totals as "--", and a NULL handle (quiet) accepted everywhere. */
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
        (void)nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000L }, NULL);
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

TEST(slow_work_prints_lines_and_done)
{
        int saved;
        char *path = capture_begin(&saved);
        Progress *p = progress_new(false);
        progress_update(p, "Downloading images", 0, 10);
        sleep_ms(1100);
        progress_update(p, "Downloading images", 4, 10);
        progress_update(p, "Downloading images", 10, 10);
        progress_update(p, "Fetching upvotes", 3, 0); /* a new title closes the line */
        sleep_ms(1100);
        progress_update(p, "Fetching upvotes", 7, 0);
        progress_stop(p, "failed");
        progress_free(p);
        char *out = capture_end(path, saved);
        ASSERT_TRUE(strstr(out, "Downloading images:  40% (4/10)") != NULL);
        ASSERT_TRUE(strstr(out, "Downloading images: 100% (10/10), done.\n") != NULL);
        ASSERT_TRUE(strstr(out, "Fetching upvotes: -- (7)") != NULL);
        ASSERT_TRUE(strstr(out, "Fetching upvotes: -- (7), failed.\n") != NULL);
        ASSERT_TRUE(strchr(out, '\r') == NULL); /* no terminal, no redraws */
        free(out);
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
