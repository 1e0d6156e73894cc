# SPDX-License-Identifier: Apache-2.0
# Writes OUTPUT, a C file with every *.lua file of SCRIPT_DIR as a byte array plus the table
# declared in common/lua_scripts.h. Run at build time:
#   cmake -DSCRIPT_DIR=<dir> -DOUTPUT=<file.c> -P embed_lua.cmake
# Bytes are written as hex, so any file content (quotes, backslashes, non-ASCII) is kept exact.
cmake_minimum_required(VERSION 3.20)

file(GLOB scripts "${SCRIPT_DIR}/*.lua")
list(SORT scripts)
if(NOT scripts)
    message(FATAL_ERROR "no .lua files in ${SCRIPT_DIR}")
endif()

set(body "/* Generated from lua-scripts/ by cmake/embed_lua.cmake; do not edit. */\n")
string(APPEND body "#include \"common/lua_scripts.h\"\n\n")
set(table "const struct sl_lua_script sl_lua_scripts[] = {\n")
set(count 0)
foreach(path ${scripts})
    get_filename_component(name ${path} NAME_WE)
    if(NOT name MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
        message(FATAL_ERROR "${path}: a script name must be a C identifier")
    endif()
    file(READ ${path} hex HEX)
    file(SIZE ${path} size)
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
    string(REPEAT "0x..," 16 sixteen)
    string(REGEX REPLACE "(${sixteen})" "\\1\n    " bytes "${bytes}")
    string(APPEND body "static const char script_${name}[] = {\n    ${bytes}0x00};\n\n")
    string(APPEND table "    {\"${name}\", script_${name}, ${size}},\n")
    math(EXPR count "${count} + 1")
endforeach()
string(APPEND table "};\n\nconst size_t sl_lua_n_scripts = ${count};\n")

# Rewrite only on change, so an unchanged script set does not rebuild its dependants.
set(text "${body}${table}")
if(EXISTS ${OUTPUT})
    file(READ ${OUTPUT} old)
    if(old STREQUAL text)
        return()
    endif()
endif()
file(WRITE ${OUTPUT} "${text}")
