/* SPDX-License-Identifier: MIT */
#include "core/context.h"
#include "embed/embed.h"
#include "services/backbone.h"
#include "work/work.h"
#include "fluff/text.h"

typedef struct Classify {
        BackboneService *service; /* borrowed */
        BbHandle *handle;         /* owned reference */
        char *path;               /* owned */
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
        free(c);
}

static int classify_run(void *userdata)
{
        Classify *c = userdata;
        const char *paths[] = {c->path};
        return backbone_service_run(c->service, c->handle, paths, 1, NULL, c->probs, &c->status);
}

static void on_classified(void *userdata, int r)
{
        Classify *c = userdata;
        char m[ERROR_MESSAGE_MAX];

        backbone_service_used(c->service);
        if (r >= 0 && c->status < 0) {
                (void)snprintf(m, sizeof(m), "Failed to read \"%.*s\" as an image: %s",
                               (int)utf8_prefix_len(c->path, 256), c->path, strerror(-c->status));
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

int embed_classify(Embed *embed, const char *path, EmbedClassifyDone done, void (*destroy)(void *userdata),
                   void *userdata, Error *error)
{
        Classify *c;
        int r;

        if (!embed->backbone->current)
                return error_setf(error, -ENOMEDIUM, BACKBONE_NO_MODEL_HINT);
        c = calloc(1, sizeof(Classify));
        if (!c)
                return error_set_errno(error, -ENOMEM);
        c->service = embed->backbone;
        c->handle = bb_handle_ref(embed->backbone->current);
        c->path = strdup(path);
        if (!c->path) {
                classify_free(c);
                return error_set_errno(error, -ENOMEM);
        }
        c->done = done;
        c->destroy = destroy;
        c->userdata = userdata;
        /* Owned by the service: a request outlives no daemon, and the pool
         * drops or finishes it before the service goes. */
        r = work_pool_submit(embed->ctx->work, embed->backbone, classify_run, on_classified, classify_free,
                             c);
        if (r < 0) {
                c->destroy = NULL; /* the caller keeps userdata on failure */
                classify_free(c);
                return error_set_errno(error, r);
        }
        return 0;
}
