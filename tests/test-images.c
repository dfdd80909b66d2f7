/* SPDX-License-Identifier: MIT */
/* Square crops on real images written by libvips here. What must survive bad
 * input: a corrupt, truncated, huge, empty or non-image buffer gives the right
 * error and a reason, and leaves no file (not even a temporary one) behind. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "fluff/util.h"
#include "images.h"
#include "tests.h"

/* after fluff/util.h: glib redefines MIN/MAX/CLAMP the same way */
#include <vips/vips.h>

static char *dir;

static void setup(void)
{
        if (!dir)
                dir = test_tmpdir();
        ASSERT_OK(images_init());
}

/* A colourful test card: a gradient per band, so every crop differs. */
static VipsImage *card(int w, int h, int bands)
{
        VipsImage *xyz, *a, *b, *out;
        ASSERT_TRUE(vips_xyz(&xyz, w, h, NULL) == 0);
        VipsImage *x, *y;
        ASSERT_TRUE(vips_extract_band(xyz, &x, 0, NULL) == 0);
        ASSERT_TRUE(vips_extract_band(xyz, &y, 1, NULL) == 0);
        ASSERT_TRUE(vips_linear1(x, &a, 255.0 / w, 0, NULL) == 0);
        ASSERT_TRUE(vips_linear1(y, &b, 255.0 / h, 0, NULL) == 0);
        VipsImage *in[4] = {a, b, a, b};
        VipsImage *j, *u;
        ASSERT_TRUE(vips_bandjoin(in, &j, bands, NULL) == 0);
        ASSERT_TRUE(vips_cast_uchar(j, &u, NULL) == 0);
        ASSERT_TRUE(vips_copy(u, &out, "interpretation",
                              bands >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W, NULL) == 0);
        g_object_unref(xyz);
        g_object_unref(x);
        g_object_unref(y);
        g_object_unref(a);
        g_object_unref(b);
        g_object_unref(j);
        g_object_unref(u);
        return out;
}

static void *jpeg_of(int w, int h, size_t *ret_size)
{
        VipsImage *img = card(w, h, 3);
        void *buf;
        ASSERT_TRUE(vips_jpegsave_buffer(img, &buf, ret_size, "Q", 85, NULL) == 0);
        g_object_unref(img);
        return buf;
}

static char *out_path(const char *name)
{
        char *p;
        ASSERT_TRUE(asprintf(&p, "%s/%s.jpg", dir, name) > 0);
        return p;
}

/* Nothing in the folder but the finished crops: no "*.tmp.*" leftovers. */
static void assert_no_temporaries(void)
{
        DIR *d = opendir(dir);
        ASSERT_TRUE(d);
        struct dirent *de;
        while ((de = readdir(d)))
                if (strstr(de->d_name, ".tmp"))
                        TEST_FAIL("temporary file left behind: %s", de->d_name);
        closedir(d);
}

static void assert_square_jpeg(const char *path, int size)
{
        _cleanup_free_ char *data = NULL;
        size_t n = 0;
        ASSERT_OK(read_file_full(path, 64 << 20, &data, &n));
        ASSERT_EQ(image_sniff(data, n), IMAGE_TYPE_JPEG);
        /* decode it fully, strictly: a valid JPEG, not just a valid header */
        VipsImage *img = vips_image_new_from_buffer(data, n, "", "fail_on", VIPS_FAIL_ON_WARNING, NULL);
        ASSERT_TRUE(img);
        ASSERT_EQ(vips_image_get_width(img), size);
        ASSERT_EQ(vips_image_get_height(img), size);
        ASSERT_EQ(vips_image_get_bands(img), 3);
        double avg;
        ASSERT_TRUE(vips_avg(img, &avg, NULL) == 0);
        g_object_unref(img);
        /* metadata stripped: no EXIF block in a crop of an image that had none anyway,
         * and the file stays small */
        ASSERT_TRUE(n < (size_t)size * size * 3);
}

