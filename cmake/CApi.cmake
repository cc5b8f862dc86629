# The client SDK for everyone else: libopenpcc (the C API of include/openpcc/openpcc.h, shared and static), its
# install rules (headers, libraries, CMake package, pkg-config file, Python binding, CLI) and the install layout:
#
#   <prefix>/include/openpcc/openpcc.h
#   <prefix>/<libdir>/libopenpcc.so -> libopenpcc.so.0 -> libopenpcc.so.0.1.0      (SONAME libopenpcc.so.0)
#   <prefix>/<libdir>/libopenpcc.a                     (every internal library merged in; system libraries are not)
#   <prefix>/<libdir>/cmake/OpenPCC/OpenPCCConfig.cmake, OpenPCCConfigVersion.cmake
#                                                      (OpenPCC::openpcc shared, OpenPCC::openpcc_static)
#   <prefix>/<libdir>/pkgconfig/openpcc.pc
#   <prefix>/<libdir>/python3/site-packages/openpcc/   (component "python")
#   <prefix>/bin/openpcc                               (component "cli")
#
# Components: "sdk" (headers, libraries, CMake package, pkg-config), "python", "cli".
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The internal static libraries that `target` links, transitively (their link closure, in dependency order).
function(openpcc_static_closure out)
  set(_todo ${ARGN})
  set(_seen)
  set(_static)
  while(_todo)
    list(POP_FRONT _todo _t)
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" _t "${_t}")
    if(NOT TARGET ${_t} OR _t IN_LIST _seen)
      continue()
    endif()
    list(APPEND _seen ${_t})
    get_target_property(_imported ${_t} IMPORTED)
    if(_imported)
      continue()
    endif()
    get_target_property(_type ${_t} TYPE)
    if(_type STREQUAL "STATIC_LIBRARY")
      list(APPEND _static ${_t})
    endif()
    get_target_property(_deps ${_t} INTERFACE_LINK_LIBRARIES)
    if(_deps)
      list(APPEND _todo ${_deps})
    endif()
  endwhile()
  set(${out} ${_static} PARENT_SCOPE)
endfunction()

