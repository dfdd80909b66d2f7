/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <pthread.h>
/* before glib, whose MIN/MAX/CLAMP replace ours with the same meaning */
#include "fluff/text.h"
#include "images.h"

#include <vips/vips.h>
#include <vips/vector.h>

static const char *const crop_mode_table[_CROP_MODE_MAX] = {
        [CROP_CENTRE] = "centre",
        [CROP_ATTENTION] = "attention",
};

const char *crop_mode_to_string(CropMode m)
{
        return m >= 0 && m < _CROP_MODE_MAX ? crop_mode_table[m] : NULL;
}

CropMode crop_mode_from_string(const char *s)
{
        if (!s)
                return _CROP_MODE_INVALID;
        if (streq(s, "center"))
                return CROP_CENTRE;
        for (int i = 0; i < _CROP_MODE_MAX; i++)
                if (streq(s, crop_mode_table[i]))
                        return i;
        return _CROP_MODE_INVALID;
}

static const char *const image_type_table[_IMAGE_TYPE_MAX] = {
        [IMAGE_TYPE_JPEG] = "jpeg",
        [IMAGE_TYPE_PNG] = "png",
        [IMAGE_TYPE_GIF] = "gif",
        [IMAGE_TYPE_WEBP] = "webp",
};

const char *image_type_to_string(ImageType t)
{
        return t >= 0 && t < _IMAGE_TYPE_MAX ? image_type_table[t] : NULL;
}

static const char *image_type_display(ImageType t)
{
        static const char *const names[_IMAGE_TYPE_MAX] = {"JPEG", "PNG", "GIF", "WebP"};
        return t >= 0 && t < _IMAGE_TYPE_MAX ? names[t] : "image";
}

