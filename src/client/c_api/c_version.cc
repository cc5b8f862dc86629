// The library's version (openpcc.h: openpcc_version, openpcc_version_number).
#include <string_view>

#include "openpcc/openpcc.h"

extern "C" {

const char* openpcc_version(void) { return OPENPCC_VERSION_STRING; }

uint32_t openpcc_version_number(void) { return OPENPCC_VERSION_NUMBER; }

}  // extern "C"

#ifdef OPENPCC_PROJECT_VERSION
// The header's version macros follow the CMake project's version.
static_assert(std::string_view(OPENPCC_VERSION_STRING) == OPENPCC_PROJECT_VERSION,
              "include/openpcc/openpcc.h: OPENPCC_VERSION_* differ from the CMake project version");
#endif
