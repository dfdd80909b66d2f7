/* SPDX-License-Identifier: MIT */
#pragma once

/* The table of job kinds: what each needs before it may start and which
 * other kinds exclude it. The runner checks it (job_runner_check()); the
 * work itself sits behind each kind's JobOps in its feature's folder. */

typedef enum JobNeed {
        JOB_NEED_LOGIN = 1 << 0,          /* a session on the site */
        JOB_NEED_NO_LOGIN_CHECK = 1 << 1, /* no Login call being checked */
        JOB_NEED_MODEL = 1 << 2,          /* a taste model */
        JOB_NEED_BACKBONE = 1 << 3,       /* an image backbone */
} JobNeed;

typedef struct JobConflict {
        const char *kind;    /* a running job of this kind excludes ours */
        const char *message; /* printf format; %1$ is the running job's id (PRIu64) */
} JobConflict;

typedef struct JobKind {
        const char *name;
        unsigned needs;               /* JobNeed bits, checked in their order above */
        const JobConflict *conflicts; /* ends with a NULL kind; NULL for none */
        const char *busy;             /* when one of its own kind runs; %1$ as above */
} JobKind;

/* NULL for a kind not in the table. */
const JobKind *job_kind_find(const char *name);