static void assert_fails(const void *data, size_t size, const ImageLimits *lim, int err, const char *name)
{
        _cleanup_free_ char *p = out_path(name), *reason = NULL;
        int r = image_crop_square(data, size, 448, CROP_CENTRE, lim, p, &reason);
        if (r != -err)
                TEST_FAIL("%s: expected -%d, got %d (%s)", name, err, r, reason ? reason : "no reason");
        ASSERT_TRUE(!isempty(reason));
        fprintf(stderr, "  %s → %s\n", name, reason);
        ASSERT_TRUE(access(p, F_OK) < 0 && errno == ENOENT);
        assert_no_temporaries();
}

TEST(aspect_ratios)
{
        static const int shapes[][2] = {{850, 1200}, {1200, 850}, {448, 448}, {100, 60},
                                        {3000, 200}, {201, 1999}, {17, 17}};
        setup();
        for (size_t i = 0; i < ELEMENTSOF(shapes); i++)
                for (int m = 0; m < _CROP_MODE_MAX; m++) {
                        size_t n;
                        void *buf = jpeg_of(shapes[i][0], shapes[i][1], &n);
                        char name[64];
                        snprintf(name, sizeof name, "shape-%zu-%d", i, m);
                        _cleanup_free_ char *p = out_path(name), *reason = NULL;
                        int r = image_crop_square(buf, n, 448, m, NULL, p, &reason);
                        if (r < 0)
                                TEST_FAIL("%dx%d: %s", shapes[i][0], shapes[i][1], reason);
                        assert_square_jpeg(p, 448);
                        g_free(buf);
                }
        assert_no_temporaries();
}

TEST(other_sizes)
{
        size_t n;
        void *buf = jpeg_of(850, 1100, &n);
        setup();
        static const unsigned sizes[] = {64, 224, 299, 1024};
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                _cleanup_free_ char *p = out_path("size"), *reason = NULL;
                ASSERT_OK(image_crop_square(buf, n, sizes[i], CROP_CENTRE, NULL, p, &reason));
                assert_square_jpeg(p, (int)sizes[i]);
        }
        _cleanup_free_ char *p = out_path("bad-size"), *reason = NULL;
        ASSERT_ERROR(image_crop_square(buf, n, 0, CROP_CENTRE, NULL, p, &reason), EINVAL);
        g_free(buf);
}

TEST(centre_crop_takes_the_middle)
{
        /* left third red, middle blue, right third red: a centre crop of a 3:1
         * image must be blue only */
        setup();
        VipsImage *red, *strip, *img;
        ASSERT_TRUE(vips_black(&red, 300, 300, "bands", 3, NULL) == 0);
        double r[3] = {255, 0, 0}, b[3] = {0, 0, 255}, one[3] = {1, 1, 1};
        VipsImage *rr, *bb;
        ASSERT_TRUE(vips_linear(red, &rr, one, r, 3, "uchar", TRUE, NULL) == 0);
        ASSERT_TRUE(vips_linear(red, &bb, one, b, 3, "uchar", TRUE, NULL) == 0);
        VipsImage *parts[3] = {rr, bb, rr};
        ASSERT_TRUE(vips_arrayjoin(parts, &strip, 3, NULL) == 0);
        ASSERT_TRUE(vips_copy(strip, &img, "interpretation", VIPS_INTERPRETATION_sRGB, NULL) == 0);
        void *buf;
        size_t n;
        ASSERT_TRUE(vips_jpegsave_buffer(img, &buf, &n, "Q", 95, NULL) == 0);
        _cleanup_free_ char *p = out_path("middle");
        ASSERT_OK(image_crop_square(buf, n, 64, CROP_CENTRE, NULL, p, NULL));
        VipsImage *out = vips_image_new_from_file(p, NULL);
        ASSERT_TRUE(out);
        double px[3];
        double *v;
        int nv;
        ASSERT_TRUE(vips_getpoint(out, &v, &nv, 2, 32, NULL) == 0);
        memcpy(px, v, sizeof px);
        g_free(v);
        ASSERT_TRUE(px[2] > 200 && px[0] < 60);
        g_object_unref(out);
        g_free(buf);
        g_object_unref(red);
        g_object_unref(rr);
        g_object_unref(bb);
        g_object_unref(strip);
        g_object_unref(img);
}

