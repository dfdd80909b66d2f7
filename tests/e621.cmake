# SPDX-License-Identifier: MIT
# The e621 client: parsers (unit) and HTTP against the fake site (integration).
fluff_add_c_test(test-e621-json SOURCES test-e621-json.c LIBS fluff-e621 LABELS unit)

# fluff_e621_http_test(<name>): an HTTP test program against the fake site.
function(fluff_e621_http_test name)
    fluff_add_c_test(${name} SOURCES ${name}.c test-e621-common.c test-e621-fake.c
                     LIBS fluff-e621 LABELS integration TIMEOUT 180)
    target_compile_definitions(${name} PRIVATE FLUFF_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                               PYTHON3="${Python3_EXECUTABLE}")
endfunction()
fluff_e621_http_test(test-e621-http)
fluff_e621_http_test(test-e621-faults)
fluff_e621_http_test(test-e621-hostile)
