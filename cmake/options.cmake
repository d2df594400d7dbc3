# Build options, each validated with a clear message.

set(LANCET_BACKEND "io_uring" CACHE STRING "I/O backend compiled in: io_uring, libevent or blocking")
set_property(CACHE LANCET_BACKEND PROPERTY STRINGS io_uring libevent blocking)
set(_lancet_backends io_uring libevent blocking)
if(NOT LANCET_BACKEND IN_LIST _lancet_backends)
  message(FATAL_ERROR
    "LANCET_BACKEND='${LANCET_BACKEND}' is not a backend Lancet has; "
    "expected one of: io_uring, libevent, blocking (e.g. -DLANCET_BACKEND=libevent)")
endif()

option(LANCET_SANITIZE "Build everything with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(LANCET_FUZZ "Build the libFuzzer targets (needs clang; use a separate build dir)" OFF)
option(LANCET_BUILD_TESTS "Build the test suites" ON)
option(LANCET_BUILD_BRIDGE "Build the CPython bridge (_lancet module, embedding binary)" ON)

if(LANCET_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR
      "LANCET_FUZZ=ON needs clang (libFuzzer is clang-only); configure a separate build dir with "
      "-DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  # Sanitizer flags must be global in the fuzz build (TOOLCHAIN.md §7): every TU, llhttp included.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  add_compile_definitions(LANCET_ENABLE_ASSERT=1)
elseif(LANCET_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  add_compile_definitions(LANCET_ENABLE_ASSERT=1)
endif()

# Python: always Debian's interpreter unless the user says otherwise (PATH holds a pyenv one).
set(Python3_EXECUTABLE "/usr/bin/python3" CACHE FILEPATH "Python interpreter for the bridge and tests")

# Warnings as errors for the project's own code (not llhttp's generated C).
set(LANCET_STRICT_WARNINGS -Wall -Wextra -Wpedantic -Werror -Wconversion -Wsign-conversion
    -Wshadow -Wnon-virtual-dtor)
