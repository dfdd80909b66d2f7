# SPDX-License-Identifier: MIT
# The e621 client: parsers (unit) and HTTP against the fake site (integration).
fluff_add_c_test(test-e621-json SOURCES test-e621-json.c LIBS fluff-e621 LABELS unit)