TEST(metadata_is_stripped)
{
        setup();
        VipsImage *img = card(640, 480, 3), *tagged;
        ASSERT_TRUE(vips_copy(img, &tagged, NULL) == 0);
        vips_image_set_string(tagged, "exif-ifd0-Artist", "Someone Private");
        vips_image_set_string(tagged, "exif-ifd0-ImageDescription", "GPS and camera data would live here");
        void *buf;
        size_t n;
        ASSERT_TRUE(vips_jpegsave_buffer(tagged, &buf, &n, NULL) == 0);
        /* the input really carries EXIF, or this test proves nothing */
        VipsImage *in = vips_image_new_from_buffer(buf, n, "", NULL);
        ASSERT_TRUE(in && vips_image_get_typeof(in, VIPS_META_EXIF_NAME) != 0);
        g_object_unref(in);

        _cleanup_free_ char *p = out_path("stripped");
        ASSERT_OK(image_crop_square(buf, n, 200, CROP_CENTRE, NULL, p, NULL));
        VipsImage *out = vips_image_new_from_file(p, NULL);
        ASSERT_TRUE(out);
        ASSERT_EQ(vips_image_get_typeof(out, VIPS_META_EXIF_NAME), 0);
        ASSERT_EQ(vips_image_get_typeof(out, VIPS_META_ICC_NAME), 0);
        g_object_unref(out);
        g_free(buf);
        g_object_unref(img);
        g_object_unref(tagged);
}

TEST(png_with_alpha_is_flattened_on_white)
{
        setup();
        /* 4 bands: RGB gradient with alpha 0 everywhere → pure white after flattening */
        VipsImage *rgba = card(600, 300, 4), *clear, *png_img;
        double zero[4] = {1, 1, 1, 0}, add[4] = {0, 0, 0, 0};
        ASSERT_TRUE(vips_linear(rgba, &clear, zero, add, 4, "uchar", TRUE, NULL) == 0);
        ASSERT_TRUE(vips_copy(clear, &png_img, "interpretation", VIPS_INTERPRETATION_sRGB, NULL) == 0);
        void *buf;
        size_t n;
        ASSERT_TRUE(vips_pngsave_buffer(png_img, &buf, &n, NULL) == 0);
        ASSERT_EQ(image_sniff(buf, n), IMAGE_TYPE_PNG);
        _cleanup_free_ char *p = out_path("alpha");
        ASSERT_OK(image_crop_square(buf, n, 128, CROP_CENTRE, NULL, p, NULL));
        assert_square_jpeg(p, 128);
        VipsImage *out = vips_image_new_from_file(p, NULL);
        double mn;
        ASSERT_TRUE(vips_min(out, &mn, NULL) == 0);
        ASSERT_TRUE(mn > 245);
        g_object_unref(out);
        g_free(buf);
        g_object_unref(rgba);
        g_object_unref(clear);
        g_object_unref(png_img);

        /* a grey PNG with alpha, 16 bits: still an 8-bit RGB JPEG */
        VipsImage *g = card(200, 400, 2), *g16;
        ASSERT_TRUE(vips_cast_ushort(g, &g16, NULL) == 0);
        VipsImage *g16i;
        double k[2] = {256, 256}, z[2] = {0, 0};
        VipsImage *scaled;
        ASSERT_TRUE(vips_linear(g16, &scaled, k, z, 2, NULL) == 0);
        VipsImage *s16;
        ASSERT_TRUE(vips_cast_ushort(scaled, &s16, NULL) == 0);
        ASSERT_TRUE(vips_copy(s16, &g16i, "interpretation", VIPS_INTERPRETATION_GREY16, NULL) == 0);
        ASSERT_TRUE(vips_pngsave_buffer(g16i, &buf, &n, NULL) == 0);
        _cleanup_free_ char *p2 = out_path("grey16");
        char *reason = NULL;
        int r = image_crop_square(buf, n, 96, CROP_ATTENTION, NULL, p2, &reason);
        if (r < 0)
                TEST_FAIL("grey16: %s", reason);
        assert_square_jpeg(p2, 96);
        g_free(buf);
        g_object_unref(g);
        g_object_unref(g16);
        g_object_unref(g16i);
        g_object_unref(scaled);
        g_object_unref(s16);
}

