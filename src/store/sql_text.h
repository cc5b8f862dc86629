// Internal to openpcc_store: the little SQL lexing the layer needs. Placeholders are PostgreSQL's $1..$N; a `$`
// followed by a digit counts only outside string literals, quoted identifiers and comments. Not understood (do not
// use them with placeholders): PostgreSQL dollar-quoted bodies ($$...$$) and E'' strings with backslash escapes.
#pragma once

#include <string>
#include <string_view>

namespace openpcc::store {

// $N → ?N (SQLite's numbered parameter), everything else unchanged.
std::string sqlite_placeholders(std::string_view sql);

// The highest N among the $N placeholders (0 if none), or -1 if a placeholder is malformed ($0 or over 65535).
int max_placeholder(std::string_view sql);

}  // namespace openpcc::store
