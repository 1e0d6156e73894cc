# SPDX-License-Identifier: Apache-2.0
# Writes OUTPUT, a C file holding every schema/NNNN_name.sql as a byte array with its version,
# name and SHA-256, in version order. Run at build time:
#   cmake -DSCHEMA_DIR=<dir> -DOUTPUT=<file.c> -P embed_migrations.cmake
# A file name that does not match NNNN_name.sql, or two files with one version, stop the build.
cmake_minimum_required(VERSION 3.20)
file(GLOB files "${SCHEMA_DIR}/*.sql")
list(SORT files)

set(arrays "")
set(rows "")
set(count 0)
set(seen "")
foreach(file ${files})
    get_filename_component(base "${file}" NAME)
    if(NOT base MATCHES "^([0-9][0-9][0-9][0-9])_([a-z0-9_]+)\\.sql$")
        message(FATAL_ERROR "${file}: migration files are named NNNN_name.sql (name in a-z0-9_)")
    endif()
    set(number "${CMAKE_MATCH_1}")
    set(name "${CMAKE_MATCH_2}")
    math(EXPR version "1${number} - 10000")
    if(version EQUAL 0)
        message(FATAL_ERROR "${file}: migration numbers start at 0001")
    endif()
    if(version IN_LIST seen)
        message(FATAL_ERROR "${file}: another migration already has number ${number}")
    endif()
    list(APPEND seen ${version})

    file(READ "${file}" hex HEX)
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
    file(SHA256 "${file}" checksum)
    string(APPEND arrays "static const unsigned char sql_${number}[] = {${bytes}0x00};\n")
    string(APPEND rows "    {${version}, \"${name}\", (const char *)sql_${number}, \"${checksum}\"},\n")
    math(EXPR count "${count} + 1")
endforeach()

if(count EQUAL 0)
    message(FATAL_ERROR "no migrations found in ${SCHEMA_DIR}")
endif()

set(text "/* Generated from schema/NNNN_name.sql by cmake/embed_migrations.cmake: do not edit. */\n")
string(APPEND text "#include \"common/schema.h\"\n\n${arrays}\n")
string(APPEND text "const struct sl_migration sl_migrations[] = {\n${rows}};\n\n")
string(APPEND text "const size_t sl_migrations_count = ${count};\n")

# Rewrite only on change, so an unchanged schema does not rebuild sl_common.
if(EXISTS "${OUTPUT}")
    file(READ "${OUTPUT}" old)
    if(old STREQUAL text)
        return()
    endif()
endif()
file(WRITE "${OUTPUT}" "${text}")