TEST(gif_and_webp)
{
        setup();
        VipsImage *img = card(320, 200, 3);
        void *buf;
        size_t n;
        if (vips_type_find("VipsOperation", "gifsave_buffer") &&
            vips_gifsave_buffer(img, &buf, &n, NULL) == 0) {
                ASSERT_EQ(image_sniff(buf, n), IMAGE_TYPE_GIF);
                _cleanup_free_ char *p = out_path("gif");
                ASSERT_OK(image_crop_square(buf, n, 100, CROP_CENTRE, NULL, p, NULL));
                assert_square_jpeg(p, 100);
                g_free(buf);
        } else
                fprintf(stderr, "  (this libvips cannot write GIF: GIF input not exercised)\n");
        vips_error_clear();
        if (vips_webpsave_buffer(img, &buf, &n, NULL) == 0) {
                ASSERT_EQ(image_sniff(buf, n), IMAGE_TYPE_WEBP);
                _cleanup_free_ char *p = out_path("webp");
                ASSERT_OK(image_crop_square(buf, n, 100, CROP_CENTRE, NULL, p, NULL));
                assert_square_jpeg(p, 100);
                g_free(buf);
        } else
                fprintf(stderr, "  (this libvips cannot write WebP: WebP input not exercised)\n");
        vips_error_clear();
        g_object_unref(img);
}

TEST(truncated_jpeg)
{
        size_t n;
        void *buf = jpeg_of(850, 1000, &n);
        setup();
        assert_fails(buf, n / 2, NULL, EBADMSG, "truncated");
        assert_fails(buf, 200, NULL, EBADMSG, "header-only");
        /* corrupt scan data in the middle of an otherwise whole file */
        unsigned char *c = g_memdup2(buf, n);
        for (size_t i = n / 2; i < n / 2 + 400; i++)
                c[i] = (unsigned char)(i * 7919u);
        c[n / 2 + 1] = 0xff;
        c[n / 2 + 2] = 0xd9; /* an early end-of-image marker */
        assert_fails(c, n, NULL, EBADMSG, "corrupt");
        g_free(c);
        g_free(buf);
}

TEST(huge_declared_dimensions)
{
        size_t n;
        unsigned char *buf = jpeg_of(64, 48, &n);
        setup();
        /* rewrite the baseline frame header (SOF0) to claim 60000×60000 */
        size_t i;
        for (i = 2; i + 9 < n; i++)
                if (buf[i] == 0xff && buf[i + 1] == 0xc0)
                        break;
        ASSERT_TRUE(i + 9 < n);
        buf[i + 5] = 0xea;
        buf[i + 6] = 0x60;
        buf[i + 7] = 0xea;
        buf[i + 8] = 0x60;
        assert_fails(buf, n, NULL, EFBIG, "bomb");
        g_free(buf);

        /* the same trick on a PNG: IHDR rewritten, its CRC fixed so the header is valid */
        VipsImage *img = card(32, 24, 3);
        unsigned char *png;
        ASSERT_TRUE(vips_pngsave_buffer(img, (void **)&png, &n, NULL) == 0);
        g_object_unref(img);
        ASSERT_TRUE(n > 33 && memcmp(png + 12, "IHDR", 4) == 0);
        static const unsigned char big[8] = {0, 0, 0xea, 0x60, 0, 0, 0xea, 0x60};
        memcpy(png + 16, big, 8);
        uint32_t crc = 0xffffffffu;
        for (size_t k = 12; k < 12 + 4 + 13; k++) {
                crc ^= png[k];
                for (int bit = 0; bit < 8; bit++)
                        crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
        }
        crc ^= 0xffffffffu;
        png[29] = (unsigned char)(crc >> 24), png[30] = (unsigned char)(crc >> 16);
        png[31] = (unsigned char)(crc >> 8), png[32] = (unsigned char)crc;
        assert_fails(png, n, NULL, EFBIG, "png-bomb");
        g_free(png);

        /* an honest image over a small pixel limit, and over a byte limit */
        buf = jpeg_of(1000, 1000, &n);
        ImageLimits px = {.max_bytes = 1 << 30, .max_pixels = 999999};
        assert_fails(buf, n, &px, EFBIG, "too-many-pixels");
        ImageLimits bytes = {.max_bytes = n - 1, .max_pixels = 1 << 30};
        assert_fails(buf, n, &bytes, EFBIG, "too-many-bytes");
        bytes.max_bytes = n;
        _cleanup_free_ char *p = out_path("exact-limit");
        ASSERT_OK(image_crop_square(buf, n, 64, CROP_CENTRE, &bytes, p, NULL));
        g_free(buf);
}

