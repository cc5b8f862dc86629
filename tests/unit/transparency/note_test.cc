#include "transparency/note.h"

#include <gtest/gtest.h>

#include <string>

namespace openpcc::transparency {
namespace {

// Known-answer material published with golang.org/x/mod/sumdb/note (note_test.go).
constexpr std::string_view kPeterVkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr std::string_view kPeterSkey =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr std::string_view kEnochVkey = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
constexpr std::string_view kText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
const std::string kPeterSig =
    "\xE2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const std::string kEnochSig =
    "\xE2\x80\x94 EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

NoteVerifier peter() { return *NoteVerifier::parse(kPeterVkey); }
NoteVerifier enoch() { return *NoteVerifier::parse(kEnochVkey); }

TEST(NoteKeys, ParsesPublishedVerifierKeys) {
  auto v = NoteVerifier::parse(kPeterVkey);
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_EQ(v->name(), "PeterNeumann");
  EXPECT_EQ(v->key_id(), 0xc74f20a3u);
  EXPECT_EQ(v->verifier_key(), kPeterVkey);
  EXPECT_EQ(note_key_id("PeterNeumann", 0x01, v->public_key().bytes()), 0xc74f20a3u);
  auto e = NoteVerifier::parse(kEnochVkey);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->key_id(), 0xaf0cfe78u);
}

TEST(NoteKeys, SignerKeyMatchesVerifierKey) {
  auto s = NoteSigner::parse(kPeterSkey);
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->verifier_key(), kPeterVkey);
  EXPECT_EQ(s->key_id(), 0xc74f20a3u);
}

// As the Go tests do: every proper substring and every single-byte change of the key string is refused.
TEST(NoteKeys, ManglingsAreRefused) {
  std::string b(kPeterVkey);
  for (size_t i = 0; i <= b.size(); ++i) {
    for (size_t j = i + 1; j <= b.size(); ++j) {
      if (i == 0 && j == b.size()) continue;
      EXPECT_FALSE(NoteVerifier::parse(b.substr(i, j - i))) << b.substr(i, j - i);
    }
  }
  for (size_t i = 0; i < b.size(); ++i) {
    std::string m = b;
    ++m[i];
    EXPECT_FALSE(NoteVerifier::parse(m)) << m;
  }
  // Wrong key length and unknown algorithm, each with a key ID adjusted to match.
  EXPECT_FALSE(NoteVerifier::parse("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="));
  auto unknown = NoteVerifier::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kUnsupported);
  std::string s(kPeterSkey);
  for (size_t i = 0; i < s.size(); ++i) {
    std::string m = s;
    ++m[i];
    EXPECT_FALSE(NoteSigner::parse(m)) << m;
  }
  for (size_t j = 1; j < s.size(); ++j) EXPECT_FALSE(NoteSigner::parse(s.substr(0, j)));
  // Uppercase hex is not the canonical form.
  EXPECT_FALSE(NoteVerifier::parse("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"));
}

TEST(NoteKeys, Names) {
  EXPECT_TRUE(is_valid_note_key_name("example.com/log"));
  EXPECT_TRUE(is_valid_note_key_name("Se\xC3\xB1or-1"));
  EXPECT_FALSE(is_valid_note_key_name(""));
  EXPECT_FALSE(is_valid_note_key_name("a b"));
  EXPECT_FALSE(is_valid_note_key_name("a+b"));
  EXPECT_FALSE(is_valid_note_key_name("a\tb"));
  EXPECT_FALSE(is_valid_note_key_name("a\xC2\xA0z"));      // U+00A0
  EXPECT_FALSE(is_valid_note_key_name("a\xE3\x80\x80z"));  // U+3000
  EXPECT_FALSE(is_valid_note_key_name("a\xE2\x80\x83z"));  // U+2003
  EXPECT_FALSE(is_valid_note_key_name("\xFF"));
  EXPECT_FALSE(is_valid_note_key_name("\xC0\xAF"));  // overlong '/'
  auto key = crypto::Ed25519PrivateKey::generate();
  ASSERT_TRUE(key);
  EXPECT_FALSE(NoteSigner::create("bad name", std::move(*key)));
}

TEST(NoteSign, PublishedSignature) {
  auto s = NoteSigner::parse(kPeterSkey);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->sign(kText), std::string(kText) + "\n" + kPeterSig);
  EXPECT_EQ(*s->signature_line(kText), kPeterSig);
  // Not a note text: no final newline, control characters, empty.
  EXPECT_EQ(s->sign("abc"), "");
  EXPECT_FALSE(s->sign_checked("abc"));
  EXPECT_FALSE(s->sign_checked("a\x01\n"));
  EXPECT_FALSE(s->sign_checked(""));
}

