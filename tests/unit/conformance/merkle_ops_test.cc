// merkle.* ops against every transparency-dev/merkle vector file in tests/data/merkle (base64 turned into hex), plus
// merkle.root on the vectors' 8-leaf tree and malformed requests.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "conformance/harness.h"

namespace openpcc::conformance {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string b64_to_hex(const json& v) {
  auto b = from_base64(v.get<std::string>());
  EXPECT_TRUE(b);
  return b ? to_hex(*b) : "";
}

json hex_proof(const json& proof) {
  json out = json::array();
  if (proof.is_null()) return out;
  for (const auto& p : proof) out.push_back(b64_to_hex(p));
  return out;
}

std::vector<fs::path> files(const std::string& kind) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(OPENPCC_TEST_DATA_DIR) / "merkle" / kind)) {
    if (e.is_regular_file() && e.path().extension() == ".json") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

class MerkleOps : public ::testing::Test {
 protected:
  json ask(const json& request) const {
    json answer = json::parse(harness_.answer_line(request.dump()), nullptr, false);
    EXPECT_TRUE(answer.is_object());
    return answer;
  }
  Harness harness_ = Harness::with_all_operations();
};

TEST_F(MerkleOps, InclusionVectorFiles) {
  auto all = files("inclusion");
  ASSERT_GE(all.size(), 30u);
  for (const auto& f : all) {
    SCOPED_TRACE(f.string());
    json v = read_json(f);
    json answer = ask({{"op", "merkle.verify_inclusion"},
                       {"leaf_index", v["leafIdx"]},
                       {"tree_size", v["treeSize"]},
                       {"leaf_hash", b64_to_hex(v["leafHash"])},
                       {"root", b64_to_hex(v["root"])},
                       {"proof", hex_proof(v["proof"])}});
    EXPECT_EQ(answer, (json{{"valid", !v["wantErr"].get<bool>()}}));
  }
}

TEST_F(MerkleOps, ConsistencyVectorFiles) {
  auto all = files("consistency");
  ASSERT_GE(all.size(), 40u);
  for (const auto& f : all) {
    SCOPED_TRACE(f.string());
    json v = read_json(f);
    json answer = ask({{"op", "merkle.verify_consistency"},
                       {"size1", v["size1"]},
                       {"size2", v["size2"]},
                       {"root1", b64_to_hex(v["root1"])},
                       {"root2", b64_to_hex(v["root2"])},
                       {"proof", hex_proof(v["proof"])}});
    EXPECT_EQ(answer, (json{{"valid", !v["wantErr"].get<bool>()}}));
  }
}

TEST_F(MerkleOps, Root) {
  // The vectors' 8-leaf tree (RFC 6962 test leaves) and its prefixes.
  json leaves = {"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"};
  auto incl = read_json(fs::path(OPENPCC_TEST_DATA_DIR) / "merkle/inclusion/1/happy-path.json");
  EXPECT_EQ(ask({{"op", "merkle.root"}, {"leaves", leaves}}), (json{{"root", b64_to_hex(incl["root"])}}));
  auto cons = read_json(fs::path(OPENPCC_TEST_DATA_DIR) / "merkle/consistency/2/happy-path.json");
  json six(leaves.begin(), leaves.begin() + 6);
  EXPECT_EQ(ask({{"op", "merkle.root"}, {"leaves", six}}), (json{{"root", b64_to_hex(cons["root1"])}}));
  EXPECT_EQ(ask({{"op", "merkle.root"}, {"leaves", json::array()}}),
            (json{{"root", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}));
  EXPECT_EQ(ask({{"op", "merkle.root"}, {"leaves", {""}}}),
            (json{{"root", "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}}));
}

TEST_F(MerkleOps, MalformedRequestsAreErrorLines) {
  const std::string h(64, 'a');
  const json bad[] = {
      {{"op", "merkle.root"}},
      {{"op", "merkle.root"}, {"leaves", "00"}},
      {{"op", "merkle.root"}, {"leaves", {"0g"}}},
      {{"op", "merkle.root"}, {"leaves", {1}}},
      {{"op", "merkle.verify_inclusion"}, {"tree_size", 1}, {"leaf_hash", h}, {"root", h}},
      {{"op", "merkle.verify_inclusion"}, {"leaf_index", -1}, {"tree_size", 1}, {"leaf_hash", h}, {"root", h}},
      {{"op", "merkle.verify_inclusion"}, {"leaf_index", 0}, {"tree_size", 1}, {"leaf_hash", "xyz"}, {"root", h}},
      {{"op", "merkle.verify_inclusion"}, {"leaf_index", 0}, {"tree_size", 1}, {"leaf_hash", h}, {"root", h},
       {"proof", "aa"}},
      {{"op", "merkle.verify_consistency"}, {"size1", 1}, {"size2", 2}, {"root1", h}},
      {{"op", "merkle.verify_consistency"}, {"size1", 1}, {"size2", 2}, {"root1", h}, {"root2", h},
       {"proof", {"zz"}}},
  };
  for (const auto& req : bad) {
    json answer = ask(req);
    EXPECT_TRUE(answer.contains("error")) << req.dump() << " → " << answer.dump();
  }
  // Well-formed but unverifiable: short hashes, long proofs, index ≥ size are valid:false, not errors.
  EXPECT_EQ(ask({{"op", "merkle.verify_inclusion"}, {"leaf_index", 0}, {"tree_size", 1}, {"leaf_hash", "00"},
                 {"root", "00"}}),
            (json{{"valid", false}}));
  EXPECT_EQ(ask({{"op", "merkle.verify_inclusion"}, {"leaf_index", 5}, {"tree_size", 1}, {"leaf_hash", h},
                 {"root", h}}),
            (json{{"valid", false}}));
  EXPECT_EQ(ask({{"op", "merkle.verify_inclusion"}, {"leaf_index", 0}, {"tree_size", 1}, {"leaf_hash", h},
                 {"root", h}, {"proof", json::array()}}),
            (json{{"valid", true}}));
  json long_proof = json::array();
  for (int i = 0; i < 65; ++i) long_proof.push_back(h);
  EXPECT_EQ(ask({{"op", "merkle.verify_consistency"}, {"size1", 1}, {"size2", UINT64_MAX}, {"root1", h},
                 {"root2", h}, {"proof", long_proof}}),
            (json{{"valid", false}}));
  EXPECT_EQ(ask({{"op", "merkle.verify_consistency"}, {"size1", 3}, {"size2", 3}, {"root1", h}, {"root2", h}}),
            (json{{"valid", true}}));
}

}  // namespace
}  // namespace openpcc::conformance