TEST(not_images)
{
        setup();
        assert_fails("", 0, NULL, EMEDIUMTYPE, "empty");
        const char text[] = "<html><body>503 Service Unavailable</body></html>\n";
        assert_fails(text, sizeof text - 1, NULL, EMEDIUMTYPE, "text");
        unsigned char rnd[4096];
        unsigned s = 12345;
        for (size_t i = 0; i < sizeof rnd; i++)
                rnd[i] = (unsigned char)((s = s * 1103515245u + 12345u) >> 16);
        assert_fails(rnd, sizeof rnd, NULL, EMEDIUMTYPE, "random");
        /* random bytes behind a JPEG magic: recognised as JPEG, refused as corrupt */
        rnd[0] = 0xff, rnd[1] = 0xd8, rnd[2] = 0xff;
        assert_fails(rnd, sizeof rnd, NULL, EBADMSG, "random-jpeg");
        /* a PNG signature and nothing else */
        assert_fails("\x89PNG\r\n\x1a\n", 8, NULL, EBADMSG, "png-signature-only");
}

TEST(write_failures_leave_nothing)
{
        size_t n;
        void *buf = jpeg_of(300, 300, &n);
        setup();
        _cleanup_free_ char *reason = NULL, *p = NULL;
        ASSERT_TRUE(asprintf(&p, "%s/no-such-folder/x.jpg", dir) > 0);
        ASSERT_ERROR(image_crop_square(buf, n, 64, CROP_CENTRE, NULL, p, &reason), ENOENT);
        ASSERT_TRUE(image_error_is_transient(-ENOENT));
        ASSERT_TRUE(image_error_is_transient(-ENOSPC));

        /* the disk refuses part way through the write (a file size limit stands
         * in for a full disk): a transient error, and no partial file anywhere */
        _cleanup_free_ char *q = out_path("disk-full"), *why = NULL;
        struct rlimit old, small = {.rlim_cur = 2000, .rlim_max = RLIM_INFINITY};
        ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
        small.rlim_max = old.rlim_max;
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
        int r = image_crop_square(buf, n, 448, CROP_CENTRE, NULL, q, &why);
        ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
        (void)signal(SIGXFSZ, prev);
        fprintf(stderr, "  disk-full → %d: %s\n", r, why);
        ASSERT_EQ(r, -EIO);
        ASSERT_TRUE(image_error_is_transient(r));
        ASSERT_TRUE(access(q, F_OK) < 0 && errno == ENOENT);
        assert_no_temporaries();
        ASSERT_FALSE(image_error_is_transient(-EBADMSG));
        ASSERT_FALSE(image_error_is_transient(-EFBIG));
        ASSERT_FALSE(image_error_is_transient(-EMEDIUMTYPE));
        g_free(buf);
}

TEST(replaces_atomically)
{
        size_t n1, n2;
        void *a = jpeg_of(500, 300, &n1), *b = jpeg_of(300, 500, &n2);
        setup();
        _cleanup_free_ char *p = out_path("replace");
        ASSERT_OK(image_crop_square(a, n1, 200, CROP_CENTRE, NULL, p, NULL));
        ASSERT_OK(image_crop_square(b, n2, 200, CROP_CENTRE, NULL, p, NULL));
        assert_square_jpeg(p, 200);
        /* a failed crop does not destroy a good file already there */
        ASSERT_ERROR(image_crop_square(a, n1 / 3, 200, CROP_CENTRE, NULL, p, NULL), EBADMSG);
        assert_square_jpeg(p, 200);
        assert_no_temporaries();
        g_free(a);
        g_free(b);
}

