// The conformance harness: JSON Lines in, one JSON line out per input line, in order (docs/CONFORMANCE.md).
//
// Each input line is an object with an "op" naming an operation; the answer is that operation's result object or
// {"error": "..."}. A bad line (not JSON, unknown op, bad hex, wrong lengths, failed decryption) answers an error on
// its own line and the harness goes on; it never exits early.
#pragma once

#include <functional>
#include <iosfwd>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/error.h"

namespace openpcc::conformance {

// An operation maps a request object to a result object.
using Operation = std::function<Result<nlohmann::json>(const nlohmann::json& request)>;

class Harness {
 public:
  // A harness with every operation the project implements (hpke.*, bhttp.*, ohttp.*, rsa_blind.*, rsa.*, currency.*,
  // merkle.*, sevsnp.*).
  static Harness with_all_operations();

  void add(std::string name, Operation op);

  // Answers one input line (without its newline) with one output line (without newline). Never fails.
  std::string answer_line(std::string_view line) const;

  // Reads lines until EOF, writing one answer per line and flushing after each, so a driver can talk to the
  // harness interactively. Blank lines are answered too (with an error) to keep the one-to-one order.
  void run(std::istream& in, std::ostream& out) const;

 private:
  std::map<std::string, Operation, std::less<>> ops_;
};

// Op registration hooks, one per concept file (hpke_ops.cc, bhttp_ops.cc, ohttp_ops.cc, rsa_blind_ops.cc, rsa_ops.cc,
// currency_ops.cc).
void add_hpke_operations(Harness& h);
void add_bhttp_operations(Harness& h);
void add_ohttp_operations(Harness& h);
void add_rsa_blind_operations(Harness& h);  // rsa_blind.*: suite-named blind, blind_sign, finalize, verify
void add_rsa_operations(Harness& h);        // rsa.pbssa.*, rsa.bssa.verify: vector-shaped, PSS variant by salt_length
void add_currency_operations(Harness& h);   // currency.encode, currency.decode
void add_sevsnp_operations(Harness& h);     // sevsnp.verify: report + VCEK (+ ASK, ARK, CRLs) → valid
void add_merkle_operations(Harness& h);     // merkle.verify_inclusion, merkle.verify_consistency, merkle.root

}  // namespace openpcc::conformance
