#include "store/sql_text.h"

namespace openpcc::store {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Calls on_text(piece) for SQL copied as is and on_placeholder(number_text) for each $N.
template <class OnText, class OnPlaceholder>
void scan(std::string_view sql, OnText on_text, OnPlaceholder on_placeholder) {
  size_t i = 0;
  auto skip_past = [&](std::string_view terminator, size_t from) {
    size_t end = sql.find(terminator, from);
    end = end == std::string_view::npos ? sql.size() : end + terminator.size();
    on_text(sql.substr(i, end - i));
    i = end;
  };
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' || c == '"' || c == '`') {
      // A doubled quote inside a literal ends one scan and starts the next one: the result is the same.
      skip_past(std::string_view(&sql[i], 1), i + 1);
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      skip_past("\n", i + 2);
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      skip_past("*/", i + 2);
    } else if (c == '$' && i + 1 < sql.size() && is_digit(sql[i + 1])) {
      size_t end = i + 1;
      while (end < sql.size() && is_digit(sql[end])) ++end;
      on_placeholder(sql.substr(i + 1, end - i - 1));
      i = end;
    } else {
      size_t end = i + 1;
      while (end < sql.size() && sql[end] != '\'' && sql[end] != '"' && sql[end] != '`' && sql[end] != '-' &&
             sql[end] != '/' && sql[end] != '$') {
        ++end;
      }
      on_text(sql.substr(i, end - i));
      i = end;
    }
  }
}

}  // namespace

std::string sqlite_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  scan(
      sql, [&](std::string_view text) { out.append(text); },
      [&](std::string_view number) {
        out.push_back('?');
        out.append(number);
      });
  return out;
}

int max_placeholder(std::string_view sql) {
  int max = 0;
  bool malformed = false;
  scan(
      sql, [](std::string_view) {},
      [&](std::string_view number) {
        if (number.size() > 5) {
          malformed = true;
          return;
        }
        int n = 0;
        for (char c : number) n = n * 10 + (c - '0');
        if (n == 0 || n > 65535) malformed = true;
        if (n > max) max = n;
      });
  return malformed ? -1 : max;
}

}  // namespace openpcc::store