ImageType image_sniff(const void *data, size_t size)
{
        const unsigned char *b = data;

        if (!b)
                return -EMEDIUMTYPE;
        if (size >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
                return IMAGE_TYPE_JPEG;
        if (size >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
                return IMAGE_TYPE_PNG;
        if (size >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0))
                return IMAGE_TYPE_GIF;
        if (size >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
                return IMAGE_TYPE_WEBP;
        return -EMEDIUMTYPE;
}

static pthread_once_t vips_once = PTHREAD_ONCE_INIT;
static int vips_init_result = 0;

static void vips_log_handler(const char *domain, GLogLevelFlags level, const char *message, void *userdata)
{
        /* libvips warns on stderr about each bad file; the caller already gets
         * the failure with its reason and decides what to log */
        log_debug("libvips: %s", message);
}

static void images_init_once(void)
{
        if (VIPS_INIT("fluffd") != 0) {
                vips_init_result = log_error_errno(EIO, "Failed to start libvips: %s", vips_error_buffer());
                vips_error_clear();
                return;
        }
        /* Inputs are buffers that are freed right after each call: a cache keyed
         * on their addresses could hand back another image, and a daemon never
         * repeats an operation anyway. */
        vips_cache_set_max(0);
        /* liborc's run-time code generation crashed fluffd (SIGSEGV inside
         * liborc under g_object_unref of a crop, seen by ASan) when several
         * workers crop at once; the plain C paths are safe and fast enough. */
        vips_vector_set_enabled(FALSE);
        (void)g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO,
                                vips_log_handler, NULL);
}

int images_init(void)
{
        (void)pthread_once(&vips_once, images_init_once);
        return vips_init_result;
}

void images_thread_exit(void)
{
        vips_thread_shutdown();
}

/* libvips keeps one error buffer for the process; take what it says now.
 * Under heavy concurrency the text may mix in another thread's error: it is
 * only ever used as a human reason, never to decide anything. */
static char *vips_reason(const char *what)
{
        char *v = vips_error_buffer_copy();
        char *reason = NULL;

        if (v) {
                /* one line: libvips ends each message with "\n" */
                for (char *p = v; *p; p++)
                        if (*p == '\n')
                                *p = p[1] ? ' ' : '\0';
        }
        if (asprintf(&reason, "%s%s%s", what, isempty(v) ? "" : ": ", isempty(v) ? "" : v) < 0)
                reason = NULL;
        g_free(v);
        return reason;
}

static int set_reason(char **ret_reason, int r, const char *fmt, ...) _printf_(3, 4);
static int set_reason(char **ret_reason, int r, const char *fmt, ...)
{
        if (ret_reason) {
                va_list ap;
                _cleanup_free_ char *raw = NULL;
                va_start(ap, fmt);
                if (vasprintf(&raw, fmt, ap) < 0)
                        raw = NULL;
                va_end(ap);
                /* a caller's path or libvips' words: clean text for a bus reply */
                *ret_reason = raw ? text_sanitize(raw, strlen(raw), 0) : NULL;
        }
        return r;
}

static int take_vips_reason(char **ret_reason, int r, const char *what)
{
        _cleanup_free_ char *reason = vips_reason(what);
        if (ret_reason)
                *ret_reason = reason ? text_sanitize(reason, strlen(reason), 0) : NULL;
        return r;
}

static void unrefp(VipsImage **i)
{
        if (*i)
                g_object_unref(*i);
}
#define _cleanup_vips_ _cleanup_(unrefp)

static void g_freep(void *p)
{
        g_free(*(void **)p);
}

/* sRGB, 8 bits, no alpha: what a JPEG holds and what the model expects. */
static int to_srgb_opaque(VipsImage *in, VipsImage **ret)
{
        _cleanup_vips_ VipsImage *rgb = NULL, *flat = NULL, *u8 = NULL;
        VipsImage *cur = in;

        if (vips_image_guess_interpretation(cur) != VIPS_INTERPRETATION_sRGB ||
            cur->BandFmt != VIPS_FORMAT_UCHAR) {
                if (vips_colourspace(cur, &rgb, VIPS_INTERPRETATION_sRGB, NULL) < 0)
                        return -EBADMSG;
                cur = rgb;
        }
        if (vips_image_hasalpha(cur)) {
                VipsArrayDouble *white = vips_array_double_newv(1, 255.0);
                int k = vips_flatten(cur, &flat, "background", white, NULL);
                vips_area_unref(VIPS_AREA(white));
                if (k < 0)
                        return -EBADMSG;
                cur = flat;
        }
        if (cur->BandFmt != VIPS_FORMAT_UCHAR) {
                if (vips_cast_uchar(cur, &u8, NULL) < 0)
                        return -EBADMSG;
                cur = u8;
        }
        *ret = g_object_ref(cur);
        return 0;
}

/* Like write_file_atomic(), without its fsync of the folder: the file's own
 * fsync before the rename is what keeps a partial crop from ever sitting at
 * out_path, even after a power cut. Losing the rename itself in a power cut
 * only means the crop is missing, which store_images_verify() notices and the
 * next sync repairs; it halves the syncs per image, the largest cost of this
 * path on a real disk. */
static int write_crop(const char *path, const void *data, size_t size)
{
        _cleanup_free_ char *tmp = NULL;
        int r = 0;

        if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, 0644) < 0)
                r = -errno;
        for (const char *p = data; r == 0 && size > 0;) {
                ssize_t n = write(fd, p, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        r = -errno;
                else {
                        p += n;
                        size -= (size_t)n;
                }
        }
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

int image_check_header(const void *data, size_t size, const ImageLimits *limits, char **ret_reason)
{
        ImageLimits lim = limits ? *limits : IMAGE_LIMITS_DEFAULT;
        int r;

        r = images_init();
        if (r < 0)
                return set_reason(ret_reason, r, "The image library could not start.");
        if (size == 0 || !data)
                return set_reason(ret_reason, -EMEDIUMTYPE, "The file is empty.");
        if ((uint64_t)size > lim.max_bytes)
                return set_reason(ret_reason, -EFBIG,
                                  "The file is %zu bytes, over the limit of %" PRIu64 " bytes.", size,
                                  lim.max_bytes);
        ImageType type = image_sniff(data, size);
        if (type < 0)
                return set_reason(ret_reason, -EMEDIUMTYPE,
                                  "The file is not a JPEG, PNG, GIF or WebP image.");

        /* Only the header is parsed here: decoding waits until the declared size
         * is known to be sane, so a tiny file claiming 60000×60000 costs nothing. */
        _cleanup_vips_ VipsImage *hdr =
                vips_image_new_from_buffer(data, size, "", "fail_on", VIPS_FAIL_ON_ERROR, NULL);
        if (!hdr)
                return take_vips_reason(ret_reason, -EBADMSG, "Cannot read the image header");
        uint64_t w = (uint64_t)vips_image_get_width(hdr), h = (uint64_t)vips_image_get_height(hdr);
        if (w == 0 || h == 0)
                return set_reason(ret_reason, -EBADMSG, "The %s declares no pixels.",
                                  image_type_display(type));
        if (w * h > lim.max_pixels)
                return set_reason(ret_reason, -EFBIG,
                                  "The %s declares %" PRIu64 "×%" PRIu64
                                  " pixels, over the limit of %" PRIu64 ".",
                                  image_type_display(type), w, h, lim.max_pixels);
        return 0;
}

int image_read_fd(int fd, const ImageLimits *limits, void **ret_data, size_t *ret_size, char **ret_reason)
{
        ImageLimits lim = limits ? *limits : IMAGE_LIMITS_DEFAULT;
        struct stat st;
        int r;

        if (fstat(fd, &st) < 0)
                return set_reason(ret_reason, -errno, "Cannot read the file: %s", strerror(errno));
        /* a FIFO, a socket or a device could block a worker forever or never end */
        if (!S_ISREG(st.st_mode))
                return set_reason(ret_reason, -EBADF, "The file is not a regular file.");
        if ((uint64_t)st.st_size > lim.max_bytes)
                return set_reason(ret_reason, -EFBIG,
                                  "The file is %" PRIu64 " bytes, over the limit of %" PRIu64 " bytes.",
                                  (uint64_t)st.st_size, lim.max_bytes);
        size_t cap = (size_t)st.st_size + 1, have = 0;
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf)
                return set_reason(ret_reason, -ENOMEM, "Out of memory.");
        /* from the start, whatever the descriptor's offset; one byte more than
         * fstat said shows a file that grows while it is read */
        for (;;) {
                ssize_t n = pread(fd, buf + have, cap - have, (off_t)have);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return set_reason(ret_reason, -errno, "Cannot read the file: %s", strerror(errno));
                if (n == 0)
                        break;
                have += (size_t)n;
                if (have == cap)
                        return set_reason(ret_reason, -EFBIG, "The file grew while it was read.");
        }
        r = image_check_header(buf, have, &lim, ret_reason);
        if (r < 0)
                return r;
        *ret_data = TAKE_PTR(buf);
        *ret_size = have;
        return 0;
}

