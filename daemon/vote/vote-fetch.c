/* SPDX-License-Identifier: MIT */
/* A vote on a post Fluff has not seen: the post is fetched from the site
 * once (GET /posts/<id>.json), stored as a sync would store it, then voted
 * on as any other. Its image comes with the next sync. */
#include <inttypes.h>

#include "core/session.h"
#include "e621.h"
#include "post.h"
#include "store.h"
#include "vote/vote.h"

typedef struct VoteFetch {
        Voter voter;
        uint64_t post_id;
        int score;
        VoteFetchDone done;
        void *userdata;
} VoteFetch;

static void on_post(int error, const char *message, E621PostList *list, void *userdata)
{
        VoteFetch *f = userdata;
        Error e = {};
        int r = error;

        if (r == -ENOENT ||
            (r >= 0 && (!list || list->n_posts == 0 || !list->posts[0] || list->posts[0]->id != f->post_id)))
                r = error_setf(&e, -ENOENT, "Post %" PRIu64 " is not on %s.", f->post_id, f->voter.site);
        else if (r < 0)
                r = error_setf(&e, r, "Failed to fetch post %" PRIu64 " from the site: %s", f->post_id,
                               strempty(message));
        else if (list->posts[0]->deleted)
                r = error_setf(&e, -ENOENT, "Post %" PRIu64 " was deleted from the site: it takes no votes.",
                               f->post_id);
        else {
                Error db = {};
                r = store_post_upsert(f->voter.store, list->posts[0], &db);
                if (r < 0)
                        r = error_setf(&e, r, "Failed to store post %" PRIu64 ": %s", f->post_id,
                                       error_message(&db, r));
        }
        if (r >= 0) {
                log_info("Fetched post %" PRIu64 " from the site for a vote.", f->post_id);
                r = vote_record(&f->voter, f->post_id, f->score, &e);
        }
        f->done(r, &e, f->userdata);
        free(f);
}

int vote_record_any(const Voter *v, uint64_t post_id, int score, VoteFetchDone done, void *userdata,
                    Error *error)
{
        VoteFetch *f;
        int r;

        /* known, or nothing to fetch for: as before */
        if (store_post_exists(v->store, post_id) || score == 0 || !session_logged_in(v->session)) {
                r = vote_record(v, post_id, score, error);
                return r < 0 ? r : 0;
        }
        f = calloc(1, sizeof(VoteFetch));
        if (!f)
                return error_set_errno(error, -ENOMEM);
        *f = (VoteFetch){
                .voter = *v, .post_id = post_id, .score = score, .done = done, .userdata = userdata};
        r = e621_get_post(v->e621, post_id, on_post, f, NULL);
        if (r < 0) {
                free(f);
                return error_setf(error, r, "Failed to ask the site for post %" PRIu64 ": %s", post_id,
                                  strerror(-r));
        }
        return 1;
}
