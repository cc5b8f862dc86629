// Feeds the real `openpcc conformance` binary a file of mixed good and malformed lines and checks every answer line
// against expectations taken from RFC vectors (tests/data/conformance/README.md).
#include "conformance/harness.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace openpcc::conformance {
namespace {

using nlohmann::json;

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> run_binary(const std::string& input_path) {
  std::string cmd = std::string("'") + OPENPCC_BINARY + "' conformance < '" + input_path + "'";
  FILE* p = popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  std::string out;
  char buf[65536];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int status = pclose(p);
  EXPECT_EQ(status, 0) << "the harness must exit 0 after answering every line";
  std::vector<std::string> lines;
  std::istringstream s(out);
  for (std::string line; std::getline(s, line);) lines.push_back(line);
  return lines;
}

void check_answer(size_t index, const std::string& answer_line, const json& expected) {
  SCOPED_TRACE("line " + std::to_string(index + 1) + ": " + answer_line);
  json answer = json::parse(answer_line, nullptr, false);
  ASSERT_FALSE(answer.is_discarded()) << "answer is not JSON";
  ASSERT_TRUE(answer.is_object());
  if (expected.contains("error_contains")) {
    ASSERT_TRUE(answer.contains("error")) << "expected an error";
    EXPECT_EQ(answer.size(), 1u) << "an error answer holds only \"error\"";
    EXPECT_NE(answer["error"].get<std::string>().find(expected["error_contains"].get<std::string>()),
              std::string::npos);
    return;
  }
  ASSERT_FALSE(answer.contains("error")) << answer["error"];
  for (const auto& [key, value] : expected.items()) {
    ASSERT_TRUE(answer.contains(key)) << "missing " << key;
    EXPECT_EQ(answer[key], value) << key;
  }
}

TEST(ConformanceBinary, MixedGoodAndMalformedLines) {
  const std::string dir = std::string(OPENPCC_TEST_DATA_DIR) + "/conformance/";
  auto expected = read_lines(dir + "mixed.expected.jsonl");
  auto answers = run_binary(dir + "mixed.jsonl");
  ASSERT_EQ(answers.size(), expected.size()) << "one answer line per input line";
  for (size_t i = 0; i < answers.size(); ++i) check_answer(i, answers[i], json::parse(expected[i]));
}

TEST(Harness, AnswersEveryLineInOrder) {
  auto h = Harness::with_all_operations();
  std::istringstream in("{\"op\":\"x\"}\nnot json\n\n{\"op\":\"hpke.derive_keypair\",\"kem\":32,\"ikm\":\"00\"}\r\n");
  std::ostringstream out;
  h.run(in, out);
  auto text = out.str();
  std::vector<json> lines;
  std::istringstream s(text);
  for (std::string line; std::getline(s, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_TRUE(lines[0].contains("error"));
  EXPECT_TRUE(lines[1].contains("error"));
  EXPECT_TRUE(lines[2].contains("error"));
  EXPECT_TRUE(lines[3].contains("pk"));
  EXPECT_EQ(lines[3]["pk"].get<std::string>().size(), 64u);
}

TEST(Harness, RandomEphemeralWhenNoIkmGiven) {
  auto h = Harness::with_all_operations();
  auto kp = json::parse(h.answer_line(R"({"op":"hpke.derive_keypair","kem":32,"ikm":"0102"})"));
  json seal = {{"op", "hpke.seal"}, {"mode", 0}, {"kem", 32}, {"kdf", 1}, {"aead", 1}, {"pk", kp["pk"]},
               {"info", ""},        {"aad", ""},  {"pt", "68656c6c6f"}};
  auto a = json::parse(h.answer_line(seal.dump()));
  auto b = json::parse(h.answer_line(seal.dump()));
  ASSERT_TRUE(a.contains("enc") && b.contains("enc"));
  EXPECT_NE(a["enc"], b["enc"]);
  json open = {{"op", "hpke.open"}, {"mode", 0}, {"kem", 32},      {"kdf", 1},       {"aead", 1},
               {"sk", kp["sk"]},    {"info", ""}, {"aad", ""},     {"enc", a["enc"]}, {"ct", a["ct"]}};
  EXPECT_EQ(json::parse(h.answer_line(open.dump()))["pt"], "68656c6c6f");
}

TEST(Harness, ExportOnlySuite) {
  auto h = Harness::with_all_operations();
  auto kp = json::parse(h.answer_line(R"({"op":"hpke.derive_keypair","kem":16,"ikm":"0102"})"));
  json seal = {{"op", "hpke.seal"},  {"mode", 0}, {"kem", 16}, {"kdf", 1},
               {"aead", 0xffff},     {"pk", kp["pk"]}, {"info", "aa"}, {"aad", ""},
               {"pt", ""},           {"exporter_context", "bb"}, {"exporter_length", 40}};
  auto a = json::parse(h.answer_line(seal.dump()));
  ASSERT_FALSE(a.contains("error")) << a;
  json open = {{"op", "hpke.open"}, {"mode", 0},       {"kem", 16},       {"kdf", 1},
               {"aead", 0xffff},    {"sk", kp["sk"]},  {"info", "aa"},    {"aad", ""},
               {"enc", a["enc"]},   {"ct", ""},        {"exporter_context", "bb"}, {"exporter_length", 40}};
  auto b = json::parse(h.answer_line(open.dump()));
  EXPECT_EQ(a["exported"], b["exported"]);
  EXPECT_EQ(a["exported"].get<std::string>().size(), 80u);
  seal["pt"] = "00";
  EXPECT_TRUE(json::parse(h.answer_line(seal.dump())).contains("error"));
}

}  // namespace
}  // namespace openpcc::conformance
