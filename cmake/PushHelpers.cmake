# Helpers that give every target of the project the same warnings and layout.
#
# push_cc_library(NAME net SRCS a.cc b.cc DEPS push::base PkgConfig::LIBUV)
#   -> library push_net (static; shared with PUSH_SHARED_LIBS), alias push::net,
#      include root = build/include_roots/push_net
#      (common/net only: see push_include_root).
# push_cc_binary(NAME push-echo-server SRCS main.cc DEPS push::rpc)
# push_cc_test(NAME tcp_connection_test SRCS tcp_connection_test.cc DEPS push::net)
#   -> gtest executable registered with ctest (one ctest entry per TEST).

set(PUSH_WARNINGS -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 at -O3 reports false -Wrestrict on std::string concatenation (GCC bug 105651),
  # which -Werror turns into a failed Release build.
  list(APPEND PUSH_WARNINGS -Wno-restrict)
endif()

# Each library sees only its own folder and the folders of what it links: its include root is
# a directory of its own under the build tree holding one symlink, <repo path of the folder> ->
# the folder (EXPOSE names another folder, relative to the repository root, for a library
# that lives in a sub-folder of its area). Includes stay "common/net/tcp_connection.h", but a
# file in common/ that includes "services/..." (or a service that includes a service it does
# not link) fails to compile instead of building by accident.
function(push_include_root target folder)
  set(root ${PROJECT_BINARY_DIR}/include_roots/${target})
  get_filename_component(parent ${root}/${folder} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  if(NOT EXISTS ${root}/${folder})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${folder} ${root}/${folder} SYMBOLIC)
  endif()
  target_include_directories(${target} PUBLIC ${root})
endfunction()

function(push_cc_library)
  cmake_parse_arguments(ARG "" "NAME;EXPOSE" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(push_${ARG_NAME} ${PUSH_LIBRARY_TYPE} ${ARG_SRCS})
  add_library(push::${ARG_NAME} ALIAS push_${ARG_NAME})
  if(ARG_EXPOSE)
    set(folder ${ARG_EXPOSE})
  else()
    file(RELATIVE_PATH folder ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  push_include_root(push_${ARG_NAME} ${folder})
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
