// The router's node registry (pure logic on a fake clock), node event validation, X-Routing-Info parsing and
// UUIDv7 ids.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "openpcc/router.pb.h"
#include "services/router/node_event.h"
#include "services/router/registry.h"
#include "services/router/router_api.h"
#include "services/router/uuid_v7.h"

namespace openpcc::router {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// ---- UUIDv7 --------------------------------------------------------------------------------------------------------

TEST(UuidV7, FreshIdsAreVersion7AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string id = new_uuid_v7();
    ASSERT_TRUE(is_uuid_v7(id)) << id;
    EXPECT_EQ(id, canonical_uuid(id));  // lowercase
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(UuidV7, CarriesTheTimeInItsFirst48Bits) {
  const auto t = std::chrono::system_clock::time_point(milliseconds(0x0123456789ab));
  const std::string id = new_uuid_v7(t);
  EXPECT_EQ(id.substr(0, 13), "01234567-89ab");
  EXPECT_EQ(id[14], '7');
  // Later times sort later (the point of v7).
  EXPECT_LT(new_uuid_v7(t), new_uuid_v7(t + milliseconds(1)));
}

TEST(UuidV7, RecognisesOnlyV7Text) {
  EXPECT_TRUE(is_uuid_v7("01890a5d-ac96-774b-bcce-b302099a8057"));
  EXPECT_TRUE(is_uuid_v7("01890A5D-AC96-774B-BCCE-B302099A8057"));          // either case
  EXPECT_FALSE(is_uuid_v7("01890a5d-ac96-474b-bcce-b302099a8057"));         // v4
  EXPECT_FALSE(is_uuid_v7("01890a5d-ac96-774b-7cce-b302099a8057"));         // wrong variant
  EXPECT_FALSE(is_uuid_v7("01890a5d-ac96-774b-ccce-b302099a8057"));         // Microsoft variant
  EXPECT_FALSE(is_uuid_v7("01890a5dac96774bbcceb302099a8057"));             // no hyphens
  EXPECT_FALSE(is_uuid_v7("01890a5d-ac96-774b-bcce-b302099a805"));          // short
  EXPECT_FALSE(is_uuid_v7("01890a5d-ac96-774b-bcce-b302099a8057 "));        // long
  EXPECT_FALSE(is_uuid_v7("01890a5d-ac96-774b-bcce-b302099a805g"));         // not hex
  EXPECT_FALSE(is_uuid_v7("{1890a5d-ac96-774b-bcce-b302099a8057"));
  EXPECT_FALSE(is_uuid_v7(""));
  EXPECT_EQ(canonical_uuid("01890A5D-AC96-774B-BCCE-B302099A8057"), "01890a5d-ac96-774b-bcce-b302099a8057");
}

// ---- node events -----------------------------------------------------------------------------------------------------

pb::RoutingInfo routing_info(const std::string& host = "10.0.0.5:8090", std::vector<std::string> tags = {"llm"}) {
  pb::RoutingInfo info;
  info.set_url("http://" + host + "/");
  info.set_healthcheck_url("http://" + host + "/_health");
  for (const auto& t : tags) info.add_tags(t);
  info.mutable_evidence()->add_items()->set_data("evidence");
  return info;
}

pb::NodeEvent heartbeat(const std::string& id, int64_t index, const pb::RoutingInfo& info = routing_info()) {
  pb::NodeEvent event;
  event.set_node_id(id);
  event.set_event_index(index);
  *event.mutable_heartbeat()->mutable_routing_info() = info;
  return event;
}

pb::NodeEvent shutdown(const std::string& id, int64_t index) {
  pb::NodeEvent event;
  event.set_node_id(id);
  event.set_event_index(index);
  event.mutable_shutdown();
  return event;
}

ErrorCode code_of(const Status& s) { return s ? ErrorCode::kInternal : s.error().code; }

TEST(NodeEvent, AcceptsAHeartbeatAndAShutdown) {
  const std::string id = new_uuid_v7();
  EXPECT_TRUE(validate_node_event(heartbeat(id, 1)));
  EXPECT_TRUE(validate_node_event(shutdown(id, 2)));
  auto parsed = parse_node_event(as_bytes(heartbeat(id, 7).SerializeAsString()));
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_EQ(parsed->event_index(), 7);
}

TEST(NodeEvent, RefusesWhatTheRouterCannotUse) {
  const std::string id = new_uuid_v7();
  EXPECT_EQ(code_of(validate_node_event(heartbeat("not-a-uuid", 1))), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of(validate_node_event(heartbeat("01890a5d-ac96-474b-bcce-b302099a8057", 1))),
            ErrorCode::kInvalidArgument);  // v4
  pb::NodeEvent no_index = heartbeat(id, 1);
  no_index.clear_event_index();
  EXPECT_FALSE(validate_node_event(no_index));
  EXPECT_FALSE(validate_node_event(heartbeat(id, -1)));
  pb::NodeEvent empty;
  empty.set_node_id(id);
  empty.set_event_index(1);
  EXPECT_FALSE(validate_node_event(empty));  // no payload
  pb::NodeEvent indirect;
  indirect.set_node_id(id);
  indirect.set_event_index(1);
  indirect.mutable_heartbeat()->set_routing_info_url("http://node/routing-info");
  EXPECT_EQ(code_of(validate_node_event(indirect)), ErrorCode::kUnsupported);
  pb::NodeEvent no_info;
  no_info.set_node_id(id);
  no_info.set_event_index(1);
  no_info.mutable_heartbeat();
  EXPECT_FALSE(validate_node_event(no_info));

  auto with = [&](auto edit) {
    pb::RoutingInfo info = routing_info();
    edit(info);
    return code_of(validate_node_event(heartbeat(id, 1, info)));
  };
  EXPECT_EQ(with([](pb::RoutingInfo& i) { i.set_url("/relative"); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(with([](pb::RoutingInfo& i) { i.set_url("ftp://node/"); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(with([](pb::RoutingInfo& i) { i.clear_url(); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(with([](pb::RoutingInfo& i) { i.set_healthcheck_url("node/_health"); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(with([](pb::RoutingInfo& i) { i.set_url("http://node/" + std::string(3000, 'a')); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(with([](pb::RoutingInfo& i) { i.clear_tags(); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(with([](pb::RoutingInfo& i) { i.add_tags(""); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(with([](pb::RoutingInfo& i) { i.add_tags(std::string(513, 't')); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(with([](pb::RoutingInfo& i) { i.add_tags("a\nb"); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(with([](pb::RoutingInfo& i) {
              for (int n = 0; n < 64; ++n) i.add_tags("t" + std::to_string(n));
            }),
            ErrorCode::kInvalidArgument);  // 65 tags
  EXPECT_EQ(with([](pb::RoutingInfo& i) { i.clear_evidence(); }), ErrorCode::kInvalidArgument);
  // The limits themselves are fine.
  EXPECT_EQ(with([](pb::RoutingInfo& i) {
              i.clear_tags();
              for (int n = 0; n < 63; ++n) i.add_tags("t" + std::to_string(n));
              i.add_tags(std::string(512, 'x'));
            }),
            ErrorCode::kInternal);  // = accepted
  EXPECT_EQ(parse_node_event(as_bytes(std::string("\xff\xff\xff"))).error().code, ErrorCode::kDecode);
}

// ---- X-Routing-Info ------------------------------------------------------------------------------------------------

Candidate candidate(uint8_t fill = 1) { return Candidate{new_uuid_v7(), Bytes(120, fill)}; }

TEST(RoutingInfo, RoundTripsAndDropsRepeatedIds) {
  std::vector<Candidate> in = {candidate(1), candidate(2)};
  in.push_back(Candidate{canonical_uuid(in[0].id), Bytes(120, 3)});
  auto out = parse_routing_info_header(routing_info_header(in));
  ASSERT_TRUE(out) << out.error().to_string();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0], in[0]);
  EXPECT_EQ((*out)[1], in[1]);
}

TEST(RoutingInfo, RefusesMalformedHeaders) {
  EXPECT_FALSE(parse_routing_info_header(""));
  EXPECT_FALSE(parse_routing_info_header("not base64!"));
  EXPECT_FALSE(parse_routing_info_header(to_base64(as_bytes(std::string("\xff\xff")))));
  EXPECT_FALSE(parse_routing_info_header(routing_info_header(std::vector<Candidate>{})));  // no candidates
  std::vector<Candidate> seventeen;
  for (int i = 0; i < 17; ++i) seventeen.push_back(candidate());
  EXPECT_FALSE(parse_routing_info_header(routing_info_header(seventeen)));
  seventeen.pop_back();
  EXPECT_TRUE(parse_routing_info_header(routing_info_header(seventeen)));
  std::vector<Candidate> bad_key = {Candidate{new_uuid_v7(), Bytes(119, 1)}};
  EXPECT_FALSE(parse_routing_info_header(routing_info_header(bad_key)));
  std::vector<Candidate> bad_id = {Candidate{"node-1", Bytes(120, 1)}};
  EXPECT_FALSE(parse_routing_info_header(routing_info_header(bad_id)));
  EXPECT_FALSE(parse_routing_info_header(std::string(kMaxRoutingInfoHeaderBytes + 4, 'A')));
}

// ---- registry ------------------------------------------------------------------------------------------------------

class FakeClock {
 public:
  TimePoint now() const { return now_; }
  void advance(std::chrono::milliseconds d) { now_ += d; }
  Registry::Clock clock() {
    return [this] { return now_; };
  }

 private:
  TimePoint now_ = TimePoint(seconds(1'800'000'000));
};

RegistryOptions options(int min_checks = 3) {
  RegistryOptions o;
  o.health.min_checks = min_checks;
  o.check_interval = milliseconds(30'000);
  return o;
}

// Runs every due check with the given outcome.
void check_all(Registry& registry, bool ok) {
  for (const HealthTarget& t : registry.take_due_checks()) registry.record_check(t, ok);
}

TEST(Grading, FollowsTheReferenceThresholds) {
  HealthPolicy policy;  // min 3, streak 3, 0.9
  const TimePoint now = TimePoint(seconds(10'000));
  auto at = [&](int ago_s, bool ok) { return CheckRecord{now - seconds(ago_s), ok}; };
  std::vector<CheckRecord> h;
  EXPECT_EQ(grade_history(h, now, policy), Grade::kUnknown);
  h = {at(60, true), at(30, true)};
  EXPECT_EQ(grade_history(h, now, policy), Grade::kUnknown);  // 2 < min_checks
  h = {at(90, false), at(60, false)};
  EXPECT_EQ(grade_history(h, now, policy), Grade::kUnknown);  // failures, but too few to judge
  h = {at(90, true), at(60, true), at(30, true)};
  EXPECT_EQ(grade_history(h, now, policy), Grade::kOk);
  h.push_back(at(20, false));
  EXPECT_EQ(grade_history(h, now, policy), Grade::kUnavailable);  // 3/4 < 0.9
  std::vector<CheckRecord> many;
  for (int i = 0; i < 20; ++i) many.push_back(at(800 - i * 30, true));
  many.push_back(at(10, false));
  EXPECT_EQ(grade_history(many, now, policy), Grade::kOk);  // 20/21 ≥ 0.9, streak 1
  many.push_back(at(5, false));
  EXPECT_EQ(grade_history(many, now, policy), Grade::kOk);  // 20/22 = 0.909, streak 2
  many.push_back(at(1, false));
  EXPECT_EQ(grade_history(many, now, policy), Grade::kUnavailable);  // streak 3 (and 20/23 < 0.9)
  // Old checks leave the window.
  h = {at(1000, false), at(950, false), at(90, true), at(60, true), at(30, true)};
  EXPECT_EQ(grade_history(h, now, policy), Grade::kOk);
  // A success ends a streak.
  policy.min_success_rate = 0.0;
  h = {at(50, false), at(40, false), at(30, true), at(20, false), at(10, false)};
  EXPECT_EQ(grade_history(h, now, policy), Grade::kOk);
}

TEST(Registry, ANewNodeIsCheckedAtOnceAndRoutableAfterMinChecks) {
  FakeClock clock;
  Registry registry(options(3), clock.clock());
  const std::string id = new_uuid_v7();
  ASSERT_EQ(registry.apply(heartbeat(id, 1)).value(), EventOutcome::kRegistered);
  EXPECT_EQ(registry.grade_of(id), Grade::kUnknown);
  EXPECT_FALSE(registry.routable_url(id));

  auto due = registry.take_due_checks();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].node_id, id);
  EXPECT_EQ(due[0].url, "http://10.0.0.5:8090/_health");
  EXPECT_TRUE(registry.take_due_checks().empty());  // in flight
  EXPECT_EQ(registry.record_check(due[0], true), Grade::kUnknown);
  EXPECT_TRUE(registry.take_due_checks().empty());  // next one after the interval
  clock.advance(milliseconds(29'999));
  EXPECT_TRUE(registry.take_due_checks().empty());
  clock.advance(milliseconds(1));
  check_all(registry, true);
  EXPECT_FALSE(registry.routable_url(id));
  clock.advance(seconds(30));
  check_all(registry, true);
  EXPECT_EQ(registry.grade_of(id), Grade::kOk);
  EXPECT_EQ(registry.routable_url(id), "http://10.0.0.5:8090/");
  EXPECT_EQ(registry.routable_url(canonical_uuid(id)), "http://10.0.0.5:8090/");
}

TEST(Registry, MinChecksOneRoutesAfterTheFirstCheck) {
  FakeClock clock;
  Registry registry(options(1), clock.clock());
  const std::string id = new_uuid_v7();
  ASSERT_TRUE(registry.apply(heartbeat(id, 1)));
  check_all(registry, true);
  EXPECT_TRUE(registry.routable_url(id));
}

TEST(Registry, AnUnhealthyNodeIsRemoved) {
  FakeClock clock;
  Registry registry(options(1), clock.clock());
  const std::string id = new_uuid_v7();
  ASSERT_TRUE(registry.apply(heartbeat(id, 1)));
  check_all(registry, false);
  EXPECT_FALSE(registry.grade_of(id));
  EXPECT_EQ(registry.size(), 0u);
  // Its next heartbeat registers it afresh.
  EXPECT_EQ(registry.apply(heartbeat(id, 2)).value(), EventOutcome::kRegistered);
  EXPECT_EQ(registry.grade_of(id), Grade::kUnknown);
}

TEST(Registry, EventIndexMustGrow) {
  FakeClock clock;
  Registry registry(options(), clock.clock());
  const std::string id = new_uuid_v7();
  ASSERT_TRUE(registry.apply(heartbeat(id, 10)));
  EXPECT_EQ(registry.apply(heartbeat(id, 10)).error().code, ErrorCode::kConflict);
  EXPECT_EQ(registry.apply(heartbeat(id, 9, routing_info("10.9.9.9:1"))).error().code, ErrorCode::kConflict);
  EXPECT_EQ(registry.apply(shutdown(id, 5)).error().code, ErrorCode::kConflict);
  EXPECT_EQ(registry.apply(heartbeat(id, 11)).value(), EventOutcome::kUpdated);
  EXPECT_EQ(registry.size(), 1u);
  // Upper-case text is the same node.
  std::string upper = id;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(registry.apply(heartbeat(upper, 11)).error().code, ErrorCode::kConflict);
  EXPECT_EQ(registry.apply(heartbeat(upper, 12)).value(), EventOutcome::kUpdated);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(Registry, ShutdownRemovesAndALateHeartbeatCannotReviveIt) {
  FakeClock clock;
  Registry registry(options(1), clock.clock());
  const std::string id = new_uuid_v7();
  ASSERT_TRUE(registry.apply(heartbeat(id, 1)));
  check_all(registry, true);
  ASSERT_TRUE(registry.routable_url(id));
  EXPECT_EQ(registry.apply(shutdown(id, 3)).value(), EventOutcome::kRemoved);
  EXPECT_FALSE(registry.routable_url(id));
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(registry.apply(heartbeat(id, 2)).error().code, ErrorCode::kConflict);  // sent before the shutdown
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(registry.apply(heartbeat(id, 4)).value(), EventOutcome::kRegistered);  // a restarted agent
  EXPECT_EQ(registry.grade_of(id), Grade::kUnknown);
  // A shutdown of an unknown node is harmless.
  EXPECT_EQ(registry.apply(shutdown(new_uuid_v7(), 1)).value(), EventOutcome::kRemoved);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(Registry, NodesWithoutHeartbeatsExpire) {
  FakeClock clock;
  RegistryOptions o = options(1);
  o.node_max_age = seconds(900);
  Registry registry(o, clock.clock());
  const std::string quiet = new_uuid_v7();
  const std::string chatty = new_uuid_v7();
  ASSERT_TRUE(registry.apply(heartbeat(quiet, 1)));
  ASSERT_TRUE(registry.apply(heartbeat(chatty, 1, routing_info("10.0.0.8:8090"))));
  check_all(registry, true);
  clock.advance(seconds(600));
  ASSERT_TRUE(registry.apply(heartbeat(chatty, 2, routing_info("10.0.0.8:8090"))));
  clock.advance(seconds(299));
  EXPECT_EQ(registry.expire(), 0u);
  EXPECT_TRUE(registry.routable_url(quiet));
  clock.advance(seconds(1));
  EXPECT_FALSE(registry.routable_url(quiet));  // too old even before expire() runs
  EXPECT_EQ(registry.expire(), 1u);
  EXPECT_FALSE(registry.grade_of(quiet));
  EXPECT_TRUE(registry.routable_url(chatty));
  // An expired node's stale events stay refused until its tombstone ages out.
  EXPECT_EQ(registry.apply(heartbeat(quiet, 1)).error().code, ErrorCode::kConflict);
  clock.advance(seconds(900));
  registry.expire();
  EXPECT_EQ(registry.apply(heartbeat(quiet, 1)).value(), EventOutcome::kRegistered);
}

TEST(Registry, ANewHealthcheckUrlRestartsTheHistory) {
  FakeClock clock;
  Registry registry(options(1), clock.clock());
  const std::string id = new_uuid_v7();
  ASSERT_TRUE(registry.apply(heartbeat(id, 1)));
  auto due = registry.take_due_checks();
  ASSERT_EQ(due.size(), 1u);
  // Same endpoint: history kept, the in-flight check still counts.
  ASSERT_TRUE(registry.apply(heartbeat(id, 2)));
  EXPECT_EQ(registry.record_check(due[0], true), Grade::kOk);
  EXPECT_TRUE(registry.routable_url(id));
  due = {};
  clock.advance(seconds(30));
  due = registry.take_due_checks();
  ASSERT_EQ(due.size(), 1u);
  // The node moved: unknown again, checked at once at the new URL, and the old check's result is ignored.
  ASSERT_TRUE(registry.apply(heartbeat(id, 3, routing_info("10.0.0.6:9000"))));
  EXPECT_EQ(registry.grade_of(id), Grade::kUnknown);
  EXPECT_FALSE(registry.record_check(due[0], false));
  EXPECT_TRUE(registry.grade_of(id));
  auto fresh = registry.take_due_checks();
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].url, "http://10.0.0.6:9000/_health");
  EXPECT_EQ(registry.record_check(fresh[0], true), Grade::kOk);
  EXPECT_EQ(registry.routable_url(id), "http://10.0.0.6:9000/");
}

// A node restarted at the same address comes back with a new ID and a new key: its predecessor's entry must go at
// once, or requests encrypted to the old key would be routed to the new process (which answers the old health URL).
TEST(Registry, ANodeAtTheSameUrlSupersedesItsPredecessor) {
  FakeClock clock;
  Registry registry(options(1), clock.clock());
  const std::string old_id = new_uuid_v7();
  ASSERT_TRUE(registry.apply(heartbeat(old_id, 1)));
  check_all(registry, true);
  ASSERT_TRUE(registry.routable_url(old_id));
  const std::string other = new_uuid_v7();
  ASSERT_TRUE(registry.apply(heartbeat(other, 1, routing_info("10.0.0.7:8090"))));

  const std::string new_id = new_uuid_v7();
  EXPECT_EQ(registry.apply(heartbeat(new_id, 1)).value(), EventOutcome::kRegistered);
  EXPECT_FALSE(registry.grade_of(old_id));
  EXPECT_FALSE(registry.routable_url(old_id));
  EXPECT_EQ(registry.grade_of(new_id), Grade::kUnknown);
  EXPECT_TRUE(registry.grade_of(other));  // a node elsewhere is untouched
  EXPECT_EQ(registry.size(), 2u);
  // The predecessor's late heartbeat (sent before it died) cannot take the URL back.
  EXPECT_EQ(registry.apply(heartbeat(old_id, 1)).error().code, ErrorCode::kConflict);
  EXPECT_TRUE(registry.grade_of(new_id));
}

TEST(Registry, ManifestsMatchAllTagsInRandomOrderUpToTheLimit) {
  FakeClock clock;
  Registry registry(options(1), clock.clock());
  std::set<std::string> llama;
  for (int i = 0; i < 6; ++i) {
    const std::string id = new_uuid_v7();
    llama.insert(id);
    ASSERT_TRUE(registry.apply(heartbeat(id, 1, routing_info("10.0.0.1:" + std::to_string(i + 1), {"llm", "model=llama"}))));
  }
  const std::string other = new_uuid_v7();
  ASSERT_TRUE(registry.apply(heartbeat(other, 1, routing_info("10.0.0.2:1", {"llm", "model=qwen"}))));
  const std::string unchecked = new_uuid_v7();
  check_all(registry, true);
  ASSERT_TRUE(registry.apply(heartbeat(unchecked, 1, routing_info("10.0.0.3:1", {"llm", "model=llama"}))));

  const std::vector<std::string> want = {"model=llama", "llm"};
  auto all = registry.manifests(want, 500);
  ASSERT_EQ(all.size(), 6u);  // not the qwen node, not the unchecked one
  for (const auto& m : all) {
    EXPECT_TRUE(llama.contains(m.id()));
    EXPECT_EQ(m.tags_size(), 2);
    EXPECT_EQ(m.evidence().items(0).data(), "evidence");
  }
  EXPECT_EQ(registry.manifests(want, 2).size(), 2u);
  EXPECT_EQ(registry.manifests(std::vector<std::string>{"llm"}, 500).size(), 7u);
  EXPECT_EQ(registry.manifests(std::vector<std::string>{}, 500).size(), 7u);
  EXPECT_TRUE(registry.manifests(std::vector<std::string>{"gpu"}, 500).empty());
  EXPECT_TRUE(registry.manifests(std::vector<std::string>{"model"}, 500).empty());  // exact tags, not prefixes

  // Random order: over many draws, every node shows up first at some point.
  std::set<std::string> firsts;
  for (int i = 0; i < 200 && firsts.size() < 6; ++i) firsts.insert(registry.manifests(want, 1).at(0).id());
  EXPECT_EQ(firsts.size(), 6u);
}

TEST(Registry, HonoursMaxNodes) {
  FakeClock clock;
  RegistryOptions o = options();
  o.max_nodes = 2;
  Registry registry(o, clock.clock());
  const std::string a = new_uuid_v7();
  ASSERT_TRUE(registry.apply(heartbeat(a, 1)));
  ASSERT_TRUE(registry.apply(heartbeat(new_uuid_v7(), 1, routing_info("10.0.0.9:1"))));
  EXPECT_EQ(registry.apply(heartbeat(new_uuid_v7(), 1, routing_info("10.0.0.9:2"))).error().code,
            ErrorCode::kUnavailable);
  EXPECT_TRUE(registry.apply(heartbeat(a, 2)));  // known nodes still update
  ASSERT_TRUE(registry.apply(shutdown(a, 3)));
  EXPECT_TRUE(registry.apply(heartbeat(new_uuid_v7(), 1, routing_info("10.0.0.9:3"))));
  GradeCounts counts = registry.counts();
  EXPECT_EQ(counts.unknown, 2u);
  EXPECT_EQ(counts.ok, 0u);
}

TEST(Registry, RefusesInvalidEvents) {
  Registry registry(options());
  EXPECT_EQ(registry.apply(heartbeat("nope", 1)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(registry.size(), 0u);
}

}  // namespace
}  // namespace openpcc::router
