# Every dependency comes from Debian (tools/setup.sh installs them). See ../shared/TOOLCHAIN.md.
find_package(PkgConfig REQUIRED)

# llhttp 8.1.0 from node-llhttp: no library is shipped, so build the generated C ourselves,
# in strict mode. The core adds the checks 8.1.0 lacks (bare CR, obs-fold, empty names, versions).
set(LLHTTP_SOURCE_DIR "/usr/share/llhttp" CACHE PATH "llhttp C sources (Debian node-llhttp)")
set(LLHTTP_INCLUDE_DIR "/usr/share/include/llhttp" CACHE PATH "llhttp header (Debian node-llhttp)")
if(NOT EXISTS "${LLHTTP_SOURCE_DIR}/llhttp.c" OR NOT EXISTS "${LLHTTP_INCLUDE_DIR}/llhttp.h")
  message(FATAL_ERROR "llhttp sources not found under ${LLHTTP_SOURCE_DIR}: run tools/setup.sh "
                      "(Debian package node-llhttp)")
endif()
add_library(llhttp STATIC
  ${LLHTTP_SOURCE_DIR}/api.c ${LLHTTP_SOURCE_DIR}/http.c ${LLHTTP_SOURCE_DIR}/llhttp.c)
target_include_directories(llhttp SYSTEM PUBLIC ${LLHTTP_INCLUDE_DIR})
target_compile_definitions(llhttp PRIVATE LLHTTP_STRICT_MODE=1)
set_target_properties(llhttp PROPERTIES C_STANDARD 99 POSITION_INDEPENDENT_CODE ON)
target_compile_options(llhttp PRIVATE -w)

# Boost.JSON 1.81 (never 1.74: no JSON there). The compiled library saves a 5-11 s TU.
find_package(Boost 1.81 REQUIRED COMPONENTS json)

# tl::expected: the core's Result type, through protocol/core/result.hpp only.
find_package(tl-expected REQUIRED)

if(LANCET_BUILD_TESTS)
  find_package(GTest 1.12 CONFIG REQUIRED)
  find_package(rapidcheck CONFIG REQUIRED)   # no version file: never pass a version
  include(GoogleTest)
endif()
