/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <sys/stat.h>

#include "core/context.h"
#include "embed/embed.h"
#include "services/backbone.h"
#include "work/work.h"
#include "fluff/text.h"

typedef struct Classify {
        BackboneService *service; /* borrowed */
        BbHandle *handle;         /* owned reference */
        char *path;               /* owned: what the worker opens */
        char *name;               /* owned: what messages call it */
        int fd;                   /* owned, or -EBADF: a caller's file (path is /proc/self/fd/N) */
        float probs[BACKBONE_N_CLASSES];
        int status;
        EmbedClassifyDone done;
        void (*destroy)(void *userdata);
        void *userdata;
} Classify;

static void classify_free(void *userdata)
{
        Classify *c = userdata;
        if (c->destroy)
                c->destroy(c->userdata);
        bb_handle_unref(c->handle);
        free(c->path);
        free(c->name);
        if (c->fd >= 0)
                (void)close(c->fd);
        free(c);
}

static int classify_run(void *userdata)
{
        Classify *c = userdata;
        const char *paths[] = {c->path};
        return backbone_service_run(c->service, c->handle, paths, 1, NULL, c->probs, &c->status);
}

/* What went wrong with the image, as the end of a sentence: the errnos the
 * image intake returns (images.h) read badly as strerror() ("Bad message",
 * "Wrong medium type"). NULL for anything else. */
static const char *image_problem(int r)
{
        switch (r) {
        case -EMEDIUMTYPE:
                return "is not a JPEG, PNG, GIF or WebP image";
        case -EBADMSG:
                return "is damaged or not an image that can be decoded";
        case -EFBIG:
                return "is larger than an image may be (bytes or pixels)";
        case -EBADF:
                return "is not a regular file";
        case -ENOENT:
                return "does not exist";
        default:
                return NULL;
        }
}

static void on_classified(void *userdata, int r)
{
        Classify *c = userdata;
        char m[ERROR_MESSAGE_MAX];

        backbone_service_used(c->service);
        if (r >= 0 && c->status < 0) {
                const char *problem = image_problem(c->status);
                int n = (int)utf8_prefix_len(c->name, 256);
                if (c->fd >= 0 && problem) /* the caller knows its name; we do not */
                        (void)snprintf(m, sizeof(m), "The file %s.", problem);
                else if (problem)
                        (void)snprintf(m, sizeof(m), "\"%.*s\" %s.", n, c->name, problem);
                else
                        (void)snprintf(m, sizeof(m), "Failed to read \"%.*s\" as an image: %s", n, c->name,
                                       strerror(-c->status));
                c->done(c->userdata, -EINVAL, m, NULL);
                return;
        }
        if (r < 0) {
                (void)snprintf(m, sizeof(m), "Failed to run the backbone: %s", strerror(-r));
                c->done(c->userdata, r, m, NULL);
                return;
        }
        c->done(c->userdata, 0, NULL, c->probs);
}

/* Takes fd (closed also on failure). */
static int classify_start(Embed *embed, const char *path, const char *name, int fd, EmbedClassifyDone done,
                          void (*destroy)(void *userdata), void *userdata, Error *error)
{
        Classify *c;
        int r;

        if (!embed->backbone->current) {
                if (fd >= 0)
                        (void)close(fd);
                return error_setf(error, -ENOMEDIUM, BACKBONE_NO_MODEL_HINT);
        }
        c = calloc(1, sizeof(Classify));
        if (!c) {
                if (fd >= 0)
                        (void)close(fd);
                return error_set_errno(error, -ENOMEM);
        }
        c->fd = fd;
        c->service = embed->backbone;
        c->handle = bb_handle_ref(embed->backbone->current);
        c->path = strdup(path);
        c->name = strdup(name);
        if (!c->path || !c->name) {
                classify_free(c);
                return error_set_errno(error, -ENOMEM);
        }
        c->done = done;
        c->destroy = destroy;
        c->userdata = userdata;
        /* Owned by the service: a request outlives no daemon, and the pool
         * drops or finishes it before the service goes. */
        r = work_pool_submit(embed->work, embed->backbone, classify_run, on_classified, classify_free, c);
        if (r < 0) {
                c->destroy = NULL; /* the caller keeps userdata on failure */
                classify_free(c);
                return error_set_errno(error, r);
        }
        return 0;
}

int embed_classify(Embed *embed, const char *path, EmbedClassifyDone done, void (*destroy)(void *userdata),
                   void *userdata, Error *error)
{
        return classify_start(embed, path, path, -EBADF, done, destroy, userdata, error);
}

int embed_classify_fd(Embed *embed, int fd, EmbedClassifyDone done, void (*destroy)(void *userdata),
                      void *userdata, Error *error)
{
        struct stat st;
        char path[64];

        /* our own copy: the bus message's descriptor goes with the message */
        int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return error_set_errno(error, -errno);
        /* checked now, so a FIFO or a device never reaches a worker */
        if (fstat(copy, &st) < 0 || !S_ISREG(st.st_mode)) {
                (void)close(copy);
                return error_setf(error, -EINVAL, "The file given is not a regular file.");
        }
        /* the worker reads it as any image file, from its start, through
         * image_read_fd's limits; /proc/self/fd names this very file */
        (void)snprintf(path, sizeof path, "/proc/self/fd/%d", copy);
        return classify_start(embed, path, "the file given", copy, done, destroy, userdata, error);
}