TEST(from_file)
{
        size_t n;
        void *buf = jpeg_of(640, 480, &n);
        setup();
        _cleanup_free_ char *in = NULL, *p = out_path("from-file");
        ASSERT_TRUE(asprintf(&in, "%s/input.bin", dir) > 0);
        ASSERT_OK(write_file_atomic(in, buf, n, 0644));
        ASSERT_OK(image_crop_square_file(in, 100, CROP_CENTRE, NULL, p, NULL));
        assert_square_jpeg(p, 100);
        ImageLimits lim = {.max_bytes = 100, .max_pixels = 1 << 30};
        _cleanup_free_ char *reason = NULL;
        ASSERT_ERROR(image_crop_square_file(in, 100, CROP_CENTRE, &lim, p, &reason), EFBIG);

        /* a caller's descriptor: the magic and limits as for a download */
        void *data = NULL;
        size_t size = 0;
        int fd = open(in, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(image_read_fd(fd, NULL, &data, &size, NULL));
        ASSERT_EQ(size, n);
        free(data);
        free(reason);
        reason = NULL;
        ASSERT_ERROR(image_read_fd(fd, &lim, &data, &size, &reason), EFBIG);
        close(fd);
        /* a FIFO is refused without waiting for a writer */
        _cleanup_free_ char *fifo = NULL;
        ASSERT_TRUE(asprintf(&fifo, "%s/fifo", dir) > 0);
        ASSERT_OK(mkfifo(fifo, 0600));
        alarm(20);
        free(reason);
        reason = NULL;
        ASSERT_ERROR(image_crop_square_file(fifo, 100, CROP_CENTRE, NULL, p, &reason), EBADF);
        alarm(0);
        ASSERT_TRUE(strstr(reason, "not a regular file"));
        (void)unlink(fifo);
        /* text, not an image */
        ASSERT_OK(write_file_atomic(in, "hello", 5, 0644));
        fd = open(in, O_RDONLY | O_CLOEXEC);
        ASSERT_ERROR(image_read_fd(fd, NULL, &data, &size, NULL), EMEDIUMTYPE);
        close(fd);
        (void)unlink(in);
        g_free(buf);
}

struct job {
        void *buf;
        size_t n;
        int idx, r;
};

static void *worker(void *arg)
{
        struct job *j = arg;
        char name[32];
        snprintf(name, sizeof name, "thread-%d", j->idx);
        _cleanup_free_ char *p = out_path(name);
        j->r = 0;
        for (int k = 0; k < 5 && j->r >= 0; k++)
                j->r = image_crop_square(j->buf, j->n, 224, j->idx % 2 ? CROP_ATTENTION : CROP_CENTRE, NULL,
                                         p, NULL);
        images_thread_exit();
        return NULL;
}

TEST(threads)
{
        setup();
        struct job jobs[6];
        pthread_t t[6];
        for (int i = 0; i < 6; i++) {
                jobs[i] = (struct job){.idx = i};
                jobs[i].buf = jpeg_of(400 + 50 * i, 700 - 40 * i, &jobs[i].n);
        }
        for (int i = 0; i < 6; i++)
                ASSERT_EQ(pthread_create(&t[i], NULL, worker, &jobs[i]), 0);
        for (int i = 0; i < 6; i++) {
                ASSERT_EQ(pthread_join(t[i], NULL), 0);
                ASSERT_OK(jobs[i].r);
                char name[32];
                snprintf(name, sizeof name, "thread-%d", i);
                _cleanup_free_ char *p = out_path(name);
                assert_square_jpeg(p, 224);
                g_free(jobs[i].buf);
        }
        assert_no_temporaries();
}

TEST(check_crop)
{
        size_t n;
        void *buf = jpeg_of(500, 700, &n);
        setup();
        _cleanup_free_ char *p = out_path("check"), *missing = out_path("missing");
        ASSERT_OK(image_crop_square(buf, n, 128, CROP_CENTRE, NULL, p, NULL));
        ASSERT_OK(image_check_crop(p, 128));
        ASSERT_ERROR(image_check_crop(p, 448), EBADMSG); /* another size: not usable */
        ASSERT_ERROR(image_check_crop(missing, 128), ENOENT);
        ASSERT_OK(write_file_atomic(p, "not a jpeg", 10, 0644));
        ASSERT_ERROR(image_check_crop(p, 128), EBADMSG);
        ASSERT_OK(write_file_atomic(p, buf, 100, 0644)); /* a cut-off JPEG header */
        ASSERT_ERROR(image_check_crop(p, 128), EBADMSG);
        (void)unlink(p);
        g_free(buf);
}

TEST(remove_temporaries)
{
        _cleanup_free_ char *d = NULL;
        setup();
        ASSERT_TRUE(asprintf(&d, "%s/images", dir) > 0);
        ASSERT_EQ(images_remove_temporaries(d), 0); /* no folder yet */
        ASSERT_OK(mkdir_parents(d, 0700));
        static const char *const leftovers[] = {"0123456789abcdef0123456789abcdef.jpg.tmp.a1B2c3",
                                                "ffffffffffffffffffffffffffffffff.jpg.tmp.ZZZZZZ"};
        static const char *const keep[] = {"0123456789abcdef0123456789abcdef.jpg", "notes.txt.tmp.a1B2c3",
                                           "0123456789abcdef0123456789abcdef.jpg.tmp.a1B2c",
                                           "0123456789ABCDEF0123456789abcdef.jpg.tmp.a1B2c3"};
        for (size_t i = 0; i < ELEMENTSOF(leftovers); i++) {
                _cleanup_free_ char *p = NULL;
                ASSERT_TRUE(asprintf(&p, "%s/%s", d, leftovers[i]) > 0);
                ASSERT_OK(write_file_atomic(p, "half", 4, 0644));
        }
        for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
                _cleanup_free_ char *p = NULL;
                ASSERT_TRUE(asprintf(&p, "%s/%s", d, keep[i]) > 0);
                ASSERT_OK(write_file_atomic(p, "keep", 4, 0644));
        }
        ASSERT_EQ(images_remove_temporaries(d), 2);
        for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
                _cleanup_free_ char *p = NULL;
                ASSERT_TRUE(asprintf(&p, "%s/%s", d, keep[i]) > 0);
                ASSERT_EQ(access(p, F_OK), 0);
        }
        ASSERT_EQ(images_remove_temporaries(d), 0);
}

