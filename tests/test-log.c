/* SPDX-License-Identifier: MIT */
/* The journal's priority prefix: "<N>" before every line when stderr is the
 * stream JOURNAL_STREAM names (as systemd sets it for a service), plain lines
 * anywhere else. Each case runs in a child whose stderr is a file. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fluff/util.h"
#include "tests.h"

enum { JOURNAL_NONE, JOURNAL_THIS, JOURNAL_OTHER, JOURNAL_JUNK };

/* What the child logs, as its stderr file holds it. */
static char *run(int journal, int level)
{
        char path[] = "/tmp/fluff-test-log-XXXXXX";
        int fd = mkstemp(path);
        ASSERT_TRUE(fd >= 0);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                struct stat st;
                char v[64];
                if (dup2(fd, STDERR_FILENO) < 0 || fstat(fd, &st) < 0)
                        _exit(2);
                if (journal == JOURNAL_THIS || journal == JOURNAL_OTHER) {
                        (void)snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
                                       (unsigned long long)st.st_ino + (journal == JOURNAL_OTHER));
                        setenv("JOURNAL_STREAM", v, 1);
                } else if (journal == JOURNAL_JUNK) {
                        setenv("JOURNAL_STREAM", "12:x", 1);
                } else {
                        unsetenv("JOURNAL_STREAM");
                }
                log_set_prefix("fluffd");
                log_set_max_level(level);
                log_error("Cannot open %s.", "fluff.db");
                log_warning_errno(ENOSPC, "Failed to save the model: %m");
                log_notice("notice");
                log_info("Two lines:\nsecond line");
                log_debug("debug");
                _exit(0);
        }
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        char *text = NULL;
        ASSERT_OK(read_file_full(path, 1 << 20, &text, NULL));
        close(fd);
        unlink(path);
        return text;
}

TEST(journal_prefix)
{
        char *t = run(JOURNAL_THIS, LOG_LEVEL_INFO);
        ASSERT_STREQ(t, "<3>fluffd: Cannot open fluff.db.\n"
                        "<4>fluffd: Failed to save the model: No space left on device\n"
                        "<5>fluffd: notice\n"
                        "<6>fluffd: Two lines:\n"
                        "<6>fluffd: second line\n");
        free(t);
}

TEST(journal_prefix_debug_has_places)
{
        char *t = run(JOURNAL_THIS, LOG_LEVEL_DEBUG);
        ASSERT_TRUE(strncmp(t, "<3>fluffd: ", 11) == 0);
        ASSERT_TRUE(strstr(t, "\n<7>fluffd: ") != NULL);
        ASSERT_TRUE(strstr(t, "test-log.c:") != NULL);
        /* every line starts with a priority */
        for (const char *p = t; *p; p = strchr(p, '\n') + 1)
                ASSERT_TRUE(p[0] == '<' && p[1] >= '3' && p[1] <= '7' && p[2] == '>');
        free(t);
}

TEST(plain_elsewhere)
{
        static const char plain[] = "fluffd: Cannot open fluff.db.\n"
                                    "fluffd: Failed to save the model: No space left on device\n"
                                    "fluffd: notice\n"
                                    "fluffd: Two lines:\nsecond line\n";
        /* No journal, a journal that is another stream (a child that inherited
         * the variable), and a broken variable: no prefixes. */
        for (int j = JOURNAL_NONE; j <= JOURNAL_JUNK; j++) {
                if (j == JOURNAL_THIS)
                        continue;
                char *t = run(j, LOG_LEVEL_INFO);
                ASSERT_STREQ(t, plain);
                free(t);
        }
}

TEST_MAIN()
