# SPDX-License-Identifier: MIT
# Every external dependency is found here, and a missing one stops configure with
# the Debian package that provides it.

find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
    message(FATAL_ERROR "pkg-config was not found: install the Debian package 'pkg-config'")
endif()

function(fluff_require_module target module package)
    pkg_check_modules(${target} QUIET IMPORTED_TARGET GLOBAL ${module})
    if(NOT ${target}_FOUND)
        message(FATAL_ERROR "${module} was not found by pkg-config: install the Debian package '${package}'")
    endif()
    message(STATUS "Found ${module} ${${target}_VERSION}")
endfunction()

function(fluff_require_program var program package)
    find_program(${var} ${program})
    if(NOT ${var})
        message(FATAL_ERROR "${program} was not found: install the Debian package '${package}'")
    endif()
endfunction()

fluff_require_module(CURL libcurl libcurl4-openssl-dev)
fluff_require_module(JSONC json-c libjson-c-dev)
fluff_require_module(SYSTEMD libsystemd libsystemd-dev)
fluff_require_module(VIPS vips libvips-dev)
fluff_require_module(VULKAN vulkan libvulkan-dev)
fluff_require_module(SQLITE sqlite3 libsqlite3-dev)
fluff_require_module(CHAFA chafa libchafa-dev)

fluff_require_program(GLSLANG_VALIDATOR glslangValidator glslang-tools)
fluff_require_program(SPIRV_VAL spirv-val spirv-tools)
fluff_require_program(SCDOC scdoc scdoc)

find_package(Threads REQUIRED)
find_library(MATH_LIBRARY m REQUIRED)
