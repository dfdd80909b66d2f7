/* SPDX-License-Identifier: MIT */
#pragma once

/* Runs the vec_add shader on the chosen device and checks its result.
 * Returns 0, -ENODEV when no Vulkan device is usable, or another negative errno. */
int vk_self_test(void);
