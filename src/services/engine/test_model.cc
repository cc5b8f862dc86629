#include "services/engine/test_model.h"

#include <system_error>

#include <nlohmann/json.hpp>

#include "common/json_parse.h"
#include "services/common/config.h"
#include "services/common/key_files.h"

namespace openpcc::engine {
namespace {

bool is_word_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool is_word(std::string_view word) {
  if (word.empty() || word.size() > kMaxTestWordBytes) return false;
  for (char c : word) {
    if (is_word_space(c) || static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

}  // namespace

TestModel default_test_model() {
  TestModel model;
  model.name = std::string(kTestModelName);
  model.version = "1";
  model.description = std::string(kTestEngineLabel);
  // The canned answer says what it is.
  model.vocabulary = {"this", "is", "the", "openpcc", "test", "engine,", "not", "a", "language", "model."};
  return model;
}

std::string test_model_json(const TestModel& model) {
  nlohmann::json json;  // std::map keys: sorted, so the bytes are canonical
  json["name"] = model.name;
  json["version"] = model.version;
  json["description"] = model.description;
  json["vocabulary"] = model.vocabulary;
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Status init_test_model(const std::filesystem::path& dir) {
  const auto file = dir / kTestModelFileName;
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) {
    auto existing = load_test_model(dir);
    if (!existing) return std::unexpected(existing.error());
    return {};
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::kIo, "test model: cannot create " + dir.string() + ": " + ec.message());
  const std::string text = test_model_json(default_test_model());
  auto written = services::write_public_file_atomically(file, as_bytes(text), services::ExistingFile::kKeep);
  if (!written && written.error().code != ErrorCode::kConflict) return written;
  // kConflict: another process wrote it meanwhile; it must be a model all the same.
  auto loaded = load_test_model(dir);
  if (!loaded) return std::unexpected(loaded.error());
  return {};
}

Result<TestModel> load_test_model(const std::filesystem::path& dir) {
  const auto file = dir / kTestModelFileName;
  auto text = services::read_public_file(file, kMaxTestModelFileBytes);
  if (!text) return std::unexpected(wrap_error("test model " + file.string(), text.error()));
  auto json = parse_json(*text);
  if (!json) return std::unexpected(wrap_error("test model " + file.string(), json.error()));
  services::ConfigReader reader(*json, "model");
  TestModel model;
  model.name = reader.string("name");
  model.version = reader.string("version");
  model.description = reader.string("description");
  model.vocabulary = reader.strings("vocabulary");
  if (auto ok = reader.finish(); !ok) return std::unexpected(wrap_error("test model " + file.string(), ok.error()));
  auto invalid = [&](const std::string& what) {
    return make_error(ErrorCode::kInvalidArgument, "test model " + file.string() + ": " + what);
  };
  if (!is_word(model.name)) return invalid("\"name\" must be a non-empty word without whitespace");
  if (model.vocabulary.empty()) return invalid("\"vocabulary\" must not be empty");
  if (model.vocabulary.size() > kMaxTestVocabularyWords) return invalid("\"vocabulary\" has too many words");
  for (const auto& word : model.vocabulary) {
    if (!is_word(word)) return invalid("vocabulary words must be 1-64 bytes without whitespace");
  }
  return model;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_word_space(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !is_word_space(text[i])) ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

size_t count_words(std::string_view text) {
  size_t count = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = is_word_space(c);
    if (!space && !in_word) ++count;
    in_word = !space;
  }
  return count;
}

std::vector<std::string> test_completion_tokens(const TestModel& model, std::string_view echo, size_t max_tokens) {
  std::vector<std::string> tokens;
  tokens.reserve(max_tokens);
  auto add = [&](std::string word) {
    if (tokens.size() < max_tokens) tokens.push_back(std::move(word));
  };
  add("You");
  add("said:");
  for (size_t i = 0; i < echo.size() && tokens.size() < max_tokens;) {  // the echo's words, no more than needed
    while (i < echo.size() && is_word_space(echo[i])) ++i;
    const size_t start = i;
    while (i < echo.size() && !is_word_space(echo[i])) ++i;
    if (i > start) add(std::string(echo.substr(start, i - start)));
  }
  for (size_t i = 0; tokens.size() < max_tokens && !model.vocabulary.empty(); ++i) {
    add(model.vocabulary[i % model.vocabulary.size()]);
  }
  return tokens;
}

}  // namespace openpcc::engine
