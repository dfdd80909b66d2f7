/* SPDX-License-Identifier: MIT */
/* The order Predict and the watches list posts in (predict-artists.c): best
 * score first, at most artist_cap posts of one artist before the others had
 * their turn, the site's placeholder "artists" never holding a post back,
 * nothing dropped, cap 0 plain score order. */
#include "post.h"
#include "predict/predict.h"
#include "tests.h"

static Post *post(uint64_t id, const char *artist, const char *artist2)
{
        Post *p = calloc(1, sizeof(Post));
        ASSERT_TRUE(p);
        p->id = id;
        ASSERT_OK(post_add_tag(p, "solo", "general"));
        if (artist)
                ASSERT_OK(post_add_tag(p, artist, "artist"));
        if (artist2)
                ASSERT_OK(post_add_tag(p, artist2, "artist"));
        return p;
}

TEST(one_artist_does_not_flood_the_list)
{
        /* scores 0.9…0.1: "ann" drew the four best, "bob" the next two; post 6
         * has no artist, post 7 only the placeholder, post 8 is ann and cy */
        Post *posts[9] = {post(1, "ann", NULL), post(2, "ann", NULL),
                          post(3, "ann", NULL), post(4, "ann", NULL),
                          post(5, "bob", NULL), post(6, "bob", NULL),
                          post(7, NULL, NULL),  post(8, "unknown_artist", NULL),
                          post(9, "ann", "cy")};
        float scores[9] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f, 0.3f, 0.2f, 0.1f};
        uint32_t order[9];

        ASSERT_OK(predict_artist_order(posts, scores, 9, 2, order));
        /* ann twice, bob twice, the two without a real artist; then the
         * held back, best first (post 9 waits for ann, though cy is new) */
        uint32_t want[] = {0, 1, 4, 5, 6, 7, 2, 3, 8};
        for (int i = 0; i < 9; i++)
                ASSERT_EQ(order[i], want[i]);

        ASSERT_OK(predict_artist_order(posts, scores, 9, 1, order));
        uint32_t want1[] = {0, 4, 6, 7, 1, 2, 3, 5, 8};
        for (int i = 0; i < 9; i++)
                ASSERT_EQ(order[i], want1[i]);

        /* off: score order */
        ASSERT_OK(predict_artist_order(posts, scores, 9, 0, order));
        for (uint32_t i = 0; i < 9; i++)
                ASSERT_EQ(order[i], i);

        /* an empty list */
        ASSERT_OK(predict_artist_order(posts, scores, 0, 3, order));
        for (int i = 0; i < 9; i++)
                post_free(posts[i]);
}

TEST_MAIN()
