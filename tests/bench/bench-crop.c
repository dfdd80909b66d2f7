/* SPDX-License-Identifier: MIT */
/* The daemon's crop path over many files, for tests/bench/bench-crop.py.
 *
 *   bench-crop gen DIR N              writes N photo-like JPEGs, 850 px wide
 *   bench-crop run OUTDIR THREADS SIZE FILE...
 *                                     crops every FILE with image_crop_square()
 *                                     on THREADS worker threads (reading each
 *                                     file inside the timed region, as the
 *                                     daemon gets bytes, and writing through
 *                                     the same fsync + rename); prints JSON */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "fluff/util.h"
#include "images.h"

#include <vips/vips.h>

static int gen(const char *dir, int n)
{
        if (mkdir_parents(dir, 0755) < 0)
                return 1;
        for (int i = 0; i < n; i++) {
                int w = 850, h = 600 + (i * 37) % 700;
                VipsImage *xyz, *x, *y, *noise, *a, *b, *c, *img, *u;
                /* smooth waves plus mild noise: decodes like a drawing or a photo,
                 * not like pure noise (which would make every codec look slow) */
                if (vips_xyz(&xyz, w, h, NULL) || vips_extract_band(xyz, &x, 0, NULL) ||
                    vips_extract_band(xyz, &y, 1, NULL) ||
                    vips_gaussnoise(&noise, w, h, "sigma", 8.0, "mean", 0.0, NULL))
                        return 1;
                double f = 0.01 + 0.002 * (i % 11);
                VipsImage *sx, *sy, *ax, *ay;
                if (vips_linear1(x, &ax, f * 57.3, i * 3.0, NULL) ||
                    vips_linear1(y, &ay, f * 40.0, 0, NULL) || vips_sin(ax, &sx, NULL) ||
                    vips_cos(ay, &sy, NULL))
                        return 1;
                if (vips_linear1(sx, &a, 100, 128, NULL) || vips_linear1(sy, &b, 90, 120, NULL) ||
                    vips_add(a, noise, &c, NULL))
                        return 1;
                VipsImage *bands[3] = { c, b, a };
                if (vips_bandjoin(bands, &img, 3, NULL) || vips_cast_uchar(img, &u, NULL))
                        return 1;
                VipsImage *srgb;
                if (vips_copy(u, &srgb, "interpretation", VIPS_INTERPRETATION_sRGB, NULL))
                        return 1;
                char path[4096];
                snprintf(path, sizeof path, "%s/%04d.jpg", dir, i);
                if (vips_jpegsave(srgb, path, "Q", 85, NULL))
                        return 1;
                VipsImage *all[] = { xyz, x, y, noise, a, b, c, img, u, sx, sy, ax, ay, srgb };
                for (size_t k = 0; k < ELEMENTSOF(all); k++)
                        g_object_unref(all[k]);
        }
        return 0;
}

typedef struct Bench {
        char **files;
        int n_files;
        const char *outdir;
        unsigned size;
        atomic_int next;
        atomic_int failed;
} Bench;

static void *worker(void *arg)
{
        Bench *b = arg;
        for (int i; (i = atomic_fetch_add(&b->next, 1)) < b->n_files;) {
                _cleanup_free_ char *data = NULL, *out = NULL, *reason = NULL;
                size_t size;
                const char *base = strrchr(b->files[i], '/');
                base = base ? base + 1 : b->files[i];
                if (asprintf(&out, "%s/%s", b->outdir, base) < 0 ||
                    read_file_full(b->files[i], 64 << 20, &data, &size) < 0 ||
                    image_crop_square(data, size, b->size, CROP_CENTRE, NULL, out, &reason) < 0) {
                        fprintf(stderr, "%s: %s\n", b->files[i], reason ? reason : "failed");
                        atomic_fetch_add(&b->failed, 1);
                }
        }
        images_thread_exit();
        return NULL;
}

int main(int argc, char *argv[])
{
        if (images_init() < 0)
                return 1;
        if (argc == 4 && streq(argv[1], "gen"))
                return gen(argv[2], atoi(argv[3]));
        if (argc < 6 || !streq(argv[1], "run")) {
                fprintf(stderr, "usage: %s gen DIR N | run OUTDIR THREADS SIZE FILE...\n", argv[0]);
                return 2;
        }
        int threads = CLAMP(atoi(argv[3]), 1, 64);
        Bench b = {
                .files = argv + 5, .n_files = argc - 5, .outdir = argv[2], .size = (unsigned)atoi(argv[4])
        };
        pthread_t t[64];
        if (mkdir_parents(b.outdir, 0755) < 0)
                return 1;

        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        for (int i = 0; i < threads; i++)
                if (pthread_create(&t[i], NULL, worker, &b) != 0)
                        return 1;
        for (int i = 0; i < threads; i++)
                (void)pthread_join(t[i], NULL);
        double s = (double)(now_usec(CLOCK_MONOTONIC) - t0) / 1e6;
        printf("{\"images\": %d, \"failed\": %d, \"threads\": %d, \"seconds\": %.3f, \"images_per_s\": "
               "%.2f}\n",
               b.n_files, atomic_load(&b.failed), threads, s, b.n_files / s);
        return atomic_load(&b.failed) ? 1 : 0;
}
