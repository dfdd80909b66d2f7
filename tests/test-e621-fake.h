/* SPDX-License-Identifier: MIT */
#pragma once

/* The fake e621 site for the e621 client's C tests: started as a subprocess
 * (python3 tests/fake-e621/fake_e621.py --port 0), controlled through its
 * /_test/ endpoints with plain blocking libcurl (the client under test never
 * does this), stopped with SIGTERM. Plus a bounded sd_event runner. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <sys/types.h>

typedef struct FakeSite {
        pid_t pid;
        char url[128];
        char user[64];
        char api_key[128];
} FakeSite;

/* args: extra flags for the server, NULL-terminated (may be NULL). Skips the
 * test (exit 77) when python3 or the server is missing. */
void fake_site_start(FakeSite *s, const char *const *args);
void fake_site_stop(FakeSite *s);

/* A control call; the parsed JSON answer (caller puts it), or fails the test. */
json_object *fake_site_control(FakeSite *s, const char *method, const char *path, const char *json_body);
/* count < 0: until cleared; path NULL: any API path. */
void fake_site_fault(FakeSite *s, const char *mode, int count, const char *path, int retry_after);
void fake_site_clear_faults(FakeSite *s);
void fake_site_reset_stats(FakeSite *s);
/* stats[key] as an integer (0 when absent); for dict-valued keys, the sum. */
int64_t fake_site_stat(FakeSite *s, const char *key, const char *subkey);

/* Runs the loop until *flag turns true; fails the test after timeout_usec. */
void run_until(sd_event *e, const bool *flag, uint64_t timeout_usec);
/* Runs the loop until *counter reaches n. */
void run_until_count(sd_event *e, const unsigned *counter, unsigned n, uint64_t timeout_usec);
