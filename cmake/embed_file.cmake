# SPDX-License-Identifier: Apache-2.0
# Writes OUTPUT, a C file that defines `const char SYMBOL[]` (the bytes of INPUT followed by a
# NUL) and `const size_t SYMBOL_len` (the byte count without the NUL). Run at build time:
#   cmake -DINPUT=<file> -DOUTPUT=<file.c> -DSYMBOL=<C identifier> -P embed_file.cmake
# Bytes are written as hex, so any file content is kept exact.
cmake_minimum_required(VERSION 3.20)

if(NOT SYMBOL MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "SYMBOL must be a C identifier, got '${SYMBOL}'")
endif()
file(READ ${INPUT} hex HEX)
file(SIZE ${INPUT} size)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REPEAT "0x..," 16 sixteen)
string(REGEX REPLACE "(${sixteen})" "\\1\n    " bytes "${bytes}")

get_filename_component(name ${INPUT} NAME)
set(text "/* Generated from ${name} by cmake/embed_file.cmake; do not edit. */\n")
string(APPEND text "#include <stddef.h>\n\n")
string(APPEND text "extern const char ${SYMBOL}[];\nextern const size_t ${SYMBOL}_len;\n\n")
string(APPEND text "const char ${SYMBOL}[] = {\n    ${bytes}0x00};\n")
string(APPEND text "const size_t ${SYMBOL}_len = ${size};\n")

# Rewrite only on change, so an unchanged input does not rebuild its dependants.
if(EXISTS ${OUTPUT})
    file(READ ${OUTPUT} old)
    if(old STREQUAL text)
        return()
    endif()
endif()
file(WRITE ${OUTPUT} "${text}")