int image_crop_square(const void *data, size_t size, unsigned out_size, CropMode mode,
                      const ImageLimits *limits, const char *out_path, char **ret_reason)
{
        ImageLimits lim = limits ? *limits : IMAGE_LIMITS_DEFAULT;
        int r;

        if (isempty(out_path) || (!data && size > 0) || out_size < IMAGE_SIZE_MIN ||
            out_size > IMAGE_SIZE_MAX || mode < 0 || mode >= _CROP_MODE_MAX)
                return set_reason(ret_reason, -EINVAL, "Invalid crop request (size %u).", out_size);
        r = image_check_header(data, size, &lim, ret_reason);
        if (r < 0)
                return r;

        _cleanup_vips_ VipsImage *thumb = NULL, *out = NULL;
        /* Shrink-on-load makes this cheap for JPEG samples. fail_on turns a
         * truncated or corrupt file into an error instead of grey pixels: libjpeg
         * reports a truncated file only as a WARNING ("Premature end of JPEG
         * file"), so anything short of a clean decode fails. libvips 8.14 ignores
         * thumbnail's own fail_on for buffers: the loader gets it directly. */
        if (vips_thumbnail_buffer((void *)data, size, &thumb, (int)out_size, "height", (int)out_size, "crop",
                                  mode == CROP_ATTENTION ? VIPS_INTERESTING_ATTENTION
                                                         : VIPS_INTERESTING_CENTRE,
                                  "option_string", "fail_on=warning", NULL) < 0)
                return take_vips_reason(ret_reason, -EBADMSG, "Cannot decode the image");
        r = to_srgb_opaque(thumb, &out);
        if (r < 0)
                return take_vips_reason(ret_reason, r, "Cannot convert the image to RGB");

        /* Decoding happens here, lazily: errors in the pixel data surface now. */
        _cleanup_(g_freep) void *jpeg = NULL;
        size_t jpeg_size = 0;
        if (vips_jpegsave_buffer(out, &jpeg, &jpeg_size, "Q", 90, "strip", TRUE, NULL) < 0)
                return take_vips_reason(ret_reason, -EBADMSG, "Cannot decode the image");
        if (vips_image_get_width(out) != (int)out_size || vips_image_get_height(out) != (int)out_size)
                return set_reason(ret_reason, -EIO, "The crop came out %d×%d instead of %u×%u.",
                                  vips_image_get_width(out), vips_image_get_height(out), out_size, out_size);

        r = write_crop(out_path, jpeg, jpeg_size);
        /* to callers -EFBIG means "the image is too big"; a file size limit on
         * our own output is a problem of the disk, worth another try */
        if (r == -EFBIG)
                r = -EIO;
        if (r < 0)
                return set_reason(ret_reason, r, "Cannot write \"%s\": %s", out_path, strerror(-r));
        return 0;
}

