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

static void check_rows(size_t row)
{
        static const unsigned configured[] = {100, CONFIG_TRAIN_IMAGE_POSTS_DEFAULT, 50000, 1000000};

        for (size_t i = 0; i < ELEMENTSOF(configured); i++) {
                size_t n = train_budget_image_posts(configured[i], row);
                ASSERT_TRUE(n <= configured[i]);
                ASSERT_TRUE(n * (row + TRAIN_POST_BYTES) <= TRAIN_DATA_BUDGET);
                /* the views get what the rows leave, never more */
                ASSERT_TRUE(n * (row + TRAIN_POST_BYTES) + train_budget_views(n, row) <= TRAIN_DATA_BUDGET);
        }
        /* the default is what a training holds: the budget is not a second, lower default */
        ASSERT_EQ(train_budget_image_posts(CONFIG_TRAIN_IMAGE_POSTS_DEFAULT, row),
                  (size_t)CONFIG_TRAIN_IMAGE_POSTS_DEFAULT);
        ASSERT_EQ(train_budget_image_posts(100, row), (size_t)100);
        /* a huge configured number stops at the budget, not near the configured one */
        ASSERT_TRUE(train_budget_image_posts(1000000, row) < 20000);
}

TEST(backbone_rows)
{
        /* held as half floats (rows.h): half the float embedding */
        ASSERT_EQ(TRAIN_IMAGE_ROW_BYTES, BACKBONE_EMBED_DIM * sizeof(float) / 2);
        check_rows(TRAIN_IMAGE_ROW_BYTES);
}

TEST(cnn_rows)
{
        CnnArch a = CNN_ARCH_DEFAULT;
        ASSERT_EQ(TRAIN_CNN_ROW_BYTES,
                  (size_t)a.stored * a.stored * 3 + (CNN_HEAD_DIM + 1) * sizeof(float) + 1);
        check_rows(TRAIN_CNN_ROW_BYTES);
}

TEST(views)
{
        size_t row = TRAIN_IMAGE_ROW_BYTES;

        /* more rows than the budget holds: nothing left for views */
        ASSERT_EQ(train_budget_views(1000000, row), (size_t)0);
        /* a few thousand posts: room for the plain views and an augmented round */
        ASSERT_TRUE(train_budget_views(1000, row) >= 2 * 1000 * VIEW_BYTES);
        /* at the default 10,000 posts one plain round does not fit: no fine-tuning, by design */
        ASSERT_TRUE(train_budget_views(CONFIG_TRAIN_IMAGE_POSTS_DEFAULT, row) <
                    CONFIG_TRAIN_IMAGE_POSTS_DEFAULT * VIEW_BYTES);
        /* monotone: more rows never leave the views more */
        for (size_t n = 0; n < 20000; n += 500)
                ASSERT_TRUE(train_budget_views(n + 500, row) <= train_budget_views(n, row));
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