TEST(NoteOpen, PublishedNotes) {
  std::string both = std::string(kText) + "\n" + kPeterSig + kEnochSig;
  // One key known, the other's signature ignored.
  auto text = peter().verify(both);
  ASSERT_TRUE(text) << text.error().to_string();
  EXPECT_EQ(*text, kText);
  EXPECT_TRUE(enoch().verify(both));
  // Only an unknown key signed.
  auto only_enoch = std::string(kText) + "\n" + kEnochSig;
  auto r = peter().verify(only_enoch);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kAuthenticationFailed);
  // Parsed signatures.
  auto parsed = parse_note(both);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->signatures.size(), 2u);
  EXPECT_EQ(parsed->signatures[0].name, "PeterNeumann");
  EXPECT_EQ(parsed->signatures[0].key_id, 0xc74f20a3u);
  EXPECT_EQ(parsed->signatures[0].signature.size(), 64u);
  EXPECT_EQ(parsed->signatures[1].key_id, 0xaf0cfe78u);
  // Duplicated verified and unverified signatures, one of them corrupt but unknown-key, are fine.
  std::string enoch_bad = kEnochSig.substr(0, 60) + "ABCD" + kEnochSig.substr(60);
  auto dup = std::string(kText) + "\n" + kPeterSig + kPeterSig + kEnochSig + kEnochSig + enoch_bad;
  EXPECT_TRUE(peter().verify(dup));
}

TEST(NoteOpen, InvalidKnownSignatureRejectsTheNote) {
  std::string bad = std::string(kText) + "\n" + kPeterSig.substr(0, 60) + "ABCD" + kPeterSig.substr(60);
  auto r = peter().verify(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kAuthenticationFailed);
  EXPECT_NE(r.error().message.find("invalid signature for key PeterNeumann+c74f20a3"), std::string::npos);
  // Even when another copy of the signature is good.
  std::string mixed = std::string(kText) + "\n" + kPeterSig + kPeterSig.substr(0, 60) + "ABCD" + kPeterSig.substr(60);
  EXPECT_FALSE(peter().verify(mixed));
  // A signature over a different text.
  std::string other = "If you think cryptography is the answer to your problem,\nthen you don't know.\n\n" + kPeterSig;
  EXPECT_FALSE(peter().verify(other));
}

TEST(NoteOpen, SignatureCountCap) {
  std::string many = std::string(kText) + "\n";
  for (int i = 0; i < 100; ++i) many += kPeterSig;
  EXPECT_TRUE(peter().verify(many));
  many += kPeterSig;
  auto r = peter().verify(many);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kLimitExceeded);
}

TEST(NoteOpen, SizeCap) {
  std::string big(kMaxNoteSize + 1, 'a');
  auto r = parse_note(big);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kLimitExceeded);
}

TEST(NoteOpen, MalformedNotes) {
  const std::string text(kText);
  const std::string sig64 =
      "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";
  // The same with non-zero trailing bits in its last base64 character: non-canonical.
  const std::string sig64_noncanonical = sig64.substr(0, sig64.size() - 2) + "N=";
  const std::string bad[] = {
      text,
      text + "\n",
      text + "\n" + kPeterSig.substr(0, kPeterSig.size() - 1),
      "\x01" + text + "\n" + kPeterSig,
      "\xff" + text + "\n" + kPeterSig,
      text + "\n" + "\xE2\x80\x94 Bad Name " + sig64,
      text + "\n" + kPeterSig + "Unexpected line.\n",
      text + "\n" + kPeterSig + "\n",
      text + "\n" + "- PeterNeumann " + sig64 + "\n",
      text + "\n" + "\xE2\x80\x94 PeterNeumann\n",
      text + "\n" + "\xE2\x80\x94 PeterNeumann AAAA\n",             // 3 bytes: shorter than a key ID + 1
      text + "\n" + "\xE2\x80\x94 PeterNeumann x08go/ZJ!!\n",       // not base64
      text + "\n" + "\xE2\x80\x94 PeterNeumann " + sig64_noncanonical + "\n",
      text + "\r\n" + kPeterSig,
      "",
  };
  for (const auto& msg : bad) {
    auto r = peter().verify(msg);
    EXPECT_FALSE(r) << msg;
    if (!r) {
      EXPECT_NE(r.error().code, ErrorCode::kAuthenticationFailed) << msg;
    }
  }
}

TEST(NoteOpen, TextMayHoldBlankLines) {
  auto key = crypto::Ed25519PrivateKey::generate();
  ASSERT_TRUE(key);
  auto s = NoteSigner::create("example.com/log", std::move(*key));
  ASSERT_TRUE(s);
  std::string text = "first\n\nthird\n";
  auto note = s->sign_checked(text);
  ASSERT_TRUE(note);
  auto v = NoteVerifier::parse(s->verifier_key());
  ASSERT_TRUE(v);
  EXPECT_EQ(*v->verify(*note), text);
  EXPECT_EQ(NoteVerifier::create("example.com/log", s->public_key())->verifier_key(), s->verifier_key());
}

TEST(NoteOpen, SameNameOtherKeyIsIgnored) {
  // A key with the same name but another ID (a rotated key) is not ours: its signature is ignored, not judged.
  auto k1 = crypto::Ed25519PrivateKey::generate();
  auto k2 = crypto::Ed25519PrivateKey::generate();
  auto s1 = NoteSigner::create("log", std::move(*k1));
  auto s2 = NoteSigner::create("log", std::move(*k2));
  ASSERT_TRUE(s1 && s2);
  std::string text = "hello\n";
  std::string note = s2->sign(text) + *s1->signature_line(text);
  auto v1 = NoteVerifier::parse(s1->verifier_key());
  EXPECT_TRUE(v1->verify(note));
  auto only2 = s2->sign(text);
  EXPECT_FALSE(v1->verify(only2));
}

}  // namespace
}  // namespace openpcc::transparency
