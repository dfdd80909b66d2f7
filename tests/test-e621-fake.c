/* SPDX-License-Identifier: MIT */
#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "fluff/util.h"
#include "test-e621-fake.h"
#include "tests.h"

void fake_site_start(FakeSite *s, const char *const *args)
{
        char script[4096];
        int pipefd[2];

        (void)snprintf(script, sizeof(script), "%s/tests/fake-e621/fake_e621.py", FLUFF_SOURCE_DIR);
        if (access(script, R_OK) < 0)
                TEST_SKIP("the fake site %s is missing", script);
        if (access(PYTHON3, X_OK) < 0)
                TEST_SKIP("python3 (%s) is missing", PYTHON3);
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                TEST_FAIL("pipe: %m");

        const char *argv[64] = {PYTHON3, "-B", script, "--port", "0"};
        size_t n = 5;
        for (size_t i = 0; args && args[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = args[i];
        argv[n] = NULL;

        pid_t parent = getpid();
        s->pid = fork();
        if (s->pid < 0)
                TEST_FAIL("fork: %m");
        if (s->pid == 0) {
                /* the server must not outlive a test that crashed */
                (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(1);
                if (dup2(pipefd[1], STDOUT_FILENO) < 0)
                        _exit(1);
                execv(PYTHON3, (char **)argv);
                _exit(127);
        }
        close(pipefd[1]);

        char line[1024];
        size_t len = 0;
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 60 * USEC_PER_SEC;
        while (!memchr(line, '\n', len)) {
                struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        TEST_FAIL("the fake site did not start in time");
                int r = poll(&p, 1, (int)((deadline - now) / USEC_PER_MSEC) + 1);
                if (r < 0 && errno != EINTR)
                        TEST_FAIL("poll: %m");
                if (r <= 0)
                        continue;
                ssize_t k = read(pipefd[0], line + len, sizeof(line) - 1 - len);
                if (k <= 0)
                        TEST_FAIL("the fake site exited before it listened");
                len += (size_t)k;
                if (len >= sizeof(line) - 1)
                        TEST_FAIL("the fake site's first line is too long");
        }
        close(pipefd[0]);
        line[len] = '\0';

        json_object *o = json_tokener_parse(line), *v;
        if (!o)
                TEST_FAIL("the fake site's first line is not JSON: %s", line);
        if (!json_object_object_get_ex(o, "url", &v))
                TEST_FAIL("no url in %s", line);
        (void)snprintf(s->url, sizeof(s->url), "%s", json_object_get_string(v));
        if (!json_object_object_get_ex(o, "user", &v))
                TEST_FAIL("no user in %s", line);
        (void)snprintf(s->user, sizeof(s->user), "%s", json_object_get_string(v));
        if (!json_object_object_get_ex(o, "api_key", &v))
                TEST_FAIL("no api_key in %s", line);
        (void)snprintf(s->api_key, sizeof(s->api_key), "%s", json_object_get_string(v));
        json_object_put(o);
}

void fake_site_stop(FakeSite *s)
{
        if (s->pid <= 0)
                return;
        (void)kill(s->pid, SIGTERM);
        for (int i = 0; i < 100; i++) {
                if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
                        s->pid = 0;
                        return;
                }
                struct timespec ts = {0, 50 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        (void)kill(s->pid, SIGKILL);
        (void)waitpid(s->pid, NULL, 0);
        s->pid = 0;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
        char **buf = userdata;
        size_t old = *buf ? strlen(*buf) : 0, n = size * nmemb;
        char *b = realloc(*buf, old + n + 1);
        if (!b)
                return 0;
        memcpy(b + old, data, n);
        b[old + n] = '\0';
        *buf = b;
        return n;
}

json_object *fake_site_control(FakeSite *s, const char *method, const char *path, const char *json_body)
{
        char url[512];
        _cleanup_free_ char *body = NULL;
        long status = 0;
        CURL *e = curl_easy_init();
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

        (void)snprintf(url, sizeof(url), "%s%s", s->url, path);
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "fluff-tests/" FLUFF_VERSION " (control)");
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
        if (json_body)
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, json_body);
        CURLcode c = curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(e);
        curl_slist_free_all(h);
        if (c != CURLE_OK || status != 200)
                TEST_FAIL("%s %s: %s, HTTP %ld: %s", method, path, curl_easy_strerror(c), status,
                          body ? body : "");
        json_object *o = json_tokener_parse(body);
        if (!o)
                TEST_FAIL("%s %s: not JSON: %s", method, path, body);
        return o;
}

void fake_site_fault(FakeSite *s, const char *mode, int count, const char *path, int retry_after)
{
        json_object *spec = json_object_new_object();
        json_object_object_add(spec, "mode", json_object_new_string(mode));
        if (count >= 0)
                json_object_object_add(spec, "count", json_object_new_int(count));
        if (path)
                json_object_object_add(spec, "path", json_object_new_string(path));
        if (retry_after > 0)
                json_object_object_add(spec, "retry_after", json_object_new_int(retry_after));
        json_object_put(fake_site_control(s, "POST", "/_test/faults", json_object_to_json_string(spec)));
        json_object_put(spec);
}

void fake_site_clear_faults(FakeSite *s)
{
        json_object_put(fake_site_control(s, "DELETE", "/_test/faults", NULL));
}

void fake_site_reset_stats(FakeSite *s)
{
        json_object_put(fake_site_control(s, "POST", "/_test/stats/reset", "{}"));
}

int64_t fake_site_stat(FakeSite *s, const char *key, const char *subkey)
{
        json_object *o = fake_site_control(s, "GET", "/_test/stats", NULL), *v, *w;
        int64_t n = 0;

        if (json_object_object_get_ex(o, key, &v)) {
                if (json_object_is_type(v, json_type_object)) {
                        if (subkey) {
                                if (json_object_object_get_ex(v, subkey, &w))
                                        n = json_object_get_int64(w);
                        } else {
                                json_object_object_foreach(v, k, x)
                                {
                                        (void)k;
                                        n += json_object_get_int64(x);
                                }
                        }
                } else if (json_object_is_type(v, json_type_array))
                        n = (int64_t)json_object_array_length(v);
                else
                        n = json_object_get_int64(v);
        }
        json_object_put(o);
        return n;
}

void run_until(sd_event *e, const bool *flag, uint64_t timeout_usec)
{
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
        while (!*flag) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        TEST_FAIL("timed out after %.1f s waiting for the loop", (double)timeout_usec / 1e6);
                int r = sd_event_run(e, deadline - now);
                if (r < 0)
                        TEST_FAIL("sd_event_run: %s", strerror(-r));
        }
}

void run_until_count(sd_event *e, const unsigned *counter, unsigned n, uint64_t timeout_usec)
{
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
        while (*counter < n) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        TEST_FAIL("timed out after %.1f s with %u of %u done", (double)timeout_usec / 1e6,
                                  *counter, n);
                int r = sd_event_run(e, deadline - now);
                if (r < 0)
                        TEST_FAIL("sd_event_run: %s", strerror(-r));
        }
}
