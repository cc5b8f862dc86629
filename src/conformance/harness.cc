#include "common/json_parse.h"
#include "conformance/harness.h"

#include <istream>
#include <ostream>

#include <nlohmann/json.hpp>

namespace openpcc::conformance {

using nlohmann::json;

namespace {

std::string error_line(std::string_view message) {
  json out = {{"error", message}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

Harness Harness::with_all_operations() {
  Harness h;
  add_hpke_operations(h);
  add_bhttp_operations(h);
  add_ohttp_operations(h);
  add_rsa_blind_operations(h);
  add_rsa_operations(h);
  add_currency_operations(h);
  add_sevsnp_operations(h);
  add_merkle_operations(h);
  return h;
}

void Harness::add(std::string name, Operation op) { ops_.insert_or_assign(std::move(name), std::move(op)); }

std::string Harness::answer_line(std::string_view line) const {
  // Tolerate CRLF input.
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto parsed = parse_json(line);
  if (!parsed) return error_line("input line is not valid JSON");
  const json& req = *parsed;
  if (!req.is_object()) return error_line("input line is not a JSON object");
  auto it = req.find("op");
  if (it == req.end() || !it->is_string()) return error_line("missing string field \"op\"");
  const std::string& name = it->get_ref<const std::string&>();
  auto op = ops_.find(name);
  if (op == ops_.end()) return error_line("unknown op \"" + name + "\"");
  Result<json> result = [&]() -> Result<json> {
    // Operations report errors as values; this guard only keeps a bug (e.g. a JSON type error) on one line.
    try {
      return op->second(req);
    } catch (const std::exception& e) {
      return make_error(ErrorCode::kInternal, std::string("internal error: ") + e.what());
    }
  }();
  if (!result) return error_line(name + ": " + result.error().to_string());
  return result->dump(-1, ' ', false, json::error_handler_t::replace);
}

void Harness::run(std::istream& in, std::ostream& out) const {
  std::string line;
  while (std::getline(in, line)) {
    out << answer_line(line) << '\n';
    out.flush();
  }
}

}  // namespace openpcc::conformance