TEST(md5_paths)
{
        _cleanup_free_ char *p = NULL;
        ASSERT_OK(image_path_for_md5("/x/images", "0123456789abcdef0123456789abcdef", &p));
        ASSERT_STREQ(p, "/x/images/0123456789abcdef0123456789abcdef.jpg");
        char *q = NULL;
        ASSERT_ERROR(image_path_for_md5("/x", "0123456789ABCDEF0123456789abcdef", &q), EINVAL);
        ASSERT_ERROR(image_path_for_md5("/x", "../../../../etc/passwd/0123456789a", &q), EINVAL);
        ASSERT_ERROR(image_path_for_md5("/x", "0123456789abcdef0123456789abcde", &q), EINVAL);
        ASSERT_ERROR(image_path_for_md5("/x", "0123456789abcdef0123456789abcdef0", &q), EINVAL);
        ASSERT_ERROR(image_path_for_md5("/x", "0123456789abcdef0123456789abcd/f", &q), EINVAL);
        ASSERT_ERROR(image_path_for_md5("/x", NULL, &q), EINVAL);
        ASSERT_ERROR(image_path_for_md5("", "0123456789abcdef0123456789abcdef", &q), EINVAL);
        ASSERT_TRUE(q == NULL);
}

TEST(names)
{
        ASSERT_EQ(crop_mode_from_string("centre"), CROP_CENTRE);
        ASSERT_EQ(crop_mode_from_string("center"), CROP_CENTRE);
        ASSERT_EQ(crop_mode_from_string("attention"), CROP_ATTENTION);
        ASSERT_EQ(crop_mode_from_string("entropy"), _CROP_MODE_INVALID);
        ASSERT_EQ(crop_mode_from_string(NULL), _CROP_MODE_INVALID);
        ASSERT_STREQ(crop_mode_to_string(CROP_CENTRE), "centre");
        ASSERT_TRUE(crop_mode_to_string(_CROP_MODE_MAX) == NULL);
}

TEST(cleanup)
{
        /* last: remove the scratch folder */
        if (dir) {
                _cleanup_free_ char *cmd = NULL;
                ASSERT_TRUE(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
                ASSERT_EQ(system(cmd), 0);
        }
}

TEST_MAIN()
