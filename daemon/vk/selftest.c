/* SPDX-License-Identifier: MIT */
#include "fluff/util.h"
#include "vk.h"

int vk_self_test(void)
{
        /* placeholder until the engine lands in daemon/vk/ */
        return log_error_errno(EOPNOTSUPP, "The Vulkan self-test is not built yet.");
}
