/* SPDX-License-Identifier: MIT */
/* The memory caps of issue 16. The training's budget (train/budget.h): however large config
 * train_image_posts is and however many posts are labelled, the image rows
 * a training holds and the fine-tuning views beside them stay within
 * TRAIN_DATA_BUDGET; the defaults keep their meaning (10,000 posts fit, so
 * the configured number is what holds them); the CNN's row size is the
 * architecture's. The train job sizes its reading and ft_prepare() from
 * these; test-finetune-views checks that the views keep to the bytes they
 * are given. */
#include "backbone.h"
#include "cnn.h"
#include "config.h"
#include "finetune/views.h"
#include "services/backbone.h"
#include "tests.h"
#include "train/budget.h"
#include "train/train-cnn.h"

/* fine-tuning's bytes per post and view: the layer's input as half floats
 * (MobileNetV2's Conv_1: 7×7×320) and every feature set */
#define VIEW_BYTES ((size_t)7 * 7 * 320 * 2 + BACKBONE_EMBED_DIM * sizeof(float))

/* The bytes a training holds for n image posts among n_posts labelled. */
static size_t held(size_t n, size_t n_posts, size_t row)
{
        return n_posts * TRAIN_TAG_POST_BYTES + n * (row + TRAIN_POST_BYTES);
}

static void check_rows(size_t row, bool default_fits)
{
        static const unsigned configured[] = {100, CONFIG_TRAIN_IMAGE_POSTS_DEFAULT, 50000, 1000000};
        static const size_t posts[] = {0, 1000, 12000, 100000};

        for (size_t i = 0; i < ELEMENTSOF(configured); i++)
                for (size_t p = 0; p < ELEMENTSOF(posts); p++) {
                        size_t n = train_budget_image_posts(configured[i], row, posts[p]);
                        ASSERT_TRUE(n <= configured[i]);
                        /* every post's tags and the image rows within the budget */
                        ASSERT_TRUE(held(n, posts[p], row) <= TRAIN_DATA_BUDGET);
                        /* the views get what the rows and tags leave, never more */
                        ASSERT_TRUE(held(n, posts[p], row) + train_budget_views(n, row, posts[p]) <=
                                    TRAIN_DATA_BUDGET);
                }
        /* with a backbone the default is what a training holds: the budget is
         * not a second, lower default (the CNN's larger crops hold fewer) */
        if (default_fits)
                ASSERT_EQ(train_budget_image_posts(CONFIG_TRAIN_IMAGE_POSTS_DEFAULT, row,
                                                   CONFIG_TRAIN_IMAGE_POSTS_DEFAULT),
                          (size_t)CONFIG_TRAIN_IMAGE_POSTS_DEFAULT);
        ASSERT_EQ(train_budget_image_posts(100, row, 100), (size_t)100);
        /* a huge configured number stops at the budget, not near the configured one */
        ASSERT_TRUE(train_budget_image_posts(1000000, row, 0) < 20000);
        /* 100,000 posts (issue 16): their tags fit beside a real image tower */
        ASSERT_TRUE(train_budget_image_posts(CONFIG_TRAIN_IMAGE_POSTS_DEFAULT, row, 100000) >= 2000);
        /* more posts never give the images more */
        for (size_t n = 0; n < 200000; n += 5000)
                ASSERT_TRUE(train_budget_image_posts(1000000, row, n + 5000) <=
                            train_budget_image_posts(1000000, row, n));
        /* past what the budget holds of tags, a floor of image rows stays (said in budget.h) */
        ASSERT_EQ(train_budget_image_posts(1000000, row, 10000000), (size_t)TRAIN_BUDGET_IMAGE_POSTS_MIN);
        ASSERT_EQ(train_budget_views(TRAIN_BUDGET_IMAGE_POSTS_MIN, row, 10000000), (size_t)0);
}

TEST(backbone_rows)
{
        /* held as half floats (rows.h): half the float embedding */
        ASSERT_EQ(TRAIN_IMAGE_ROW_BYTES, BACKBONE_EMBED_DIM * sizeof(float) / 2);
        check_rows(TRAIN_IMAGE_ROW_BYTES, true);
}

TEST(cnn_rows)
{
        CnnArch a = CNN_ARCH_DEFAULT;
        ASSERT_EQ(TRAIN_CNN_ROW_BYTES,
                  (size_t)a.stored * a.stored * 3 + (CNN_HEAD_DIM + 1) * sizeof(float) + 1);
        check_rows(TRAIN_CNN_ROW_BYTES, false);
}

TEST(views)
{
        size_t row = TRAIN_IMAGE_ROW_BYTES;

        /* more rows than the budget holds: nothing left for views */
        ASSERT_EQ(train_budget_views(1000000, row, 1000000), (size_t)0);
        /* a thousand posts: room for the plain views */
        ASSERT_TRUE(train_budget_views(1000, row, 1000) >= 1000 * VIEW_BYTES);
        /* at the default one plain round does not fit: no fine-tuning, by design */
        ASSERT_TRUE(
                train_budget_views(CONFIG_TRAIN_IMAGE_POSTS_DEFAULT, row, CONFIG_TRAIN_IMAGE_POSTS_DEFAULT) <
                CONFIG_TRAIN_IMAGE_POSTS_DEFAULT * VIEW_BYTES);
        /* monotone: more rows or more posts never leave the views more */
        for (size_t n = 0; n < 20000; n += 500) {
                ASSERT_TRUE(train_budget_views(n + 500, row, 20000) <= train_budget_views(n, row, 20000));
                ASSERT_TRUE(train_budget_views(1000, row, n + 500) <= train_budget_views(1000, row, n));
        }
}

/* The embedding's forward pass on a CPU device: its batch shrinks to the
 * budget, a GPU's does not (its memory is not fluffd's). */
TEST(forward_batch)
{
        /* MobileNetV2's bytes an image, as test-backbone-vk measures them: its 16 stay */
        uint64_t mobilenet = (uint64_t)8400 << 10;
        ASSERT_EQ(backbone_service_batch(16 * mobilenet, 16, true), 16u);

        /* an image twice as large: as many as fit, no fewer */
        uint64_t per_image = 2 * mobilenet;
        uint32_t b = backbone_service_batch(16 * per_image, 16, true);
        ASSERT_TRUE(b >= 1 && b < 16);
        ASSERT_TRUE(b * per_image <= BACKBONE_FORWARD_HOST_BYTES);
        ASSERT_TRUE((b + 1) * per_image > BACKBONE_FORWARD_HOST_BYTES);
        ASSERT_EQ(backbone_service_batch(16 * per_image, 16, false), 16u);
        ASSERT_EQ(backbone_service_batch(UINT64_C(1) << 40, 16, true), 1u);
}

TEST_MAIN()
