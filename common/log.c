/* SPDX-License-Identifier: MIT */
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "fluff/util.h"

static atomic_int max_level = LOG_LEVEL_INFO;
static const char *prefix;
/* -1: not decided yet, 0: plain lines, 1: "<level>" before each line. */
static atomic_int syslog_prefix = -1;

/* systemd sets JOURNAL_STREAM=DEV:INODE for a service whose stderr is the
 * journal. Only then does a "<4>" before a line mean something (the journal
 * takes it as the line's priority and strips it); on a terminal or in a
 * test's log file it would be noise. Compared with stderr itself, so a child
 * that inherits the variable but not the stream stays plain. */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        int n = 0;

        if (isempty(e) || sscanf(e, "%llu:%llu%n", &dev, &ino, &n) != 2 || e[n] != '\0')
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_set_syslog_prefix(int on)
{
        atomic_store(&syslog_prefix, on < 0 ? -1 : !!on);
}

static bool use_syslog_prefix(void)
{
        int on = atomic_load(&syslog_prefix);
        if (on < 0) {
                on = stderr_is_journal();
                atomic_store(&syslog_prefix, on);
        }
        return on;
}

void log_set_max_level(int level)
{
        atomic_store(&max_level, level);
}

int log_get_max_level(void)
{
        return atomic_load(&max_level);
}

void log_set_prefix(const char *p)
{
        prefix = p;
}

static int level_from_string(const char *s)
{
        static const struct {
                const char *name;
                int level;
        } table[] = {
                {"err", LOG_LEVEL_ERR},       {"error", LOG_LEVEL_ERR}, {"warning", LOG_LEVEL_WARNING},
                {"notice", LOG_LEVEL_NOTICE}, {"info", LOG_LEVEL_INFO}, {"debug", LOG_LEVEL_DEBUG},
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strcasecmp(s, table[i].name) == 0)
                        return table[i].level;
        return -EINVAL;
}

void log_parse_environment(void)
{
        const char *e = getenv("FLUFF_LOG_LEVEL");
        if (isempty(e))
                return;
        int l = level_from_string(e);
        if (l < 0)
                log_warning("Unknown FLUFF_LOG_LEVEL=\"%s\", ignoring.", e);
        else
                log_set_max_level(l);
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
{
        char buf[2048];
        va_list ap;
        int saved = errno;

        /* %m must print the error being logged, not whatever errno holds. */
        errno = error;
        va_start(ap, fmt);
        (void)vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);

        const char *who = prefix ?: "", *sep = prefix ? ": " : "";
        char where[256] = "";
        if (log_get_max_level() >= LOG_LEVEL_DEBUG)
                (void)snprintf(where, sizeof(where), "%s:%d: ", file, line);
        if (!use_syslog_prefix()) {
                fprintf(stderr, "%s%s%s%s\n", who, sep, where, buf);
        } else {
                /* The journal reads a "<N>" only at the start of a line and
                 * makes each line an entry of its own, so every line of the
                 * message gets one; one fwrite keeps threads apart. */
                char out[sizeof(buf) + 1024];
                size_t o = 0;
                const char *p = buf;
                do {
                        const char *nl = strchrnul(p, '\n');
                        int n = snprintf(out + o, sizeof(out) - o, "<%d>%s%s%s%.*s\n", level & 7, who, sep,
                                         p == buf ? where : "", (int)(nl - p), p);
                        if (n < 0)
                                break;
                        if ((size_t)n >= sizeof(out) - o) { /* cut short, still a whole line */
                                o = sizeof(out) - 1;
                                out[o - 1] = '\n';
                                break;
                        }
                        o += (size_t)n;
                        p = *nl ? nl + 1 : nl;
                } while (*p);
                fwrite(out, 1, o, stderr);
        }

        errno = saved;
        return -error;
}
