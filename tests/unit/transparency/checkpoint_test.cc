#include "transparency/checkpoint.h"

#include <gtest/gtest.h>

#include <string>

namespace openpcc::transparency {
namespace {

// A real checkpoint of the Go checksum database, with its published key (from transparency-dev/formats tests).
constexpr std::string_view kSumDbVkey = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
const std::string kSumDbNote =
    "go.sum database tree\n"
    "6476701\n"
    "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n"
    "\n"
    "\xE2\x80\x94 sum.golang.org "
    "Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n";

TEST(Checkpoint, OpensThePublishedSumDbCheckpoint) {
  auto v = NoteVerifier::parse(kSumDbVkey);
  ASSERT_TRUE(v) << v.error().to_string();
  auto cp = open_signed_checkpoint(kSumDbNote, *v);
  ASSERT_TRUE(cp) << cp.error().to_string();
  EXPECT_EQ(cp->origin, "go.sum database tree");
  EXPECT_EQ(cp->size, 6476701u);
  EXPECT_EQ(to_base64(cp->root), "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=");
  EXPECT_TRUE(cp->extensions.empty());
  EXPECT_TRUE(open_signed_checkpoint(kSumDbNote, *v, "go.sum database tree"));
  auto wrong = open_signed_checkpoint(kSumDbNote, *v, "Go rocks but I might have the wrong ID");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kAuthenticationFailed);
  // One changed digit of the size breaks the signature.
  std::string tampered = kSumDbNote;
  tampered[21] = '7';
  EXPECT_FALSE(open_signed_checkpoint(tampered, *v));
}

TEST(Checkpoint, BodyRoundTrip) {
  Checkpoint cp{.origin = "example.com/log", .size = 12345, .root = leaf_hash(as_bytes("x"))};
  std::string body = checkpoint_body(cp);
  EXPECT_EQ(body, "example.com/log\n12345\n" + to_base64(cp.root) + "\n");
  EXPECT_EQ(*parse_checkpoint(body), cp);
  cp.extensions = {"ext one", "ext two"};
  EXPECT_EQ(*parse_checkpoint(checkpoint_body(cp)), cp);
  Checkpoint empty{.origin = "o", .size = 0, .root = empty_root()};
  EXPECT_EQ(checkpoint_body(empty), "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
  EXPECT_EQ(parse_checkpoint(checkpoint_body(empty))->size, 0u);
}

TEST(Checkpoint, StrictParsing) {
  const std::string root = "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=";
  const std::string bad[] = {
      "Head\n9944\n",                                 // too few lines
      "\n9944\n" + root + "\n",                       // empty origin
      "Log\n123\n" + root,                            // no final newline
      "Log\nbananas\n" + root + "\n",                 // size not a number
      "Log\n-34\n" + root + "\n",                     // negative
      "Log\n+34\n" + root + "\n",                     // sign
      "Log\n034\n" + root + "\n",                     // leading zero
      "Log\n\n" + root + "\n",                        // empty size
      "Log\n18446744073709551616\n" + root + "\n",    // 2^64
      "Log\n3438945738945739845734895735\n" + root + "\n",
      "Log\n123\nThisIsn'tBase64\n",                  // not base64
      "Log\n123\nYmFuYW5hcw==\n",                     // 7 bytes, not a SHA-256 root
      "Log\n123\n" + root + "\n\n",                   // empty extension line
      "Log\n123\n" + root + "\next\n\n\n",
      "Log\n 123\n" + root + "\n",
      "Lo\tg\n123\n" + root + "\n",                   // control character
      "Log\r\n123\n" + root + "\n",
      "Lo\xffg\n123\n" + root + "\n",               // invalid UTF-8
      "",
  };
  for (const auto& b : bad) {
    auto r = parse_checkpoint(b);
    EXPECT_FALSE(r) << b;
  }
  EXPECT_EQ(parse_checkpoint("Log\n18446744073709551615\n" + root + "\n")->size, UINT64_MAX);
  auto ext = parse_checkpoint("Log\n9944\n" + root + "\nlots\nof\nlines\n");
  ASSERT_TRUE(ext);
  EXPECT_EQ(ext->extensions, (std::vector<std::string>{"lots", "of", "lines"}));
}

TEST(Checkpoint, SignAndOpen) {
  auto key = crypto::Ed25519PrivateKey::generate();
  ASSERT_TRUE(key);
  auto signer = NoteSigner::create("example.com/log", std::move(*key));
  ASSERT_TRUE(signer);
  auto verifier = NoteVerifier::parse(signer->verifier_key());
  ASSERT_TRUE(verifier);
  Checkpoint cp{.origin = "example.com/log", .size = 7, .root = leaf_hash(as_bytes("r"))};
  auto note = sign_checkpoint(cp, *signer);
  ASSERT_TRUE(note) << note.error().to_string();
  EXPECT_EQ(*open_signed_checkpoint(*note, *verifier, "example.com/log"), cp);
  // Another key (same name) does not open it.
  auto other_key = crypto::Ed25519PrivateKey::generate();
  auto other = NoteSigner::create("example.com/log", std::move(*other_key));
  auto other_v = NoteVerifier::parse(other->verifier_key());
  EXPECT_FALSE(open_signed_checkpoint(*note, *other_v));
  // A signed text that is not a checkpoint.
  auto not_cp = signer->sign_checked("if this is a valid checkpoint then I'll eat my hat\n");
  ASSERT_TRUE(not_cp);
  auto r = open_signed_checkpoint(*not_cp, *verifier);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kDecode);
  // Origins that cannot be a line are refused at signing.
  EXPECT_FALSE(sign_checkpoint(Checkpoint{.origin = "", .size = 1}, *signer));
  EXPECT_FALSE(sign_checkpoint(Checkpoint{.origin = "a\nb", .size = 1}, *signer));
  EXPECT_FALSE(sign_checkpoint(Checkpoint{.origin = "a", .size = 1, .extensions = {""}}, *signer));
}

}  // namespace
}  // namespace openpcc::transparency
