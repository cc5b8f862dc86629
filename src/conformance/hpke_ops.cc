// hpke.derive_keypair / hpke.seal / hpke.open: RFC 9180 single-shot operations.
#include <nlohmann/json.hpp>

#include "conformance/fields.h"
#include "conformance/harness.h"
#include "crypto/hpke.h"

namespace openpcc::conformance {

using nlohmann::json;
using namespace openpcc::crypto;

namespace {

constexpr uint64_t kMaxExportLength = 255 * 64;  // HKDF-Expand limit for SHA-512; smaller hashes are checked inside

Result<Kem> kem_from(const json& req) {
  auto id = uint_field(req, "kem", 0xffff);
  if (!id) return std::unexpected(id.error());
  return Kem::create(static_cast<KemId>(*id));
}

Result<json> derive_keypair_op(const json& req) {
  auto kem = kem_from(req);
  if (!kem) return std::unexpected(kem.error());
  auto ikm = hex_field(req, "ikm");
  if (!ikm) return std::unexpected(ikm.error());
  auto sk = kem->derive_key_pair(*ikm);
  if (!sk) return std::unexpected(sk.error());
  auto sk_bytes = (*sk)->serialize();
  if (!sk_bytes) return std::unexpected(sk_bytes.error());
  return json{{"sk", to_hex(*sk_bytes)}, {"pk", to_hex((*sk)->public_key())}};
}

// Fields shared by seal and open.
struct CommonInputs {
  Hpke hpke;
  HpkeMode mode;
  Bytes info;
  Bytes aad;
  Bytes psk;
  Bytes psk_id;
  std::optional<Bytes> exporter_context;
  std::optional<uint64_t> exporter_length;
};

Result<CommonInputs> common_inputs(const json& req) {
  auto mode = uint_field(req, "mode", 3);
  auto kem = uint_field(req, "kem", 0xffff);
  auto kdf = uint_field(req, "kdf", 0xffff);
  auto aead = uint_field(req, "aead", 0xffff);
  for (auto* r : {&mode, &kem, &kdf, &aead}) {
    if (!*r) return std::unexpected(r->error());
  }
  auto hpke = Hpke::create({static_cast<KemId>(*kem), static_cast<KdfId>(*kdf), static_cast<AeadId>(*aead)});
  if (!hpke) return std::unexpected(hpke.error());
  auto info = hex_field(req, "info");
  if (!info) return std::unexpected(info.error());
  auto aad = optional_hex_field(req, "aad");
  if (!aad) return std::unexpected(aad.error());
  auto psk = optional_hex_field(req, "psk");
  if (!psk) return std::unexpected(psk.error());
  auto psk_id = optional_hex_field(req, "psk_id");
  if (!psk_id) return std::unexpected(psk_id.error());
  auto ctx = optional_hex_field(req, "exporter_context");
  if (!ctx) return std::unexpected(ctx.error());
  auto len = optional_uint_field(req, "exporter_length", kMaxExportLength);
  if (!len) return std::unexpected(len.error());
  if (ctx->has_value() != len->has_value()) {
    return make_error(ErrorCode::kInvalidArgument, "\"exporter_context\" and \"exporter_length\" go together");
  }
  return CommonInputs{std::move(*hpke),        static_cast<HpkeMode>(*mode), std::move(*info),
                      aad->value_or(Bytes{}),  psk->value_or(Bytes{}),       psk_id->value_or(Bytes{}),
                      std::move(*ctx),         *len};
}

bool export_only(const CommonInputs& in) { return in.hpke.suite().aead == AeadId::kExportOnly; }

Result<json> seal_op(const json& req) {
  auto in = common_inputs(req);
  if (!in) return std::unexpected(in.error());
  const Kem& kem = in->hpke.kem();
  auto pk_bytes = hex_field(req, "pk");
  if (!pk_bytes) return std::unexpected(pk_bytes.error());
  auto pk = kem.deserialize_public_key(*pk_bytes);
  if (!pk) return std::unexpected(wrap_error("pk", pk.error()));
  auto pt = optional_hex_field(req, "pt");
  if (!pt) return std::unexpected(pt.error());
  auto ikm_e = optional_hex_field(req, "ikm_e");
  if (!ikm_e) return std::unexpected(ikm_e.error());
  auto sk_s_bytes = optional_hex_field(req, "sk_s");
  if (!sk_s_bytes) return std::unexpected(sk_s_bytes.error());

  std::unique_ptr<KemPrivateKey> sk_s;
  if (sk_s_bytes->has_value()) {
    auto k = kem.deserialize_private_key(**sk_s_bytes);
    if (!k) return std::unexpected(wrap_error("sk_s", k.error()));
    sk_s = std::move(*k);
  }
  HpkeSenderOptions options;
  options.mode = in->mode;
  options.psk = in->psk;
  options.psk_id = in->psk_id;
  options.sk_s = sk_s.get();
  if (ikm_e->has_value()) options.ephemeral.ikm_e = ByteSpan(**ikm_e);

  auto ctx = in->hpke.setup_sender(*pk, in->info, options);
  if (!ctx) return std::unexpected(ctx.error());
  json out{{"enc", to_hex(ctx->enc())}};
  if (export_only(*in)) {
    // An export-only suite has no AEAD: there is nothing to seal.
    if (pt->has_value() && !(*pt)->empty()) {
      return make_error(ErrorCode::kUnsupported, "aead 0xffff is export-only: \"pt\" must be empty");
    }
    out["ct"] = "";
  } else {
    auto ct = ctx->seal(in->aad, pt->value_or(Bytes{}));
    if (!ct) return std::unexpected(ct.error());
    out["ct"] = to_hex(*ct);
  }
  if (in->exporter_context) {
    auto e = ctx->export_secret(*in->exporter_context, *in->exporter_length);
    if (!e) return std::unexpected(e.error());
    out["exported"] = to_hex(*e);
  }
  return out;
}

Result<json> open_op(const json& req) {
  auto in = common_inputs(req);
  if (!in) return std::unexpected(in.error());
  const Kem& kem = in->hpke.kem();
  auto sk_bytes = hex_field(req, "sk");
  if (!sk_bytes) return std::unexpected(sk_bytes.error());
  auto sk = kem.deserialize_private_key(*sk_bytes);
  if (!sk) return std::unexpected(wrap_error("sk", sk.error()));
  auto enc = hex_field(req, "enc");
  if (!enc) return std::unexpected(enc.error());
  auto ct = optional_hex_field(req, "ct");
  if (!ct) return std::unexpected(ct.error());
  auto pk_s_bytes = optional_hex_field(req, "pk_s");
  if (!pk_s_bytes) return std::unexpected(pk_s_bytes.error());

  std::optional<KemPublicKey> pk_s;
  if (pk_s_bytes->has_value()) {
    auto k = kem.deserialize_public_key(**pk_s_bytes);
    if (!k) return std::unexpected(wrap_error("pk_s", k.error()));
    pk_s = std::move(*k);
  }
  HpkeRecipientOptions options;
  options.mode = in->mode;
  options.psk = in->psk;
  options.psk_id = in->psk_id;
  options.pk_s = pk_s ? &*pk_s : nullptr;

  auto ctx = in->hpke.setup_recipient(*enc, **sk, in->info, options);
  if (!ctx) return std::unexpected(ctx.error());
  json out;
  if (export_only(*in)) {
    if (ct->has_value() && !(*ct)->empty()) {
      return make_error(ErrorCode::kUnsupported, "aead 0xffff is export-only: \"ct\" must be empty");
    }
    out["pt"] = "";
  } else {
    if (!ct->has_value()) return make_error(ErrorCode::kInvalidArgument, "field \"ct\" is missing");
    auto pt = ctx->open(in->aad, **ct);
    if (!pt) return std::unexpected(pt.error());
    out["pt"] = to_hex(*pt);
  }
  if (in->exporter_context) {
    auto e = ctx->export_secret(*in->exporter_context, *in->exporter_length);
    if (!e) return std::unexpected(e.error());
    out["exported"] = to_hex(*e);
  }
  return out;
}

}  // namespace

void add_hpke_operations(Harness& h) {
  h.add("hpke.derive_keypair", derive_keypair_op);
  h.add("hpke.seal", seal_op);
  h.add("hpke.open", open_op);
}

}  // namespace openpcc::conformance
