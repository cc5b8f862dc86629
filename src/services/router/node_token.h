// The node registration token: a secret shared by the router and its compute nodes. The reference router takes
// node events from anyone who can reach it; ours requires `Authorization: Bearer <token>` on every POST /node-events
// (heartbeats and shutdowns), so that a party without the token can neither register a node (say, replaying a real
// node's public evidence with its own URL) nor evict or supersede a registered one.
//
// The token file holds one line: at least kMinNodeTokenBytes random bytes, hex-encoded (`openssl rand -hex 32`),
// mode 0600 (services/common/key_files.h read_secret_file refuses files others can read). Surrounding whitespace
// (the final newline) is ignored. The router compares the presented text with the file's in constant time.
//
//   auto token = router::load_node_token(config.node_token_file);      // Result<SecretBytes>
//   headers.set("Authorization", router::node_token_authorization(token->span()));
//   if (!router::authorization_matches(req.headers().get("Authorization"), token->span())) → 401
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"

namespace openpcc::router {

inline constexpr size_t kMinNodeTokenBytes = 32;
inline constexpr size_t kMaxNodeTokenChars = 1024;
inline constexpr std::string_view kNodeTokenFormat =
    "at least 32 random bytes, hex-encoded on one line (e.g. `openssl rand -hex 32 > FILE; chmod 600 FILE`)";

// The token text of a file (trimmed). kNotFound if the file is missing; kInvalidArgument if its mode lets others
// read it, or if check_node_token refuses it. Errors name the file, never its content.
Result<SecretBytes> load_node_token(const std::filesystem::path& path);

// kInvalidArgument unless `token` is 2*kMinNodeTokenBytes .. kMaxNodeTokenChars hex digits (an even number).
Status check_node_token(ByteSpan token);

// A fresh token: kMinNodeTokenBytes from the OS CSPRNG, lowercase hex (write it with a final newline).
SecretBytes generate_node_token();

// The Authorization header value that presents `token`: "Bearer <token>".
std::string node_token_authorization(ByteSpan token);

// Whether an Authorization header value ("Bearer <token>", scheme case-insensitive) presents exactly `token`. The
// comparison's time does not depend on the token's content; a missing header or another scheme is false.
bool authorization_matches(std::optional<std::string_view> authorization, ByteSpan token);

}  // namespace openpcc::router
