/* SPDX-License-Identifier: MIT */
/* The importer and the weight-file reader on crafted files (issue 15): every
 * bad file gives one clear sentence and the process goes on. Before, a JSON
 * null or a string where an array belongs crashed fluffd (json-c's type
 * assertions), a key at the very end of the topology was read one byte past
 * its buffer, a dense layer's input size wrapped in 32 bits, and the package
 * reader decompressed whatever followed the tar end marker. No npm needed:
 * the packages are written by tests/backbone/craft-pkg.py. */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "backbone-internal.h"
#include "fluff/text.h"
#include "jsobj.h"
#include "pkg.h"
#include "safetensors.h"
#include "tests.h"

static char *tmp;

static void run(const char *fmt, ...) _printf_(1, 2);
static void run(const char *fmt, ...)
{
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        va_start(ap, fmt);
        ASSERT_TRUE(vasprintf(&cmd, fmt, ap) >= 0);
        va_end(ap);
        if (system(cmd) != 0)
                TEST_FAIL("Command failed: %s", cmd);
}

static char *craft(const char *kase, long trailer)
{
        char *path = NULL;
        if (!tmp)
                tmp = test_tmpdir();
        ASSERT_TRUE(asprintf(&path, "%s/%s-%ld.tgz", tmp, kase, trailer) > 0);
        run("python3 '%s/tests/backbone/craft-pkg.py' '%s' '%s' --trailer %ld", FLUFF_SOURCE_DIR, path, kase,
            trailer);
        return path;
}

/* Imports a crafted package: it must fail with a clean sentence naming want. */
static void expect_refused(const char *kase, long trailer, const char *want)
{
        _cleanup_free_ char *pkg = craft(kase, trailer), *dest = NULL, *id = NULL;
        Error err = {};

        ASSERT_TRUE(asprintf(&dest, "%s/out.safetensors", tmp) > 0);
        int r = backbone_import(pkg, dest, &id, &err);
        fprintf(stderr, "  %s: %s\n", kase, err.message);
        ASSERT_TRUE(r < 0);
        ASSERT_TRUE(error_is_set(&err) && !id);
        ASSERT_TRUE(text_is_clean(err.message, strlen(err.message), 0));
        if (!strstr(err.message, want))
                TEST_FAIL("\"%s\" does not mention \"%s\"", err.message, want);
        ASSERT_TRUE(access(dest, F_OK) < 0);
}

TEST(json_types_in_packages)
{
        expect_refused("name-null", 0, "package.json is not valid");
        expect_refused("version-escape", 0, "version");
        expect_refused("paths-string", 0, "one shard expected");
        expect_refused("topology-null", 0, "topology");
        expect_refused("outputs-string", 0, "exactly one output");
        expect_refused("outputs-inner-string", 0, "exactly one output");
        /* the well-formed tiny package goes as far as the shape check */
        expect_refused("plain", 0, "exactly one output");
}

