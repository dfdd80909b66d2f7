/* SPDX-License-Identifier: MIT */
/* Image preprocessing for the backbone with real libvips on real files: a JPEG
 * of any aspect ratio becomes 224×224 RGB in [0, 1] from its centre square;
 * what must survive bad input: truncated, empty, non-image and missing files
 * give an error, never a crash or garbage pixels. */
#include <fcntl.h>
#include <sys/stat.h>

#include "backbone.h"
#include "tests.h"

static char *dir;

static char *path_of(const char *name)
{
        char *p;
        ASSERT_TRUE(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static void sh(const char *cmd)
{
        if (system(cmd) != 0)
                TEST_FAIL("Command failed: %s", cmd);
}

TEST(centre_square)
{
        _cleanup_free_ char *cmd = NULL, *jpg = NULL;
        _cleanup_free_ float *px = malloc(BACKBONE_INPUT_FLOATS * sizeof(float));
        _cleanup_free_ uint8_t *rgb = malloc(BACKBONE_INPUT_FLOATS);

        dir = test_tmpdir();
        jpg = path_of("wide.jpg");
        /* 900×300: a red left third, green middle third, blue right third */
        ASSERT_TRUE(
                asprintf(&cmd,
                         "cd '%s' && vips black r.v 300 300 --bands 3 && vips linear r.v red.v '1 1 1' '230 "
                         "20 20' "
                         "&& vips linear r.v green.v '1 1 1' '20 230 20' && vips linear r.v blue.v '1 1 1' "
                         "'20 20 230' && vips arrayjoin 'red.v green.v blue.v' row.v && vips cast row.v "
                         "wide.jpg "
                         "uchar",
                         dir) > 0);
        sh(cmd);
        ASSERT_OK(backbone_image_load(jpg, px));
        ASSERT_OK(backbone_image_load_rgb8(jpg, rgb));
        for (size_t i = 0; i < BACKBONE_INPUT_FLOATS; i++) {
                ASSERT_TRUE(px[i] >= 0 && px[i] <= 1);
                ASSERT_NEAR(px[i], rgb[i] / 255.0, 1e-7);
        }
        /* the centre crop is the green square */
        size_t mid = (112 * 224 + 112) * 3;
        ASSERT_TRUE(rgb[mid + 1] > 200 && rgb[mid] < 50 && rgb[mid + 2] < 50);
}

TEST(bad_files)
{
        _cleanup_free_ char *cmd = NULL, *cut = NULL, *empty = NULL, *text = NULL, *missing = NULL;
        _cleanup_free_ float *px = malloc(BACKBONE_INPUT_FLOATS * sizeof(float));

        ASSERT_TRUE(asprintf(&cmd,
                             "cd '%s' && vips gaussnoise n.v 800 800 && vips cast n.v noise.jpg uchar && "
                             "head -c 3000 "
                             "noise.jpg > cut.jpg && : > empty.jpg && echo 'not a picture' > text.jpg",
                             dir) > 0);
        sh(cmd);
        cut = path_of("cut.jpg");
        empty = path_of("empty.jpg");
        text = path_of("text.jpg");
        missing = path_of("missing.jpg");
        ASSERT_TRUE(backbone_image_load(cut, px) < 0);
        ASSERT_TRUE(backbone_image_load(empty, px) < 0);
        ASSERT_TRUE(backbone_image_load(text, px) < 0);
        ASSERT_TRUE(backbone_image_load(missing, px) < 0);

        /* a FIFO (issue 15): refused at once, never waited on; the same for a
         * descriptor of one */
        _cleanup_free_ char *fifo = path_of("fifo.jpg");
        ASSERT_OK(mkfifo(fifo, 0600));
        alarm(20);
        ASSERT_TRUE(backbone_image_load(fifo, px) < 0);
        int fd = open(fifo, O_RDWR | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        _cleanup_free_ char *reason = NULL;
        ASSERT_ERROR(backbone_image_load_fd(fd, px, &reason), EBADF);
        ASSERT_TRUE(strstr(reason, "not a regular file"));
        close(fd);
        alarm(0);
        /* a descriptor of a real image, read from its start whatever its offset */
        _cleanup_free_ char *noise = path_of("noise.jpg");
        fd = open(noise, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0 && lseek(fd, 100, SEEK_SET) == 100);
        ASSERT_OK(backbone_image_load_fd(fd, px, NULL));
        close(fd);

        free(cmd);
        ASSERT_TRUE(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
        sh(cmd);
}

TEST_MAIN()