int image_crop_square_file(const char *in_path, unsigned out_size, CropMode mode, const ImageLimits *limits,
                           const char *out_path, char **ret_reason)
{
        _cleanup_free_ void *data = NULL;
        size_t size = 0;
        int r;

        /* O_NONBLOCK: opening a FIFO must not wait for a writer (image_read_fd
         * refuses anything but a regular file) */
        _cleanup_close_ int fd = open(in_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return set_reason(ret_reason, -errno, "Cannot read \"%s\": %s", in_path, strerror(errno));
        r = image_read_fd(fd, limits, &data, &size, ret_reason);
        if (r < 0)
                return r;
        return image_crop_square(data, size, out_size, mode, limits, out_path, ret_reason);
}

int image_check_crop(const char *path, unsigned size)
{
        unsigned char magic[3];
        int r;

        if (isempty(path))
                return -EINVAL;
        r = images_init();
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? -ENOENT : -EBADMSG;
        if (read(fd, magic, sizeof magic) != (ssize_t)sizeof magic ||
            image_sniff(magic, sizeof magic) != IMAGE_TYPE_JPEG)
                return -EBADMSG;
        _cleanup_vips_ VipsImage *img = vips_image_new_from_file(path, "fail_on", VIPS_FAIL_ON_ERROR, NULL);
        if (!img) {
                vips_error_clear();
                return -EBADMSG;
        }
        if (vips_image_get_width(img) != (int)size || vips_image_get_height(img) != (int)size)
                return -EBADMSG;
        return 0;
}

static bool is_crop_temporary(const char *name)
{
        /* "<md5>.jpg.tmp.XXXXXX", as mkostemp() fills the X's */
        if (strlen(name) != 32 + strlen(".jpg.tmp.") + 6 || !strneq(name + 32, ".jpg.tmp.", 9))
                return false;
        char md5[33];
        memcpy(md5, name, 32);
        md5[32] = 0;
        if (!is_hex_digest(md5, 32))
                return false;
        for (const char *c = name + 41; *c; c++)
                if (!isalnum((unsigned char)*c))
                        return false;
        return true;
}

int images_remove_temporaries(const char *dir)
{
        int n = 0;

        if (isempty(dir))
                return -EINVAL;
        DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        for (struct dirent *de; (de = readdir(d));) {
                if (!is_crop_temporary(de->d_name))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) == 0)
                        n++;
                else if (errno != ENOENT) {
                        int r = -errno;
                        (void)closedir(d);
                        return r;
                }
        }
        (void)closedir(d);
        return n;
}

bool image_error_is_transient(int r)
{
        if (r >= 0)
                return false;
        /* the data's own fault: trying again gives the same answer */
        return !(r == -EBADMSG || r == -EFBIG || r == -EMEDIUMTYPE || r == -EINVAL);
}

int image_path_for_md5(const char *dir, const char *md5, char **ret)
{
        if (isempty(dir) || !is_hex_digest(md5, 32))
                return -EINVAL;
        char *p;
        if (asprintf(&p, "%s/%s.jpg", dir, md5) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}
