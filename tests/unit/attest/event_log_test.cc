// The TCG event log: the real GCE log from tests/data/attestation (replayed against tpm2_eventlog's replay of the
// same bytes), writer/parser round trips, StartupLocality, the readers for SecureBoot and kernel command lines, and
// the parser's bounds and limits.
#include "attest/event_log.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "attest/little_endian.h"
#include "attest/uefi.h"
#include "tpm_fixtures.h"

namespace openpcc::attest {
namespace {

using testing::sha256_bytes;
using testing::tpm_fixture;

Bytes gce_log_bytes() {
  auto bytes =
      test_support::txtar_pem(std::filesystem::path(OPENPCC_TEST_DATA_DIR) / "attestation" / "tcg_eventlog.txt",
                              "test_tcg_event_log.pem", "LOG");
  return bytes.value_or(Bytes{});
}

TEST(GceEventLog, ParsesWithPlausibleContent) {
  const Bytes bytes = gce_log_bytes();
  ASSERT_EQ(bytes.size(), 37618u);
  auto log = parse_event_log(bytes);
  ASSERT_TRUE(log.has_value()) << log.error().to_string();
  // 100 TCG_PCR_EVENT2 after the Spec ID header (tpm2_eventlog numbers 101 events including the header).
  EXPECT_EQ(log->events.size(), 100u);
  EXPECT_EQ(log->startup_locality, 0);
  std::map<uint32_t, int> by_type;
  for (const TcgEvent& ev : log->events) {
    ++by_type[ev.type];
    EXPECT_EQ(ev.sha256.size(), 32u);
  }
  EXPECT_EQ(by_type[kEvNoAction], 2);  // two SP800-155 Event3 records
  EXPECT_EQ(by_type[kEvSeparator], 8);
  EXPECT_EQ(by_type[kEvIpl], 66);      // GRUB's commands and files
  EXPECT_EQ(by_type[kEvEfiVariableDriverConfig], 5);
  EXPECT_EQ(by_type[kEvEfiBootServicesApplication], 3);
  EXPECT_EQ(by_type[kEvEfiGptEvent], 1);
  EXPECT_EQ(by_type[kEvSCrtmVersion], 1);
  // First measured event: the CRTM version string "GCE Virtual Firmware v2" in UCS-2.
  const TcgEvent& crtm = log->events[2];
  EXPECT_EQ(crtm.type, kEvSCrtmVersion);
  EXPECT_EQ(from_ucs2le(crtm.data).value(), "GCE Virtual Firmware v2");
  EXPECT_EQ(crtm.sha256, sha256_bytes(to_string(crtm.data)));
  EXPECT_EQ(event_type_name(log->events.back().type), "EV_EFI_ACTION");
  EXPECT_EQ(to_string(log->events.back().data), "Exit Boot Services Returned with Success");
}

TEST(GceEventLog, SecureBootVariableIsMeasuredAsEnabled) {
  auto log = parse_event_log(gce_log_bytes()).value();
  // PCR 7's first event is UEFI_VARIABLE_DATA{EFI_GLOBAL_VARIABLE, "SecureBoot", 0x01}, whose SHA-256 is the event
  // digest.
  const TcgEvent& first7 = *std::find_if(log.events.begin(), log.events.end(), [](const TcgEvent& e) {
    return e.pcr == 7;
  });
  auto var = parse_uefi_variable_data(first7.data).value();
  EXPECT_EQ(efi_guid_string(var.vendor_guid), "8be4df61-93ca-11d2-aa0d-00e098032b8c");
  EXPECT_EQ(var.name, "SecureBoot");
  EXPECT_EQ(var.data, Bytes{1});
  EXPECT_EQ(first7.sha256, sha256_bytes(to_string(first7.data)));
  EXPECT_EQ(secure_boot_enabled(log), std::optional<bool>(true));
  // The other PCR 7 variables.
  std::vector<std::string> names;
  for (const TcgEvent& e : log.events) {
    if (e.pcr == 7 && e.type == kEvEfiVariableDriverConfig) names.push_back(parse_uefi_variable_data(e.data)->name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"SecureBoot", "PK", "KEK", "db", "dbx"}));
}

TEST(GceEventLog, KernelCommandLineFromGrub) {
  auto log = parse_event_log(gce_log_bytes()).value();
  auto cmdlines = kernel_cmdlines(log);
  ASSERT_EQ(cmdlines.size(), 1u);
  EXPECT_TRUE(cmdlines[0].starts_with("/vmlinuz-6.8.0-1030-gcp ro ")) << cmdlines[0];
  EXPECT_NE(cmdlines[0].find(" confsec.root=3f729361d013276cf81e970ace1b855243e8ca09aacf611103fee2dcdfd95f09 "),
            std::string::npos);
  EXPECT_TRUE(cmdlines[0].ends_with("console=ttyS0,115200"));
  // A forged command line (data changed, digest kept) is not reported.
  for (TcgEvent& e : log.events) {
    if (e.pcr == 8 && to_string(e.data).starts_with("kernel_cmdline: ")) e.data[20] ^= 1;
  }
  EXPECT_TRUE(kernel_cmdlines(log).empty());
}

TEST(GceEventLog, ReplayEqualsTpm2EventlogReplay) {
  auto log = parse_event_log(gce_log_bytes()).value();
  auto yaml = test_support::read_file(testing::tpm_fixture_path("gce_eventlog.yaml"));
  ASSERT_TRUE(yaml.has_value());
  auto theirs = testing::tpm2_eventlog_sha256_pcrs(*yaml);
  ASSERT_TRUE(theirs.has_value());
  ASSERT_EQ(theirs->size(), 11u);  // PCRs 0-9 and 14
  std::vector<uint32_t> pcrs;
  for (const auto& [pcr, value] : *theirs) pcrs.push_back(pcr);
  const PcrValues ours = replay_event_log(log, pcrs);
  for (uint32_t pcr : pcrs) {
    if (pcr != 0) EXPECT_EQ(to_hex(ours.at(pcr)), to_hex(theirs->at(pcr))) << "PCR " << pcr;
  }
  // PCR 0 holds the log's two EV_NO_ACTION events, which must not be extended (PC Client PFP: EV_NO_ACTION events
  // are never measured). tpm2_eventlog 5.4 extends them anyway (tpm2-tools issue #3224, fixed after 5.5): replaying
  // with that bug reproduces its value, so the difference is that bug and nothing else.
  EXPECT_NE(ours.at(0), theirs->at(0));
  Bytes buggy(32, 0);
  for (const TcgEvent& ev : log.events) {
    if (ev.pcr == 0) buggy = pcr_extend(buggy, ev.sha256);
  }
  EXPECT_EQ(to_hex(buggy), to_hex(theirs->at(0)));
  // A PCR without events keeps its reset value.
  const uint32_t unused[] = {15};
  EXPECT_EQ(replay_event_log(log, unused).at(15), Bytes(32, 0));
}

TEST(GceEventLog, EveryTruncationFailsCleanly) {
  const Bytes bytes = gce_log_bytes();
  auto full = parse_event_log(bytes);
  ASSERT_TRUE(full.has_value());
  // Cutting at an event boundary leaves a valid, shorter log; anywhere else fails with kTruncated.
  size_t valid_prefixes = 0;
  for (size_t n = 0; n < bytes.size(); n += (n < 2000 ? 1 : 97)) {
    auto r = parse_event_log(ByteSpan(bytes).first(n));
    if (r.has_value()) {
      ++valid_prefixes;
      EXPECT_LT(r->events.size(), full->events.size());
    } else {
      EXPECT_EQ(r.error().code, ErrorCode::kTruncated) << n << ": " << r.error().to_string();
    }
  }
  EXPECT_GT(valid_prefixes, 0u);
}

TEST(EventLogWriter, RoundTrip) {
  EventLogWriter w;
  ASSERT_TRUE(w.add(0, kEvSCrtmVersion, to_ucs2le("fw 1", true)).has_value());
  ASSERT_TRUE(w.add(7, kEvSeparator, Bytes(4, 0)).has_value());
  ASSERT_TRUE(w.add_with_digest(4, kEvEfiBootServicesApplication, Bytes(32, 0x42), to_bytes("image")).has_value());
  ASSERT_TRUE(w.add(23, kEvAction, {}).has_value());
  auto log = parse_event_log(w.bytes());
  ASSERT_TRUE(log.has_value()) << log.error().to_string();
  ASSERT_EQ(log->events.size(), 4u);
  EXPECT_EQ(log->events[0].pcr, 0u);
  EXPECT_EQ(log->events[0].type, kEvSCrtmVersion);
  EXPECT_EQ(log->events[0].sha256, sha256_bytes(to_string(to_ucs2le("fw 1", true))));
  EXPECT_EQ(log->events[2].sha256, Bytes(32, 0x42));
  EXPECT_EQ(log->events[2].data, to_bytes("image"));
  EXPECT_TRUE(log->events[3].data.empty());
  const uint32_t pcrs[] = {0, 4, 7, 23};
  const PcrValues replayed = replay_event_log(*log, pcrs);
  EXPECT_EQ(replayed.at(4), pcr_extend(Bytes(32, 0), Bytes(32, 0x42)));
  EXPECT_EQ(replayed.at(7), pcr_extend(Bytes(32, 0), sha256_bytes(std::string(4, '\0'))));
  EXPECT_EQ(secure_boot_enabled(*log), std::nullopt);
  EXPECT_TRUE(kernel_cmdlines(*log).empty());
}

TEST(EventLogWriter, RejectsBadEvents) {
  EventLogWriter w;
  const Bytes before = w.bytes();
  EXPECT_EQ(w.add(24, kEvAction, {}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(w.add_with_digest(0, kEvAction, Bytes(20, 0), {}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(w.add(0, kEvAction, Bytes(kMaxEventDataSize + 1, 0)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(w.bytes(), before);
  EXPECT_TRUE(w.add(0, kEvAction, Bytes(kMaxEventDataSize, 0)).has_value());
  EXPECT_TRUE(parse_event_log(w.bytes()).has_value());
}

EventLogWriter locality_log() {
  EventLogWriter w(3);
  (void)w.add(0, kEvSCrtmVersion, to_ucs2le("H-CRTM firmware", true));
  (void)w.add(0, kEvSeparator, Bytes(4, 0));
  (void)w.add(7, kEvSeparator, Bytes(4, 0));
  return w;
}

// make_fixtures.sh writes this log too, starts a second swtpm from locality 3 and extends it with the log's
// measured events (locality_pcr_extends.txt → locality_pcr_values.bin).
TEST(EventLogFixture, CommittedLocalityLogIsWhatTheWriterProduces) {
  const Bytes bytes = locality_log().bytes();
  if (const char* dir = std::getenv("OPENPCC_WRITE_TPM_FIXTURES")) {
    std::ofstream(std::filesystem::path(dir) / "locality_eventlog.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    std::ofstream extends(std::filesystem::path(dir) / "locality_pcr_extends.txt");
    const EventLog log = parse_event_log(bytes).value();
    for (const TcgEvent& ev : log.events) {
      if (ev.type != kEvNoAction) extends << ev.pcr << ' ' << to_hex(ev.sha256) << '\n';
    }
    GTEST_SKIP() << "wrote fixtures to " << dir;
  }
  EXPECT_EQ(bytes, tpm_fixture("locality_eventlog.bin"));
}

TEST(EventLog, StartupLocalitySetsPcr0StartingValue) {
  auto log = parse_event_log(locality_log().bytes());
  ASSERT_TRUE(log.has_value()) << log.error().to_string();
  EXPECT_EQ(log->startup_locality, 3);
  ASSERT_EQ(log->events.size(), 4u);
  EXPECT_EQ(log->events[0].type, kEvNoAction);
  Bytes start(32, 0);
  start[31] = 3;
  const uint32_t pcrs[] = {0, 7};
  const PcrValues replayed = replay_event_log(*log, pcrs);
  EXPECT_EQ(replayed.at(0), pcr_extend(pcr_extend(start, log->events[1].sha256), log->events[2].sha256));
  // A TPM started from locality 3 and extended with the same events agrees.
  const Bytes tpm = tpm_fixture("locality_pcr_values.bin");
  ASSERT_EQ(tpm.size(), 64u);
  EXPECT_EQ(to_hex(replayed.at(0)), to_hex(ByteSpan(tpm).first(32)));
  EXPECT_EQ(to_hex(replayed.at(7)), to_hex(ByteSpan(tpm).subspan(32)));
}

// A hand-built log: Spec ID listing `algs`, then events with the given digests.
struct RawEvent {
  uint32_t pcr, type;
  std::vector<std::pair<uint16_t, Bytes>> digests;
  Bytes data;
};

Bytes spec_id(const std::vector<std::pair<uint16_t, uint16_t>>& algs, uint8_t vendor_size = 0) {
  Bytes s = to_bytes(std::string_view("Spec ID Event03\0", 16));
  append_le<uint32_t>(s, 0);
  s.push_back(0);
  s.push_back(2);
  s.push_back(0);
  s.push_back(2);
  append_le<uint32_t>(s, static_cast<uint32_t>(algs.size()));
  for (auto [alg, size] : algs) {
    append_le<uint16_t>(s, alg);
    append_le<uint16_t>(s, size);
  }
  s.push_back(vendor_size);
  s.insert(s.end(), vendor_size, 0xee);
  return s;
}

Bytes build_log(ByteSpan spec, const std::vector<RawEvent>& events) {
  Bytes out;
  append_le<uint32_t>(out, 0);
  append_le<uint32_t>(out, kEvNoAction);
  out.insert(out.end(), 20, 0);
  append_le<uint32_t>(out, static_cast<uint32_t>(spec.size()));
  append(out, spec);
  for (const RawEvent& e : events) {
    append_le<uint32_t>(out, e.pcr);
    append_le<uint32_t>(out, e.type);
    append_le<uint32_t>(out, static_cast<uint32_t>(e.digests.size()));
    for (const auto& [alg, d] : e.digests) {
      append_le<uint16_t>(out, alg);
      append(out, d);
    }
    append_le<uint32_t>(out, static_cast<uint32_t>(e.data.size()));
    append(out, e.data);
  }
  return out;
}

TEST(EventLog, MultipleBanksKeepOnlySha256) {
  // SHA-1, SHA-256, SHA-384 and an unknown algorithm 0x1234 of 7 bytes: its size comes from the Spec ID.
  const Bytes spec = spec_id({{0x0004, 20}, {0x000b, 32}, {0x000c, 48}, {0x1234, 7}}, 5);
  const Bytes d256 = sha256_bytes("event");
  const Bytes log = build_log(spec, {{4, kEvSeparator, {{0x0004, Bytes(20, 1)}, {0x1234, Bytes(7, 9)},
                                                        {0x000b, d256}, {0x000c, Bytes(48, 3)}}, to_bytes("event")},
                                     {5, kEvAction, {{0x000b, Bytes(32, 2)}}, {}}});
  auto parsed = parse_event_log(log);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().to_string();
  ASSERT_EQ(parsed->events.size(), 2u);
  EXPECT_EQ(parsed->events[0].sha256, d256);
  EXPECT_EQ(parsed->events[0].data, to_bytes("event"));
  EXPECT_EQ(parsed->events[1].sha256, Bytes(32, 2));
}

void expect_error(const Bytes& log, ErrorCode code, std::string_view fragment) {
  auto r = parse_event_log(log);
  ASSERT_FALSE(r.has_value()) << fragment;
  EXPECT_EQ(r.error().code, code) << r.error().to_string();
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().to_string();
}

TEST(EventLog, RejectsMalformedHeaders) {
  const RawEvent ok{0, kEvSeparator, {{0x000b, Bytes(32, 0)}}, Bytes(4, 0)};
  expect_error({}, ErrorCode::kTruncated, "header pcrIndex");
  expect_error(build_log(spec_id({{0x0004, 20}}), {}), ErrorCode::kUnsupported, "no SHA-256 bank");
  expect_error(build_log(spec_id({{0x000b, 20}}), {}), ErrorCode::kDecode, "digest size 20");
  expect_error(build_log(spec_id({{0x000b, 32}, {0x000b, 32}}), {}), ErrorCode::kDecode, "twice");
  expect_error(build_log(spec_id({{0x000b, 32}, {0x9999, 0}}), {}), ErrorCode::kDecode, "digest size 0");
  expect_error(build_log(spec_id({}), {}), ErrorCode::kDecode, "0 algorithms");
  Bytes legacy_sig = spec_id({{0x000b, 32}});
  legacy_sig[14] = '2';  // "Spec ID Event02"
  expect_error(build_log(legacy_sig, {}), ErrorCode::kUnsupported, "Spec ID Event03");
  Bytes trailing = spec_id({{0x000b, 32}});
  trailing.push_back(0);
  expect_error(build_log(trailing, {}), ErrorCode::kDecode, "trailing");
  // The header must be an EV_NO_ACTION in PCR 0.
  Bytes wrong_type = build_log(spec_id({{0x000b, 32}}), {ok});
  wrong_type[4] = 0x04;
  expect_error(wrong_type, ErrorCode::kUnsupported, "Spec ID header");
  // Too many algorithms.
  std::vector<std::pair<uint16_t, uint16_t>> many;
  for (uint16_t i = 0; i < 17; ++i) many.push_back({static_cast<uint16_t>(0x100 + i), 32});
  expect_error(build_log(spec_id(many), {}), ErrorCode::kDecode, "17 algorithms");
}

TEST(EventLog, RejectsMalformedEvents) {
  const Bytes spec = spec_id({{0x0004, 20}, {0x000b, 32}});
  const Bytes d20(20, 0), d32(32, 0);
  expect_error(build_log(spec, {{0, kEvAction, {{0x0004, d20}}, {}}}), ErrorCode::kDecode, "no SHA-256 digest");
  expect_error(build_log(spec, {{0, kEvAction, {}, {}}}), ErrorCode::kDecode, "0 digests");
  expect_error(build_log(spec, {{0, kEvAction, {{0x000b, d32}, {0x000b, d32}}, {}}}), ErrorCode::kDecode,
               "two digests");
  expect_error(build_log(spec, {{0, kEvAction, {{0x000c, Bytes(48, 0)}}, {}}}), ErrorCode::kDecode,
               "not in the Spec ID");
  expect_error(build_log(spec, {{0, kEvAction, {{0x000b, d32}, {0x0004, d20}, {0x000c, d32}}, {}}}),
               ErrorCode::kDecode, "3 digests");
  expect_error(build_log(spec, {{24, kEvAction, {{0x000b, d32}}, {}}}), ErrorCode::kDecode, "PCR index 24");
  // The event index is in the message (the header is event 0).
  expect_error(build_log(spec, {{0, kEvAction, {{0x000b, d32}}, {}}, {99, kEvAction, {{0x000b, d32}}, {}}}),
               ErrorCode::kDecode, "event 2");
  // Data larger than the limit, and a size field promising more than there is.
  expect_error(build_log(spec, {{0, kEvAction, {{0x000b, d32}}, Bytes(kMaxEventDataSize + 1, 0)}}),
               ErrorCode::kLimitExceeded, "event data");
  Bytes short_data = build_log(spec, {{0, kEvAction, {{0x000b, d32}}, Bytes(10, 0)}});
  short_data.resize(short_data.size() - 1);
  expect_error(short_data, ErrorCode::kTruncated, "event data");
}

TEST(EventLog, StartupLocalityRules) {
  const Bytes spec = spec_id({{0x000b, 32}});
  auto locality_event = [](uint8_t locality, size_t extra = 0) {
    Bytes data = to_bytes(std::string_view("StartupLocality\0", 16));
    data.push_back(locality);
    data.insert(data.end(), extra, 0);
    return RawEvent{0, kEvNoAction, {{0x000b, Bytes(32, 0)}}, data};
  };
  EXPECT_EQ(parse_event_log(build_log(spec, {locality_event(4)})).value().startup_locality, 4);
  expect_error(build_log(spec, {locality_event(5)}), ErrorCode::kDecode, "startup locality 5");
  expect_error(build_log(spec, {locality_event(3, 1)}), ErrorCode::kDecode, "not 17 bytes");
  expect_error(build_log(spec, {locality_event(3), locality_event(3)}), ErrorCode::kDecode, "second StartupLocality");
  // In another PCR it is just an EV_NO_ACTION event.
  RawEvent pcr1 = locality_event(3);
  pcr1.pcr = 1;
  EXPECT_EQ(parse_event_log(build_log(spec, {pcr1})).value().startup_locality, 0);
}

TEST(EventLog, Limits) {
  Bytes huge(kMaxEventLogSize + 1, 0);
  expect_error(huge, ErrorCode::kLimitExceeded, "exceed");
  // kMaxEventCount + 1 minimal events (4 + 4 + 4 + 2 + 32 + 4 = 50 bytes each, about 5 MB).
  EventLogWriter w;
  for (size_t i = 0; i <= kMaxEventCount; ++i) ASSERT_TRUE(w.add_with_digest(1, kEvAction, Bytes(32, 0), {}));
  expect_error(w.bytes(), ErrorCode::kLimitExceeded, "more than 100000 events");
}

TEST(EventLog, SecureBootReaderTrustsOnlyMatchingDigests) {
  const uint8_t on = 1, off = 0, odd = 2;
  auto log_with = [](std::vector<Bytes> secure_boot_datas) {
    EventLogWriter w;
    for (const Bytes& d : secure_boot_datas) (void)w.add(7, kEvEfiVariableDriverConfig, d);
    return parse_event_log(w.bytes()).value();
  };
  const Bytes sb_on = marshal_uefi_variable_data(kEfiGlobalVariableGuid, "SecureBoot", ByteSpan(&on, 1));
  const Bytes sb_off = marshal_uefi_variable_data(kEfiGlobalVariableGuid, "SecureBoot", ByteSpan(&off, 1));
  EXPECT_EQ(secure_boot_enabled(log_with({sb_on})), std::optional<bool>(true));
  EXPECT_EQ(secure_boot_enabled(log_with({sb_off})), std::optional<bool>(false));
  EXPECT_EQ(secure_boot_enabled(log_with({sb_on, sb_off})), std::nullopt);  // disagreeing
  EXPECT_EQ(secure_boot_enabled(log_with({sb_on, sb_on})), std::optional<bool>(true));
  EXPECT_EQ(secure_boot_enabled(log_with({marshal_uefi_variable_data(kEfiGlobalVariableGuid, "SecureBoot",
                                                                     ByteSpan(&odd, 1))})),
            std::nullopt);
  // Same name under another vendor GUID is not the SecureBoot variable.
  EXPECT_EQ(secure_boot_enabled(log_with({marshal_uefi_variable_data(kEfiImageSecurityDatabaseGuid, "SecureBoot",
                                                                     ByteSpan(&on, 1))})),
            std::nullopt);
  // Data changed after measuring: digest no longer matches.
  EventLog forged = log_with({sb_off});
  forged.events[0].data = sb_on;
  EXPECT_EQ(secure_boot_enabled(forged), std::nullopt);
}

TEST(EventLog, EventTypeNames) {
  EXPECT_EQ(event_type_name(kEvEfiGptEvent), "EV_EFI_GPT_EVENT");
  EXPECT_EQ(event_type_name(kEvNoAction), "EV_NO_ACTION");
  EXPECT_EQ(event_type_name(0x12345678), "0x12345678");
}

}  // namespace
}  // namespace openpcc::attest
