/* SPDX-License-Identifier: MIT */
/* Metrics against hand-computed cases, ties included. Must survive: one class
 * missing (NaN, not a division by zero), NaN scores, k larger than n. */
#include <errno.h>

#include "metrics.h"
#include "tests.h"

TEST(auc_hand_computed)
{
        /* The textbook case: 3 of the 4 positive/negative pairs are ordered right. */
        ASSERT_NEAR(metrics_roc_auc((float[]){0.1f, 0.4f, 0.35f, 0.8f}, (uint8_t[]){0, 0, 1, 1}, 4), 0.75,
                    1e-12);
        /* Perfect and reversed. */
        ASSERT_NEAR(metrics_roc_auc((float[]){1, 2, 3, 4}, (uint8_t[]){0, 0, 1, 1}, 4), 1.0, 1e-12);
        ASSERT_NEAR(metrics_roc_auc((float[]){4, 3, 2, 1}, (uint8_t[]){0, 0, 1, 1}, 4), 0.0, 1e-12);
}

TEST(auc_ties)
{
        /* All tied: every pair is half a win, whatever the order of the labels. */
        ASSERT_NEAR(metrics_roc_auc((float[]){5, 5, 5, 5}, (uint8_t[]){1, 0, 1, 0}, 4), 0.5, 1e-12);
        ASSERT_NEAR(metrics_roc_auc((float[]){5, 5, 5, 5}, (uint8_t[]){0, 0, 1, 1}, 4), 0.5, 1e-12);
        /* pos 0.9 beats both negatives; pos 0.5 ties neg 0.5 (½) and beats 0.1: 3.5 / 4. */
        ASSERT_NEAR(metrics_roc_auc((float[]){0.9f, 0.5f, 0.5f, 0.1f}, (uint8_t[]){1, 1, 0, 0}, 4), 0.875,
                    1e-12);
        /* the same with the tied pair swapped in the input order */
        ASSERT_NEAR(metrics_roc_auc((float[]){0.9f, 0.5f, 0.5f, 0.1f}, (uint8_t[]){1, 0, 1, 0}, 4), 0.875,
                    1e-12);
        /* 3 pos, 2 neg with a three-way tie {p, p, n} at 0.3 and n at 0.1, p at 0.7:
         * pairs (p,n): 0.7 beats both (2), each tied p vs tied n ½ (1), each tied p beats 0.1 (2) → 5/6 */
        ASSERT_NEAR(metrics_roc_auc((float[]){0.3f, 0.7f, 0.3f, 0.1f, 0.3f}, (uint8_t[]){1, 1, 0, 0, 1}, 5),
                    5.0 / 6.0, 1e-12);
}

TEST(auc_one_class)
{
        ASSERT_TRUE(isnan(metrics_roc_auc((float[]){1, 2}, (uint8_t[]){1, 1}, 2)));
        ASSERT_TRUE(isnan(metrics_roc_auc((float[]){1, 2}, (uint8_t[]){0, 0}, 2)));
        ASSERT_TRUE(isnan(metrics_roc_auc(NULL, NULL, 0)));
}

TEST(precision_at)
{
        float s[] = {0.9f, 0.1f, 0.8f, 0.7f, 0.2f};
        uint8_t l[] = {1, 1, 0, 1, 0};
        ASSERT_NEAR(metrics_precision_at(s, l, 5, 1), 1.0, 1e-12);
        ASSERT_NEAR(metrics_precision_at(s, l, 5, 2), 0.5, 1e-12);
        ASSERT_NEAR(metrics_precision_at(s, l, 5, 3), 2.0 / 3.0, 1e-12);
        ASSERT_NEAR(metrics_precision_at(s, l, 5, 10), 3.0 / 5.0, 1e-12); /* k > n: all */
        /* ties broken by index: the first of two equal scores counts */
        ASSERT_NEAR(metrics_precision_at((float[]){1, 1}, (uint8_t[]){0, 1}, 2, 1), 0.0, 1e-12);
        ASSERT_TRUE(isnan(metrics_precision_at(s, l, 0, 10)));
}

TEST(confusion_and_threshold)
{
        double acc, bacc;
        float s[] = {0.1f, 0.2f, 0.7f, 0.8f};
        uint8_t l[] = {0, 0, 1, 1};

        double t = metrics_choose_threshold(s, l, 4, 0.5);
        ASSERT_NEAR(t, 0.45, 1e-6); /* the midpoint of the gap */
        metrics_confusion(s, l, 4, t, &acc, &bacc);
        ASSERT_NEAR(acc, 1.0, 1e-12);
        ASSERT_NEAR(bacc, 1.0, 1e-12);

        /* Imbalanced: 1 dislike scored 0.6 among 8 likes 0.4 … 0.95 and 1 dislike at 0.05.
         * Accuracy alone would say "everything is a like"; balanced accuracy weighs the
         * dislikes equally. At 0.5: TPR 6/8 (0.4, 0.45 below), TNR 1/2 → 0.625; acc 7/10. */
        float s2[] = {0.4f, 0.45f, 0.55f, 0.65f, 0.7f, 0.8f, 0.9f, 0.95f, 0.6f, 0.05f};
        uint8_t l2[] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
        metrics_confusion(s2, l2, 10, 0.5, &acc, &bacc);
        ASSERT_NEAR(acc, 0.7, 1e-12);
        ASSERT_NEAR(bacc, 0.625, 1e-12);
        /* The best cut: above 0.6 (0.625 and 0.65) gives TPR 5/8 TNR 1 → 0.8125; below 0.4
         * (0.225) gives TPR 1, TNR ½ → 0.75. */
        t = metrics_choose_threshold(s2, l2, 10, 0.5);
        ASSERT_NEAR(t, 0.625, 1e-6);

        /* Ties straddle no cut: two equal scores with different labels stay together. */
        t = metrics_choose_threshold((float[]){0.5f, 0.5f, 0.9f}, (uint8_t[]){0, 1, 1}, 3, 0.5);
        ASSERT_TRUE(t > 0.5 && t < 0.9); /* BA ¾ (TPR ½, TNR 1) beats BA ½ below the tie */
}

TEST(compute_all)
{
        ModelMetrics m;
        float s[] = {0.1f, 0.4f, 0.35f, 0.8f, NAN};
        uint8_t l[] = {0, 0, 1, 1, 0};

        ASSERT_ERROR(metrics_compute(s, l, 0, true, 0.5, &m), EINVAL);
        ASSERT_OK(metrics_compute(s, l, 4, true, 0.5, &m));
        ASSERT_NEAR(m.roc_auc, 0.75, 1e-12);
        ASSERT_EQ(m.n_pos, 2u);
        ASSERT_EQ(m.n_neg, 2u);
        ASSERT_NEAR(m.precision_at_10, 0.5, 1e-12);
        ASSERT_NEAR(m.balanced_accuracy, 0.75,
                    1e-12); /* cut at 0.6 (0.8 like) or 0.225: both ¾; 0.6 is nearer ½ */
        /* a NaN score sorts last and is a loss, never a crash */
        ASSERT_OK(metrics_compute(s, l, 5, true, 0.5, &m));
        ASSERT_NEAR(m.roc_auc, (3.0 + 2.0) / 6.0, 1e-12);
}

TEST_MAIN()
