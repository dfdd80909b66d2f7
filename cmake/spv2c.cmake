# SPDX-License-Identifier: MIT
# Usage: cmake -DSPV=in.spv -DOUT=out.c -DNAME=name -P spv2c.cmake
# Writes OUT only when its content changes, so an unchanged shader does not
# make everything that links it rebuild.
file(READ ${SPV} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n        " bytes "${bytes}")
set(text "/* Generated from ${NAME}.comp by cmake/spv2c.cmake. */\n#include <stddef.h>\n\n__attribute__((aligned(4))) const unsigned char fluff_spv_${NAME}[] = {\n        ${bytes}\n};\nconst size_t fluff_spv_${NAME}_size = ${size};\n")
set(tmp "${OUT}.tmp")
file(WRITE ${tmp} "${text}")
file(COPY_FILE ${tmp} ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${tmp})
