/* SPDX-License-Identifier: MIT */
#pragma once

/* Progress display in the manner of git's progress.c: a handle that may be
 * NULL (quiet) so callers never branch; nothing for work under a second; on a
 * terminal in the foreground one line, fitted to the terminal's width (a long
 * title is cut, the counts stay), redrawn with \r at most twice a second with
 * counts, rate over a sliding window and ETA, ending in ", done."; a new title
 * (the next phase or epoch) redraws the same line. Off a terminal only the
 * final line is printed. */

#include <stdbool.h>
#include <stdint.h>

typedef struct Progress Progress;

/* NULL when quiet; progress_*() accept NULL. */
Progress *progress_new(bool quiet);
Progress *progress_free(Progress *p);

/* title: what is being done now ("Fetching likes"); a new title replaces the
 * old one on the same line. total 0 = unknown (shown as "--"). */
void progress_update(Progress *p, const char *title, uint64_t done, uint64_t total);
/* Redraws if due (for a periodic timer: the rate and ETA change with time). */
void progress_tick(Progress *p);
/* Ends the line with ", <word>." ("done", "failed", "cancelled"); the next
 * update starts a new one. */
void progress_stop(Progress *p, const char *word);
