# The libFuzzer targets (docs/reliability.md): every tests/fuzz/<name>_fuzz.cc is a target
# attnscope_fuzz_<name>, linked with the whole library, and a ctest test Fuzz.<name> (label fuzz)
# that runs it for ATTNSCOPE_FUZZ_SECONDS from its committed seed corpus tests/fuzz/corpus/<name>/
# (new inputs go to a working corpus in the build directory, never into the repository; a crash
# is saved under fuzz-artifacts/ and fails the test). Adding a target is the source file and its
# corpus folder; scripts/fuzz-long.sh runs them for hours.
set(ATTNSCOPE_FUZZ_SECONDS 15 CACHE STRING "Seconds each fuzz target runs in ctest (label fuzz)")
file(GLOB ATTNSCOPE_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/*_fuzz.cc)
set(ATTNSCOPE_FUZZ_TARGETS)
foreach(source IN LISTS ATTNSCOPE_FUZZ_SOURCES)
  get_filename_component(file ${source} NAME_WE)
  string(REGEX REPLACE "_fuzz$" "" name ${file})
  set(target attnscope_fuzz_${name})
  add_executable(${target} ${source})
  target_compile_options(${target} PRIVATE ${ATTNSCOPE_WARNINGS})
  target_compile_definitions(${target} PRIVATE
    ATTNSCOPE_TEST_DATA="${CMAKE_SOURCE_DIR}/tests/data")
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(${target} PRIVATE attnscope_app)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  list(APPEND ATTNSCOPE_FUZZ_TARGETS ${target})
  if(NOT EXISTS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${name})
    message(FATAL_ERROR "tests/fuzz/${file}.cc has no seed corpus tests/fuzz/corpus/${name}/")
  endif()
  if(ATTNSCOPE_BUILD_TESTS)
    set(work ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
    set(artifacts ${CMAKE_BINARY_DIR}/fuzz-artifacts/${name})
    file(MAKE_DIRECTORY ${work} ${artifacts})
    add_test(NAME Fuzz.${name}
      COMMAND ${target} -max_total_time=${ATTNSCOPE_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix=${artifacts}/ ${work}
        ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${name})
    math(EXPR timeout "${ATTNSCOPE_FUZZ_SECONDS} * 4 + 60")
    set_tests_properties(Fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT ${timeout}
      ENVIRONMENT "OMP_NUM_THREADS=1;OMP_WAIT_POLICY=passive")
  endif()
endforeach()
add_custom_target(attnscope_fuzz_all DEPENDS ${ATTNSCOPE_FUZZ_TARGETS})