TEST(nothing_decompressed_after_the_end)
{
        /* 64 MiB of zeros after the end marker compress to 64 KiB */
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        expect_refused("plain", 64L << 20, "after the end of its archive");
        double s = (double)(now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_SEC;
        fprintf(stderr, "  refused in %.2f s\n", s);
        /* a small trailer (tar's own record padding) is fine */
        expect_refused("plain", 8192, "exactly one output");
}

TEST(cancel_and_file_kinds)
{
        _cleanup_free_ char *pkg = craft("plain", 0), *fifo = NULL, *dest = NULL;
        Error err = {};
        static const char *const wanted[] = {"package.json"};
        PkgBlob b[1];
        Error e = {};
        atomic_bool cancel = true;

        _cleanup_close_ int fd = open(pkg, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_ERROR(pkg_read_fd(fd, "crafted", wanted, 1, &cancel, b, &e), ECANCELED);
        atomic_store(&cancel, false);
        e = (Error){};
        ASSERT_OK(pkg_read_fd(fd, "crafted", wanted, 1, &cancel, b, &e));
        ASSERT_TRUE(strstr(b[0].data, "nsfwjs"));
        pkg_blobs_free(b, 1);

        /* a FIFO would block the worker forever: refused, not opened for reading */
        ASSERT_TRUE(asprintf(&fifo, "%s/fifo", tmp) > 0);
        ASSERT_OK(mkfifo(fifo, 0600));
        ASSERT_TRUE(asprintf(&dest, "%s/out.safetensors", tmp) > 0);
        alarm(20);
        ASSERT_TRUE(backbone_import(fifo, dest, NULL, &err) < 0);
        fprintf(stderr, "  fifo: %s\n", err.message);
        ASSERT_TRUE(strstr(err.message, "not a regular file"));
        _cleanup_close_ int ffd = open(fifo, O_RDWR | O_CLOEXEC);
        ASSERT_TRUE(ffd >= 0);
        ASSERT_ERROR(backbone_import_fd(ffd, "fifo", dest, NULL, NULL, NULL), EBADF);
        alarm(0);
}

TEST(key_at_the_very_end)
{
        /* "{a:1," as the last bytes before an unmapped page: one byte more is a crash */
        long page = sysconf(_SC_PAGESIZE);
        char *m = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_TRUE(m != MAP_FAILED);
        ASSERT_OK(mprotect(m + page, (size_t)page, PROT_NONE));
        static const char js[] = "{a:1,";
        char *s = m + page - (sizeof js - 1);
        memcpy(s, js, sizeof js - 1);
        _cleanup_free_ char *json = NULL;
        Error e = {};
        ASSERT_ERROR(jsobj_extract_json(s, sizeof js - 1, "a", &json, &e), EBADMSG);
        fprintf(stderr, "  %s\n", e.message);
        (void)munmap(m, 2 * (size_t)page);
}

TEST(dense_input_wraps_32_bits)
{
        /* 4096·4096·257 = 2^32 + 2^24: wrapped, it equals the cin the file claims */
        static const char graph[] =
                "[{\"name\":\"in\",\"out\":\"in\",\"op\":\"input\",\"act\":\"linear\",\"tf_padding\":"
                "\"valid\","
                "\"k\":1,\"stride\":1,\"h\":4096,\"w\":4096,\"c\":257,\"cin\":0,\"block\":0,\"in\":[],"
                "\"pad\":[0,0,0,0]},"
                "{\"name\":\"d\",\"out\":\"d\",\"op\":\"dense\",\"act\":\"softmax\",\"tf_padding\":"
                "\"valid\","
                "\"k\":1,\"stride\":1,\"h\":1,\"w\":1,\"c\":5,\"cin\":16777216,\"block\":0,\"in\":[0],"
                "\"pad\":[0,0,0,0]}]";
        BbGraph *g = calloc(1, sizeof(BbGraph));
        Error e = {};
        ASSERT_TRUE(g);
        ASSERT_ERROR(bb_graph_from_json(graph, g, &e), EBADMSG);
        fprintf(stderr, "  %s\n", e.message);
        ASSERT_TRUE(strstr(e.message, "Dense"));
        free(g);
}

TEST(safetensors_dtype_null)
{
        float w[2] = {1, 2};
        StTensor t = {.name = "w", .data = w, .n_dims = 1, .dims = {2}};
        _cleanup_free_ void *buf = NULL;
        size_t size;
        StFile f;
        const float *p;
        uint64_t dims[1] = {2};
        Error e = {};

        ASSERT_OK(st_build(&t, 1, NULL, &buf, &size));
        char *dt = memmem(buf, size, "\"F32\"", 5);
        ASSERT_TRUE(dt);
        memcpy(dt, "null ", 5); /* same length: the header stays well-formed */
        ASSERT_OK(st_parse(TAKE_PTR(buf), size, &f, &e));
        ASSERT_ERROR(st_tensor(&f, "w", dims, 1, &p, &e), EBADMSG);
        fprintf(stderr, "  %s\n", e.message);
        st_file_done(&f);
}

TEST(messages_are_clean_text)
{
        Error e = {};
        /* a layer name from a file: Latin-1, an escape, and a cut mid-character */
        char name[600];
        memset(name, 'x', sizeof name);
        memcpy(name + 490, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8);
        name[sizeof name - 1] = '\0';
        (void)error_setf(&e, -EBADMSG, "Layer \"\x1b[2J\xe9%s\"", name);
        ASSERT_TRUE(utf8_is_valid(e.message, strlen(e.message)));
        ASSERT_TRUE(text_is_clean(e.message, strlen(e.message), 0));
}

TEST(cleanup)
{
        if (tmp)
                run("rm -rf '%s'", tmp);
}

TEST_MAIN()