# The C API's own code: hidden visibility, only OPENPCC_EXPORT functions are public.
file(GLOB _capi_srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/client/c_api/*.cc)
add_library(openpcc_c_api OBJECT ${_capi_srcs})
target_include_directories(openpcc_c_api PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>)
target_link_libraries(openpcc_c_api PUBLIC openpcc_client)
target_compile_definitions(openpcc_c_api PRIVATE OPENPCC_PROJECT_VERSION="${PROJECT_VERSION}")
set_target_properties(openpcc_c_api PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)

# Everything that goes into the shared library must be position independent.
openpcc_static_closure(OPENPCC_C_API_LIBS openpcc_client)
set_target_properties(openpcc_c_api ${OPENPCC_C_API_LIBS} PROPERTIES POSITION_INDEPENDENT_CODE ON)

# libopenpcc.so.0: the C API plus every internal library it needs; the version script keeps all but openpcc_*
# local, and --exclude-libs keeps the static libraries' symbols out of the dynamic table.
add_library(openpcc_shared SHARED)
target_link_libraries(openpcc_shared PRIVATE openpcc_c_api)
target_include_directories(openpcc_shared INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>)
set_target_properties(openpcc_shared PROPERTIES
  OUTPUT_NAME openpcc
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}
  LINK_DEPENDS ${PROJECT_SOURCE_DIR}/cmake/openpcc.map)
target_link_options(openpcc_shared PRIVATE
  -Wl,--version-script=${PROJECT_SOURCE_DIR}/cmake/openpcc.map -Wl,--no-undefined -Wl,--exclude-libs,ALL
  -Wl,--as-needed -Wl,-z,relro,-z,now)

# libopenpcc.a: the C API's objects and every internal static library merged into one archive (ar MRI script), so
# that a consumer links one file plus system libraries.
add_library(openpcc_c_api_objects STATIC)
target_link_libraries(openpcc_c_api_objects PRIVATE openpcc_c_api)
set(_static_out ${CMAKE_CURRENT_BINARY_DIR}/libopenpcc.a)
set(_mri "CREATE ${_static_out}\nADDLIB $<TARGET_FILE:openpcc_c_api_objects>\n")
set(_static_inputs openpcc_c_api_objects)
foreach(_lib ${OPENPCC_C_API_LIBS})
  string(APPEND _mri "ADDLIB $<TARGET_FILE:${_lib}>\n")
  list(APPEND _static_inputs $<TARGET_FILE:${_lib}>)
endforeach()
string(APPEND _mri "SAVE\nEND\n")
file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/libopenpcc.mri CONTENT "${_mri}")
add_custom_command(OUTPUT ${_static_out}
                   COMMAND ${CMAKE_COMMAND} -E rm -f ${_static_out}
                   COMMAND sh -c "\"${CMAKE_AR}\" -M < \"${CMAKE_CURRENT_BINARY_DIR}/libopenpcc.mri\""
                   DEPENDS ${_static_inputs} $<TARGET_FILE:openpcc_c_api_objects>
                           ${CMAKE_CURRENT_BINARY_DIR}/libopenpcc.mri
                   COMMENT "Merging libopenpcc.a" VERBATIM)
add_custom_target(openpcc_static ALL DEPENDS ${_static_out})
add_dependencies(openpcc_static openpcc_c_api_objects ${OPENPCC_C_API_LIBS})

# The system libraries libopenpcc.a needs (libopenpcc.so records them itself: readelf -d shows the same list).
# pkg-config modules go to Requires.private, except libpq, whose --static answer names archives Debian does not ship
# (pgcommon, pgport): it is a plain -lpq in Libs.private.
set(OPENPCC_STATIC_PC_REQUIRES "libssl libcrypto protobuf spdlog fmt tss2-mu sqlite3")
set(OPENPCC_STATIC_LIBS ssl crypto protobuf spdlog fmt tss2-mu sqlite3 pq stdc++ m pthread)

# ---------------------------------------------------------------------------------------------------------------------
# Install
install(FILES ${PROJECT_SOURCE_DIR}/include/openpcc/openpcc.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/openpcc COMPONENT sdk)
install(TARGETS openpcc_shared
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk NAMELINK_COMPONENT sdk)
install(FILES ${_static_out} DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk)

set(OPENPCC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/OpenPCC)
string(REPLACE ";" " " OPENPCC_STATIC_LIBS_STRING "${OPENPCC_STATIC_LIBS}")
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/OpenPCCConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/OpenPCCConfig.cmake
                              INSTALL_DESTINATION ${OPENPCC_CMAKE_DIR}
                              PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/OpenPCCConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/OpenPCCConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/OpenPCCConfigVersion.cmake
        DESTINATION ${OPENPCC_CMAKE_DIR} COMPONENT sdk)

# pkg-config: the prefix is found relative to the .pc file, so the installed tree can move.
file(RELATIVE_PATH OPENPCC_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
set(OPENPCC_STATIC_PC_LIBS)
foreach(_l ${OPENPCC_STATIC_LIBS})
  string(APPEND OPENPCC_STATIC_PC_LIBS " -l${_l}")
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/openpcc.pc.in ${CMAKE_CURRENT_BINARY_DIR}/openpcc.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/openpcc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT sdk)

set(OPENPCC_PYTHON_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/python3/site-packages CACHE STRING
    "Where `cmake --install` puts the Python binding (the openpcc package), relative to the prefix")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/bindings/python/openpcc DESTINATION ${OPENPCC_PYTHON_INSTALL_DIR}
        COMPONENT python PATTERN "__pycache__" EXCLUDE)

install(TARGETS openpcc RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)
