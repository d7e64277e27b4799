# The CUDA part of attnscope: the device kernels (src/kernels/cuda/ → attnscope_cuda), their
# GoogleTest suite (tests/cuda/ → attnscope_cuda_tests, compared with the CPU references of
# src/kernels/ref/) and the GPU attention benchmark (bench/cuda/ → attnscope_cuda_bench).
# Included by the top-level CMakeLists.txt when ATTNSCOPE_CUDA=ON, and by
# cmake/cuda_only/CMakeLists.txt, a build of only these targets for machines that lack the CPU
# project's dependencies. Needs ATTNSCOPE_ROOT (the repository root), fmt and, for the tests,
# GoogleTest. Code is generated for Hopper (sm_90a, with wgmma/setmaxnreg available) plus
# compute_90 PTX, which the driver compiles for any later GPU.

set(CMAKE_CUDA_ARCHITECTURES OFF)  # the -gencode flags below say exactly what is built
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
# CMake before 3.26 does not know nvcc's C++20 flag; nvcc 12 and later accept it.
if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
endif()
set(CMAKE_CUDA_STANDARD 20)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_EXTENSIONS OFF)

if(NOT DEFINED ATTNSCOPE_WARNINGS)
  set(ATTNSCOPE_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Werror)
endif()
set(ATTNSCOPE_CUDA_FLAGS
  -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_90,code=compute_90
  -lineinfo --Werror all-warnings -Xcompiler=-Wall,-Wextra,-Wshadow
  --expt-relaxed-constexpr)

# Kernels are .cu (nvcc); host-only code is .cpp (the C++ compiler: it includes fmt, which nvcc
# cannot compile in C++20, and no *.cc glob of the CPU build picks it up).
file(GLOB ATTNSCOPE_CUDA_SOURCES CONFIGURE_DEPENDS ${ATTNSCOPE_ROOT}/src/kernels/cuda/*.cu
  ${ATTNSCOPE_ROOT}/src/kernels/cuda/*.cpp)
add_library(attnscope_cuda STATIC ${ATTNSCOPE_CUDA_SOURCES})
target_include_directories(attnscope_cuda PUBLIC ${ATTNSCOPE_ROOT}/src)
# Position-independent like the layer libraries it belongs to (CMakeLists.txt), so the Python
# module links it too.
set_target_properties(attnscope_cuda PROPERTIES POSITION_INDEPENDENT_CODE ON
  CXX_VISIBILITY_PRESET hidden CUDA_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
target_compile_options(attnscope_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:${ATTNSCOPE_CUDA_FLAGS}>
  $<$<COMPILE_LANGUAGE:CXX>:${ATTNSCOPE_WARNINGS}>)
# cuBLASLt is loaded when first used (kernels/cuda/cublaslt_library.h), not linked: linking it
# costs every process a tenth of a second and 200 MB at start. Its headers come with cudart's.
target_link_libraries(attnscope_cuda PUBLIC CUDA::cudart fmt::fmt ${CMAKE_DL_LIBS})

if(ATTNSCOPE_BUILD_TESTS)
  find_package(GTest REQUIRED)
  enable_testing()
  file(GLOB ATTNSCOPE_CUDA_TEST_SOURCES CONFIGURE_DEPENDS ${ATTNSCOPE_ROOT}/tests/cuda/*.cc)
  # core/rng.cc: the tests draw their inputs with attnscope::Rng, like the CPU kernel tests.
  add_executable(attnscope_cuda_tests ${ATTNSCOPE_CUDA_TEST_SOURCES} ${ATTNSCOPE_ROOT}/src/core/rng.cc)
  target_compile_options(attnscope_cuda_tests PRIVATE ${ATTNSCOPE_WARNINGS})
  target_include_directories(attnscope_cuda_tests PRIVATE ${ATTNSCOPE_ROOT}/tests/cuda)
  target_link_libraries(attnscope_cuda_tests PRIVATE attnscope_cuda GTest::gtest GTest::gtest_main)
  include(GoogleTest)
  # Without a GPU every test skips with the reason (GTEST_SKIP), so ctest passes on any machine.
  gtest_discover_tests(attnscope_cuda_tests DISCOVERY_TIMEOUT 60 PROPERTIES LABELS cuda)
endif()

file(GLOB ATTNSCOPE_CUDA_BENCH_SOURCES CONFIGURE_DEPENDS ${ATTNSCOPE_ROOT}/bench/cuda/*.cc)
add_executable(attnscope_cuda_bench ${ATTNSCOPE_CUDA_BENCH_SOURCES})
target_compile_options(attnscope_cuda_bench PRIVATE ${ATTNSCOPE_WARNINGS})
target_link_libraries(attnscope_cuda_bench PRIVATE attnscope_cuda)
