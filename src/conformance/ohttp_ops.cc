// ohttp.encapsulate_request / decapsulate_request / encapsulate_response / decapsulate_response: Oblivious HTTP
// (RFC 9458) and chunked OHTTP, whole messages in and out (docs/CONFORMANCE.md).
//
// Chunking chosen by the encapsulating ops: the message is written in one piece to the streaming sealer with its
// default options, i.e. cut into chunks of at most 4096 plaintext bytes (the last one shorter), followed by an empty
// final chunk. A peer that wants byte-exact output for its own split can redo the split from our output's chunk
// lengths.
#include <nlohmann/json.hpp>

#include "conformance/fields.h"
#include "conformance/harness.h"
#include "wire/ohttp.h"
#include "wire/ohttp_chunked.h"
#include "wire/response_encryption.h"

namespace openpcc::conformance {

using nlohmann::json;
using namespace openpcc::wire;
using namespace openpcc::wire::ohttp;

namespace {

Chunking chunking_of(bool chunked) { return chunked ? Chunking::kChunked : Chunking::kUnchunked; }

// The taxonomy code travels in the message so a driver can check it: "KeyNotFound (101): ...".
Error from_ohttp(const OhttpError& e) {
  return Error{e.error.code, std::string(name(e.code)) + " (" + std::to_string(static_cast<uint16_t>(e.code)) +
                                 "): " + e.error.message};
}

Result<KeyConfig> key_config_from(const json& req) {
  auto bytes = hex_field(req, "key_config");
  if (!bytes) return std::unexpected(bytes.error());
  auto config = parse_key_config(*bytes);
  if (!config) return std::unexpected(wrap_error("key_config", config.error()));
  return config;
}

Result<json> encapsulate_request_op(const json& req) {
  auto config = key_config_from(req);
  if (!config) return std::unexpected(config.error());
  auto bhttp = hex_field(req, "bhttp");
  if (!bhttp) return std::unexpected(bhttp.error());
  auto chunked = bool_field(req, "chunked");
  if (!chunked) return std::unexpected(chunked.error());
  auto ikm_e = optional_hex_field(req, "ikm_e");
  if (!ikm_e) return std::unexpected(ikm_e.error());

  EncapsulateOptions options;
  if (ikm_e->has_value()) options.ephemeral_for_testing.ikm_e = ByteSpan(**ikm_e);
  auto sent = *chunked ? encapsulate_chunked_request(*config, *bhttp, options)
                       : encapsulate_request(*config, *bhttp, options);
  if (!sent) return std::unexpected(sent.error());
  return json{{"request", to_hex(sent->request)},
              {"enc", to_hex(sent->response_secrets.enc())},
              {"response_secret", to_hex(sent->response_secrets.secret(chunking_of(*chunked)))}};
}

Result<json> decapsulate_request_op(const json& req) {
  auto config = key_config_from(req);
  if (!config) return std::unexpected(config.error());
  auto sk_bytes = hex_field(req, "sk");
  if (!sk_bytes) return std::unexpected(sk_bytes.error());
  auto request = hex_field(req, "request");
  if (!request) return std::unexpected(request.error());
  auto chunked = bool_field(req, "chunked");
  if (!chunked) return std::unexpected(chunked.error());

  auto kem = crypto::Kem::create(config->kem);
  if (!kem) return std::unexpected(kem.error());
  auto sk = kem->deserialize_private_key(*sk_bytes);
  if (!sk) return std::unexpected(wrap_error("sk", sk.error()));
  GatewayKeySet keys;
  if (auto s = keys.add(*config, std::shared_ptr<const crypto::KemPrivateKey>(std::move(*sk))); !s) {
    return std::unexpected(s.error());
  }
  auto got = *chunked ? decapsulate_chunked_request(keys, *request) : decapsulate_request(keys, *request);
  if (!got) return std::unexpected(from_ohttp(got.error()));
  return json{{"bhttp", to_hex(got->bhttp)},
              {"enc", to_hex(got->response_secrets.enc())},
              {"response_secret", to_hex(got->response_secrets.secret(chunking_of(*chunked)))}};
}

// The response side needs only enc and the secret. The KDF and AEAD are the request's: optional "kdf" and "aead"
// fields (defaults 1 = HKDF-SHA256 and 1 = AES-128-GCM, what the RFC example and OpenPCC use).
Result<ResponseContext> response_context_from(const json& req) {
  auto enc = hex_field(req, "enc");
  if (!enc) return std::unexpected(enc.error());
  auto secret = hex_field(req, "response_secret");
  if (!secret) return std::unexpected(secret.error());
  auto kdf = optional_uint_field(req, "kdf", 0xffff);
  if (!kdf) return std::unexpected(kdf.error());
  auto aead = optional_uint_field(req, "aead", 0xffff);
  if (!aead) return std::unexpected(aead.error());
  auto ctx = ResponseContext::create(static_cast<crypto::KdfId>(kdf->value_or(1)),
                                     static_cast<crypto::AeadId>(aead->value_or(1)), *enc, *secret);
  if (!ctx) return std::unexpected(wrap_error("response_secret", ctx.error()));
  return ctx;
}

Result<json> encapsulate_response_op(const json& req) {
  auto ctx = response_context_from(req);
  if (!ctx) return std::unexpected(ctx.error());
  auto bhttp = hex_field(req, "bhttp");
  if (!bhttp) return std::unexpected(bhttp.error());
  auto chunked = bool_field(req, "chunked");
  if (!chunked) return std::unexpected(chunked.error());
  auto nonce = optional_hex_field(req, "response_nonce");
  if (!nonce) return std::unexpected(nonce.error());

  if (!*chunked) {
    auto sealed = nonce->has_value() ? ctx->seal_with_nonce_for_testing(*bhttp, **nonce) : ctx->seal(*bhttp);
    if (!sealed) return std::unexpected(sealed.error());
    return json{{"response", to_hex(*sealed)}};
  }
  auto sealer = nonce->has_value() ? ctx->chunked_sealer_with_nonce_for_testing(**nonce) : ctx->chunked_sealer();
  if (!sealer) return std::unexpected(sealer.error());
  Bytes out;
  if (auto s = sealer->write(*bhttp, out); !s) return std::unexpected(s.error());
  if (auto s = sealer->finish(out); !s) return std::unexpected(s.error());
  return json{{"response", to_hex(out)}};
}

Result<json> decapsulate_response_op(const json& req) {
  auto ctx = response_context_from(req);
  if (!ctx) return std::unexpected(ctx.error());
  auto response = hex_field(req, "response");
  if (!response) return std::unexpected(response.error());
  auto chunked = bool_field(req, "chunked");
  if (!chunked) return std::unexpected(chunked.error());

  if (!*chunked) {
    auto bhttp = ctx->open(*response);
    if (!bhttp) return std::unexpected(bhttp.error());
    return json{{"bhttp", to_hex(*bhttp)}};
  }
  auto opener = ctx->chunked_opener();
  Bytes bhttp;
  if (auto s = opener.feed(*response, bhttp); !s) return std::unexpected(s.error());
  if (auto s = opener.finish(bhttp); !s) return std::unexpected(s.error());
  return json{{"bhttp", to_hex(bhttp)}};
}

}  // namespace

void add_ohttp_operations(Harness& h) {
  h.add("ohttp.encapsulate_request", encapsulate_request_op);
  h.add("ohttp.decapsulate_request", decapsulate_request_op);
  h.add("ohttp.encapsulate_response", encapsulate_response_op);
  h.add("ohttp.decapsulate_response", decapsulate_response_op);
}

}  // namespace openpcc::conformance
