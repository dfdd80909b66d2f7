/* SPDX-License-Identifier: MIT */
#include <stdatomic.h>
#include <strings.h>

#include "fluff/util.h"

static atomic_int max_level = LOG_LEVEL_INFO;
static const char *prefix;

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
                { "err", LOG_LEVEL_ERR },       { "error", LOG_LEVEL_ERR }, { "warning", LOG_LEVEL_WARNING },
                { "notice", LOG_LEVEL_NOTICE }, { "info", LOG_LEVEL_INFO }, { "debug", LOG_LEVEL_DEBUG },
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

        if (log_get_max_level() >= LOG_LEVEL_DEBUG)
                fprintf(stderr, "%s%s%s:%d: %s\n", prefix ?: "", prefix ? ": " : "", file, line, buf);
        else
                fprintf(stderr, "%s%s%s\n", prefix ?: "", prefix ? ": " : "", buf);

        errno = saved;
        return -error;
}
