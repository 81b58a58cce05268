# One CMake target per folder, declared through these helpers so that every
# target gets the same standard, warnings and include root.

set(ROLLCALL_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Woverloaded-virtual)

function(rollcall_apply_defaults target)
  target_compile_options(${target} PRIVATE ${ROLLCALL_WARNINGS})
  if(ROLLCALL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(ROLLCALL_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${ROLLCALL_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${ROLLCALL_SANITIZE})
    if(ROLLCALL_SANITIZE MATCHES "thread")
      # Asio's fenced blocks use atomic_thread_fence, which GCC warns TSan cannot model; the
      # fences there only back up mutexes that TSan does see.
      target_compile_options(${target} PRIVATE -Wno-tsan)
    endif()
  endif()
  if(ROLLCALL_FUZZ AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    # Coverage for libFuzzer in everything a fuzz target links; fuzz/ links the driver itself.
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()

# rollcall_library(NAME SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
function(rollcall_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  rollcall_apply_defaults(${name})
endfunction()

# rollcall_executable(NAME SOURCES ... [DEPS ...])
function(rollcall_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  rollcall_apply_defaults(${name})
endfunction()
