// The built-in test engine's "model": a directory with one file, model.json, holding a name, a version and a short
// canned vocabulary. It is NOT a language model. It exists so that a whole OpenPCC stack (node attestation measures
// the model directory into PCR 12, requests are metered and refunded by token counts) runs and is tested without one.
//
// Generation is deterministic: the answer to a prompt is the words "You said:", the prompt's words, then the
// vocabulary's words in order (cycling), cut at exactly max_tokens words. A token is a whitespace-separated word,
// for the prompt's count and the answer's alike.
//
//   model.json (written by init_test_model; keys sorted, 2-space indent, final newline — the same bytes every time):
//   {
//     "description": "openpcc test engine (not a language model)",
//     "name": "openpcc-test-engine",
//     "version": "1",
//     "vocabulary": ["this", "is", "the", "openpcc", "test", "engine,", "not", "a", "language", "model."]
//   }
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace openpcc::engine {

inline constexpr std::string_view kTestModelName = "openpcc-test-engine";
// How the test engine names itself wherever it shows (owned_by, system_fingerprint, Ollama's family, …).
inline constexpr std::string_view kTestEngineLabel = "openpcc test engine (not a language model)";
inline constexpr std::string_view kTestModelFileName = "model.json";

// max_tokens (OpenAI) / options.num_predict (Ollama) when the request gives none, and the most it may ask for.
inline constexpr size_t kDefaultTestMaxTokens = 16;
inline constexpr size_t kMaxTestTokens = 4096;
// Limits of model.json.
inline constexpr size_t kMaxTestModelFileBytes = 64 * 1024;
inline constexpr size_t kMaxTestVocabularyWords = 1024;
inline constexpr size_t kMaxTestWordBytes = 64;

struct TestModel {
  std::string name;
  std::string version;
  std::string description;
  std::vector<std::string> vocabulary;  // non-empty; words without whitespace
};

// The model init_test_model writes.
TestModel default_test_model();
// model.json's bytes for `model` (canonical: sorted keys, 2-space indent, final newline).
std::string test_model_json(const TestModel& model);

// Creates `dir` if needed and writes the default model.json into it, unless one exists (then it is left alone and
// must load). Errors: kIo, or load_test_model's error for an existing file.
Status init_test_model(const std::filesystem::path& dir);
// Reads and checks dir/model.json: kNotFound if missing; kInvalidArgument for unknown keys, a missing or empty name,
// an empty vocabulary, more than kMaxTestVocabularyWords words, a word that is empty, longer than kMaxTestWordBytes or
// contains whitespace; kDecode for malformed JSON.
Result<TestModel> load_test_model(const std::filesystem::path& dir);

// The words of `text` (split at ASCII whitespace); their number is the test engine's token count.
std::vector<std::string> split_words(std::string_view text);
size_t count_words(std::string_view text);

// The tokens (words) the test engine answers `echo` with: "You", "said:", echo's words, then vocabulary words;
// exactly `max_tokens` of them.
std::vector<std::string> test_completion_tokens(const TestModel& model, std::string_view echo, size_t max_tokens);

}  // namespace openpcc::engine
