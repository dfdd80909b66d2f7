# SPDX-License-Identifier: MIT
# The backbone inside fluffd: import, classify and embed through fluffctl on a
# private bus against the fake site. Needs bb-tool (backbone.cmake) for the
# reference numbers; the package is fetched once into the build folder.
fluff_add_py_test(test-embed SCRIPT integration/test-embed.py LABELS integration SESSION TIMEOUT 600)

# Under ASan, lavapipe leaks 128 bytes per Vulkan instance from a module the
# loader has already unloaded at exit (see vk.cmake); fluffd's own allocations
# were leak-checked with nothing else reported. ASan and UBSan stay on.
if(FLUFF_SANITIZE)
    set_property(TEST test-embed APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()
