/* SPDX-License-Identifier: MIT */
#pragma once

/* The io.github.fluffml.Fluff1.Job interface on /io/github/fluffml/Fluff1/job/N. */

typedef struct Daemon Daemon;
typedef struct Job Job;

int bus_job_register(Daemon *d);
/* mask: JOB_PROP_* bits of the properties to announce. */
void bus_job_emit_changed(Job *j, unsigned mask);
void bus_job_emit_finished(Job *j);
/* InterfacesAdded/Removed through the object manager at the root. */
void bus_job_emit_added(Job *j);
void bus_job_emit_removed(Job *j);
