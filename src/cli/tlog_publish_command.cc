// `openpcc tlog publish`: signs a statement (image manifest, currency key or OHTTP key configs) with the publisher's
// Ed25519 key, appends the DSSE envelope to a transparency log and writes the transparency bundle (envelope +
// inclusion proof + signed checkpoint) that clients verify offline.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "net/client.h"
#include "net/runtime.h"
#include "services/common/http_transport.h"
#include "services/common/key_files.h"
#include "services/tlog/tlog_client.h"
#include "transparency/bundle.h"
#include "transparency/predicates.h"
#include "transparency/statement.h"

namespace openpcc::cli {
namespace {

constexpr char kHelp[] =
    "Publish a statement in a transparency log and write its bundle.\n\n"
    "Exactly one of: --image-manifest FILE (the JSON `openpcc compute-boot` writes, or an image build's), "
    "--currency-jwk FILE (the currency key as a JWK), or --ohttp-keys FILE with --rotation-periods FILE "
    "(application/ohttp-keys bytes and the JSON [{\"active_from\",\"active_until\",\"key_id\"}]).\n\n"
    "The statement (in-toto v1, the reference's predicate types) is signed with --key (an Ed25519 PKCS#8 PEM file, "
    "e.g. from `openpcc keygen badge`; the log must list its public key in publisher_keys), appended with the bearer "
    "token read from --token-file, and the bundle written to --out. Appending the same statement again is safe: the "
    "log answers the existing entry. Clients trust the bundle through a trust policy (docs/ATTESTATION.md) or the "
    "SDK; verify it with the log's verifier key (<log_key>.vkey).";

struct PublishOptions {
  std::string log_url;
  std::string token_file;
  std::string key;
  std::string image_manifest;
  std::string currency_jwk;
  std::string ohttp_keys;
  std::string rotation_periods;
  std::string out;
  std::string ca_file;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "openpcc tlog publish: error: %s\n", message.c_str());
  return 1;
}

std::string trim_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

Result<transparency::Statement> build_statement(const PublishOptions& opts) {
  const int chosen = !opts.image_manifest.empty() + !opts.currency_jwk.empty() + !opts.ohttp_keys.empty();
  if (chosen != 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "give exactly one of --image-manifest, --currency-jwk, --ohttp-keys (with --rotation-periods)");
  }
  if (!opts.image_manifest.empty()) {
    auto text = services::read_public_file(opts.image_manifest);
    if (!text) return std::unexpected(text.error());
    return transparency::image_manifest_statement(trim_line(*text));
  }
  if (!opts.currency_jwk.empty()) {
    auto text = services::read_public_file(opts.currency_jwk);
    if (!text) return std::unexpected(text.error());
    return transparency::currency_key_statement(trim_line(*text));
  }
  if (opts.rotation_periods.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "--ohttp-keys needs --rotation-periods");
  }
  auto keys = services::read_public_file(opts.ohttp_keys);
  if (!keys) return std::unexpected(keys.error());
  auto periods_text = services::read_public_file(opts.rotation_periods);
  if (!periods_text) return std::unexpected(periods_text.error());
  auto periods = transparency::parse_key_rotation_periods(trim_line(*periods_text));
  if (!periods) return std::unexpected(periods.error());
  return transparency::ohttp_keys_statement(as_bytes(*keys), *periods);
}

int run_publish(const PublishOptions& opts) {
  auto statement = build_statement(opts);
  if (!statement) return fail(statement.error().to_string());
  auto key = services::load_ed25519_key(opts.key);
  if (!key) return fail("publisher key " + opts.key + ": " + key.error().to_string());
  auto envelope = transparency::sign_statement(*statement, *key);
  if (!envelope) return fail(envelope.error().to_string());
  auto token = services::read_secret_file(opts.token_file);
  if (!token) return fail("token file " + opts.token_file + ": " + token.error().to_string());

  net::ClientOptions client_options;
  client_options.ca_file = opts.ca_file;
  auto client = net::Client::create(client_options);
  if (!client) return fail(client.error().to_string());
  std::string base = opts.log_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  tlog::TlogClient log(services::direct_transport(std::move(*client)), base, trim_line(to_string(token->span())));

  net::Runtime runtime(1);
  const Bytes leaf = transparency::envelope_leaf(*envelope);
  auto receipt = runtime.block_on([&]() -> net::Task<Result<tlog::AppendReceipt>> { co_return co_await log.append(leaf); });
  if (!receipt) return fail("append to " + base + ": " + receipt.error().to_string());
  auto bundle = transparency::assemble_bundle(*envelope, receipt->index, receipt->inclusion_proof,
                                              receipt->checkpoint.note);
  if (!bundle) return fail("the log's answer does not prove the entry: " + bundle.error().to_string());
  const std::string json = transparency::to_json(*bundle) + "\n";
  if (auto w = services::write_public_file_atomically(opts.out, as_bytes(json)); !w) {
    return fail(w.error().to_string());
  }
  std::printf("%s %s at index %llu of %s (tree size %llu)\nbundle: %s\n",
              receipt->duplicate ? "already logged:" : "published:", statement->predicate_type.c_str(),
              static_cast<unsigned long long>(receipt->index), receipt->checkpoint.checkpoint.origin.c_str(),
              static_cast<unsigned long long>(receipt->checkpoint.checkpoint.size), opts.out.c_str());
  return 0;
}

}  // namespace

void add_tlog_publish_subcommand(CLI::App& tlog, int& exit_code) {
  auto opts = std::make_shared<PublishOptions>();
  auto* cmd = tlog.add_subcommand("publish", "Sign a statement, append it to a transparency log, write its bundle");
  cmd->footer(kHelp);
  cmd->add_option("--log", opts->log_url, "The log's base URL, e.g. http://127.0.0.1:8085")->required();
  cmd->add_option("--token-file", opts->token_file, "File holding a publisher bearer token (mode 0600)")->required();
  cmd->add_option("--key", opts->key, "Publisher signing key (Ed25519 PKCS#8 PEM)")->required();
  cmd->add_option("--image-manifest", opts->image_manifest, "Image manifest JSON file");
  cmd->add_option("--currency-jwk", opts->currency_jwk, "Currency public key JWK file");
  cmd->add_option("--ohttp-keys", opts->ohttp_keys, "application/ohttp-keys file");
  cmd->add_option("--rotation-periods", opts->rotation_periods, "Key rotation periods JSON file (with --ohttp-keys)");
  cmd->add_option("--out", opts->out, "Where to write the transparency bundle (JSON)")->required();
  cmd->add_option("--ca-file", opts->ca_file, "PEM CA certificates to trust for an https:// log");
  cmd->callback([opts, &exit_code] { exit_code = run_publish(*opts); });
}

}  // namespace openpcc::cli
