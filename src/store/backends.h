// Internal to openpcc_store: the backends behind open_database().
#pragma once

#include <memory>
#include <string>

#include "common/error.h"
#include "store/database.h"

namespace openpcc::store {

// path is a file path, or ignored when in_memory.
Result<std::shared_ptr<Database>> open_sqlite_database(std::string path, bool in_memory, DatabaseOptions options);
// url is a libpq connection URI.
Result<std::shared_ptr<Database>> open_postgres_database(std::string url, DatabaseOptions options);

}  // namespace openpcc::store
