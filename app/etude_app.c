/* etude_app.c - the app library's warning sink. */
#include "etude_app.h"

#include <stdarg.h>
#include <stdio.h>

void etude_app_logf(const etude_app_log_t *log, const char *fmt, ...)
{
    if (!log || !log->fn)
        return;
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log->fn(log->user, line);
}
