// Boot manifests: the simulated PC Client boot sequence, its event log and expected PCRs (checked against swtpm and
// tpm2_eventlog fixtures), and the model digest of files.
#include "attest/boot_manifest.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "attest/event_log.h"
#include "attest/uefi.h"
#include "support/temp_dir.h"
#include "tpm_fixtures.h"

namespace openpcc::attest {
namespace {

using testing::fixture_boot_manifest;
using testing::sha256_bytes;
using testing::tpm_fixture;
using testing::tpm_fixture_path;

void write_file(const std::filesystem::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// make_fixtures.sh runs this with OPENPCC_WRITE_TPM_FIXTURES=<dir> to produce the log it replays into swtpm and
// feeds to tpm2_eventlog; otherwise it checks that the committed log is still what the writer produces.
TEST(BootManifestFixture, CommittedEventLogIsWhatTheWriterProduces) {
  auto log = boot_event_log(fixture_boot_manifest());
  ASSERT_TRUE(log.has_value()) << log.error().to_string();
  if (const char* dir = std::getenv("OPENPCC_WRITE_TPM_FIXTURES")) {
    std::ofstream(std::filesystem::path(dir) / "boot_eventlog.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(log->data()), static_cast<std::streamsize>(log->size()));
    std::ofstream extends(std::filesystem::path(dir) / "boot_pcr_extends.txt");
    for (const MeasuredEvent& ev : boot_events(fixture_boot_manifest())) {
      extends << ev.pcr << ' ' << to_hex(ev.digest) << '\n';
    }
    GTEST_SKIP() << "wrote fixtures to " << dir;
  }
  EXPECT_EQ(*log, tpm_fixture("boot_eventlog.bin"));
}

TEST(BootManifestFixture, ExpectedPcrsEqualSwtpmAfterReplayingTheLog) {
  // make_fixtures.sh extended a fresh swtpm with every event digest, then read the attested PCRs.
  auto tpm_values = testing::attested_pcr_values(tpm_fixture("pcr_values_boot.bin"));
  ASSERT_TRUE(tpm_values.has_value());
  EXPECT_EQ(expected_pcrs(fixture_boot_manifest()), *tpm_values);
}

TEST(BootManifestFixture, ExpectedPcrsEqualTpm2EventlogReplay) {
  auto yaml = test_support::read_file(tpm_fixture_path("boot_eventlog.yaml"));
  ASSERT_TRUE(yaml.has_value());
  auto theirs = testing::tpm2_eventlog_sha256_pcrs(*yaml);
  ASSERT_TRUE(theirs.has_value());
  const PcrValues ours = expected_pcrs(fixture_boot_manifest());
  for (uint32_t pcr : kAttestedPcrs) {
    ASSERT_TRUE(theirs->contains(pcr)) << pcr;
    EXPECT_EQ(to_hex(ours.at(pcr)), to_hex(theirs->at(pcr))) << "PCR " << pcr;
  }
  // tpm2_eventlog also lists PCR 6 (a separator only); nothing beyond what we logged.
  std::set<uint32_t> listed;
  for (const auto& [pcr, value] : *theirs) listed.insert(pcr);
  EXPECT_EQ(listed, (std::set<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 12}));
}

TEST(BootManifest, EventsCoverEveryAttestedPcrAndReplayMatches) {
  const BootManifest m = fixture_boot_manifest();
  ASSERT_TRUE(check_boot_manifest(m).has_value());
  const auto events = boot_events(m);
  for (uint32_t pcr : kAttestedPcrs) {
    EXPECT_TRUE(std::any_of(events.begin(), events.end(), [&](const MeasuredEvent& e) { return e.pcr == pcr; }))
        << pcr;
  }
  auto log = parse_event_log(boot_event_log(m).value());
  ASSERT_TRUE(log.has_value()) << log.error().to_string();
  ASSERT_EQ(log->events.size(), events.size());
  EXPECT_EQ(replay_event_log(*log, kAttestedPcrs), expected_pcrs(m));
  EXPECT_EQ(secure_boot_enabled(*log), std::optional<bool>(true));
  EXPECT_EQ(kernel_cmdlines(*log), std::vector<std::string>{m.kernel_cmdline});
  // PCR 12 holds only the model digest.
  EXPECT_EQ(expected_pcrs(m).at(kModelDigestPcr), pcr_extend(Bytes(32, 0), m.model_digest));
}

TEST(BootManifest, EventContents) {
  const BootManifest m = fixture_boot_manifest();
  const auto events = boot_events(m);
  auto find = [&](uint32_t pcr, uint32_t type) -> const MeasuredEvent* {
    for (const auto& e : events) {
      if (e.pcr == pcr && e.type == type) return &e;
    }
    return nullptr;
  };
  const MeasuredEvent* crtm = find(0, kEvSCrtmVersion);
  ASSERT_NE(crtm, nullptr);
  EXPECT_EQ(from_ucs2le(crtm->data).value(), m.firmware_version);
  EXPECT_EQ(crtm->data.size(), 2 * (m.firmware_version.size() + 1));
  const MeasuredEvent* app = find(4, kEvEfiBootServicesApplication);
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->digest, m.bootloader_digest);
  const MeasuredEvent* action = find(4, kEvEfiAction);
  ASSERT_NE(action, nullptr);
  EXPECT_EQ(to_string(action->data), "Calling EFI Application from Boot Option");
  const MeasuredEvent* gpt = find(5, kEvEfiGptEvent);
  ASSERT_NE(gpt, nullptr);
  EXPECT_EQ(gpt->data, m.gpt_header);
  EXPECT_EQ(gpt->digest, sha256_bytes(to_string(m.gpt_header)));
  const MeasuredEvent* ipl = find(8, kEvIpl);
  ASSERT_NE(ipl, nullptr);
  EXPECT_EQ(to_string(ipl->data), "kernel_cmdline: " + m.kernel_cmdline + std::string(1, '\0'));
  EXPECT_EQ(ipl->digest, sha256_bytes(m.kernel_cmdline));
  const MeasuredEvent* model = find(12, kEvIpl);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->digest, m.model_digest);
  // PCR 7: SecureBoot then PK, KEK, db, dbx; each event's digest is SHA-256 of its UEFI_VARIABLE_DATA.
  std::vector<std::string> names;
  for (const auto& e : events) {
    if (e.pcr != 7 || e.type != kEvEfiVariableDriverConfig) continue;
    auto var = parse_uefi_variable_data(e.data);
    ASSERT_TRUE(var.has_value());
    names.push_back(var->name);
    EXPECT_EQ(e.digest, sha256_bytes(to_string(e.data)));
    if (var->name == "SecureBoot") EXPECT_EQ(var->data, Bytes{1});
  }
  EXPECT_EQ(names, (std::vector<std::string>{"SecureBoot", "PK", "KEK", "db", "dbx"}));
  // Separators in PCRs 0-7, 4 zero bytes each.
  for (uint32_t pcr = 0; pcr <= 7; ++pcr) {
    const MeasuredEvent* sep = find(pcr, kEvSeparator);
    ASSERT_NE(sep, nullptr) << pcr;
    EXPECT_EQ(sep->data, Bytes(4, 0));
  }
}

TEST(BootManifest, EachFieldMovesOnlyItsPcrs) {
  const BootManifest base = fixture_boot_manifest();
  const PcrValues before = expected_pcrs(base);
  auto changed_pcrs = [&](const BootManifest& m) {
    std::set<uint32_t> changed;
    const PcrValues after = expected_pcrs(m);
    for (uint32_t pcr : kAttestedPcrs) {
      if (after.at(pcr) != before.at(pcr)) changed.insert(pcr);
    }
    return changed;
  };
  BootManifest m = base;
  m.firmware_version += "x";
  EXPECT_EQ(changed_pcrs(m), std::set<uint32_t>{0});
  m = base;
  m.bootloader_digest[0] ^= 1;
  EXPECT_EQ(changed_pcrs(m), std::set<uint32_t>{4});
  m = base;
  m.gpt_header.back() ^= 1;
  EXPECT_EQ(changed_pcrs(m), std::set<uint32_t>{5});
  m = base;
  m.secure_boot = false;
  EXPECT_EQ(changed_pcrs(m), std::set<uint32_t>{7});
  m = base;
  m.kernel_cmdline += " quiet";
  EXPECT_EQ(changed_pcrs(m), std::set<uint32_t>{8});
  m = base;
  m.model_digest[31] ^= 1;
  EXPECT_EQ(changed_pcrs(m), std::set<uint32_t>{12});
}

TEST(BootManifest, SecureBootOffIsVisibleInTheLog) {
  BootManifest m = fixture_boot_manifest();
  m.secure_boot = false;
  auto log = parse_event_log(boot_event_log(m).value());
  ASSERT_TRUE(log.has_value());
  EXPECT_EQ(secure_boot_enabled(*log), std::optional<bool>(false));
}

TEST(BootManifest, RejectsBadDigestSizes) {
  BootManifest m = fixture_boot_manifest();
  m.model_digest.pop_back();
  EXPECT_EQ(check_boot_manifest(m).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(boot_event_log(m).has_value());
  m = fixture_boot_manifest();
  m.bootloader_digest.clear();
  EXPECT_FALSE(boot_event_log(m).has_value());
  m = fixture_boot_manifest();
  m.kernel_cmdline.assign(kMaxEventDataSize, 'a');
  EXPECT_FALSE(boot_event_log(m).has_value());
}

// The format documented in boot_manifest.h, computed independently here.
Bytes expected_model_digest(std::vector<std::pair<std::string, std::string>> files) {
  std::sort(files.begin(), files.end());
  Bytes listing = to_bytes(std::string_view("openpcc/model-digest/v1\0", 24));
  for (const auto& [path, content] : files) {
    append(listing, i2osp(path.size(), 8));
    append(listing, as_bytes(path));
    append(listing, i2osp(content.size(), 8));
    append(listing, sha256_bytes(content));
  }
  return sha256_bytes(to_string(listing));
}

TEST(ModelDigest, DirectoryListingFormat) {
  test_support::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::filesystem::create_directories(dir / "weights" / "shard");
  std::filesystem::create_directories(dir / "empty");
  write_file(dir / "config.json", "{\"layers\": 2}");
  write_file(dir / "weights" / "a.bin", std::string(3 << 20, '\x5a'));  // larger than one read chunk
  write_file(dir / "weights" / "shard" / "b.bin", "");
  write_file(dir / "Z", "upper case sorts first");
  auto digest = model_digest_of_files(dir.path());
  ASSERT_TRUE(digest.has_value()) << digest.error().to_string();
  EXPECT_EQ(*digest, expected_model_digest({{"config.json", "{\"layers\": 2}"},
                                            {"weights/a.bin", std::string(3 << 20, '\x5a')},
                                            {"weights/shard/b.bin", ""},
                                            {"Z", "upper case sorts first"}}));
  // Same content elsewhere → same digest; any change → a different one.
  EXPECT_EQ(model_digest_of_files(dir.path()).value(), *digest);
  write_file(dir / "weights" / "shard" / "b.bin", "x");
  EXPECT_NE(model_digest_of_files(dir.path()).value(), *digest);
  write_file(dir / "weights" / "shard" / "b.bin", "");
  std::filesystem::rename(dir / "config.json", dir / "config2.json");
  EXPECT_NE(model_digest_of_files(dir.path()).value(), *digest);
}

TEST(ModelDigest, SingleFileUsesItsName) {
  test_support::TempDir dir;
  write_file(dir / "model.gguf", "tensor bytes");
  EXPECT_EQ(model_digest_of_files(dir / "model.gguf").value(), expected_model_digest({{"model.gguf", "tensor bytes"}}));
}

TEST(ModelDigest, RejectsSymlinksEmptyDirectoriesAndMissingPaths) {
  test_support::TempDir dir;
  std::filesystem::create_directories(dir / "m");
  EXPECT_EQ(model_digest_of_files(dir / "m").error().code, ErrorCode::kInvalidArgument);  // no files
  write_file(dir / "m" / "w.bin", "w");
  std::filesystem::create_symlink(dir / "m" / "w.bin", dir / "m" / "link.bin");
  auto r = model_digest_of_files(dir / "m");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("symbolic link"), std::string::npos);
  std::filesystem::remove(dir / "m" / "link.bin");
  std::filesystem::create_directory_symlink(dir / "m", dir / "mlink");
  EXPECT_EQ(model_digest_of_files(dir / "mlink").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(model_digest_of_files(dir / "missing").error().code, ErrorCode::kIo);
  EXPECT_TRUE(model_digest_of_files(dir / "m").has_value());
}

}  // namespace
}  // namespace openpcc::attest
