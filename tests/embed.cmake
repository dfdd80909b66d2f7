# SPDX-License-Identifier: MIT
# The backbone inside fluffd: import, classify and embed through fluffctl on a
# private bus against the fake site. Needs bb-tool (backbone.cmake) for the
# reference numbers; the package is fetched once into the build folder.
fluff_add_py_test(test-embed SCRIPT integration/test-embed.py LABELS integration SESSION TIMEOUT 600)
