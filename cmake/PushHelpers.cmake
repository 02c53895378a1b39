# Helpers that give every target of the project the same warnings and layout.
#
# push_cc_library(NAME net SRCS a.cc b.cc DEPS push::base PkgConfig::LIBUV)
#   -> static library push_net, alias push::net, include root = repository root.
# push_cc_binary(NAME push-echo-server SRCS main.cc DEPS push::rpc)
# push_cc_test(NAME tcp_connection_test SRCS tcp_connection_test.cc DEPS push::net)
#   -> gtest executable registered with ctest (one ctest entry per TEST).

set(PUSH_WARNINGS -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 at -O3 reports false -Wrestrict on std::string concatenation (GCC bug 105651),
  # which -Werror turns into a failed Release build.
  list(APPEND PUSH_WARNINGS -Wno-restrict)
endif()

function(push_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(push_${ARG_NAME} STATIC ${ARG_SRCS})
  add_library(push::${ARG_NAME} ALIAS push_${ARG_NAME})
  target_include_directories(push_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(push_${ARG_NAME} PRIVATE ${PUSH_WARNINGS})
  target_link_libraries(push_${ARG_NAME} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

function(push_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${PUSH_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
endfunction()

function(push_cc_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${PUSH_WARNINGS})
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${ARG_NAME} DISCOVERY_TIMEOUT 60
                       PROPERTIES TIMEOUT ${ARG_TIMEOUT}
                       ENVIRONMENT "PUSH_BIN_DIR=${PROJECT_BINARY_DIR}/bin")
endfunction()
