// IMA measurement lists for tests, built from real files on this machine:
// every entry carries the file's real digest and a real template hash, and
// file signatures are made by evmctl with keys openssl generates, so the
// appraisal is checked against the tools that produce the real thing.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace attestd::testing {

// Raw digest of a file's contents (alg: "sha1", "sha256", ...); empty if
// the file cannot be read.
std::string FileDigest(const std::string& path, const std::string& alg = "sha256");

// Appends ima-ng / ima-sig / ima-buf lines and keeps PCR 10 of each bank up
// to date, as the kernel would. The logged template hash is SHA-1 (what
// kernels print, Keylime's default log_hash_alg) unless told otherwise.
class ImaLogBuilder {
 public:
  // Called for every entry with (bank, raw value to extend): the hook lets a
  // test extend a real TPM's PCR 10 in step with the list.
  using ExtendHook = std::function<void(const std::string& bank, const std::string& value)>;

  explicit ImaLogBuilder(std::vector<std::string> banks = {"sha256", "sha1"},
                         std::string log_hash_alg = "sha1");
  void SetExtendHook(ExtendHook hook) { hook_ = std::move(hook); }

  // "boot_aggregate" with a SHA-256 digest (default: of "boot").
  void BootAggregate(const std::string& digest = "");
  // ima-ng entry for the file at `path`, measured now; returns its digest
  // (raw). `logged_path` replaces the path in the log when not empty.
  std::string AddFile(const std::string& path, const std::string& alg = "sha256",
                      const std::string& logged_path = "");
  // An ima-ng entry for an arbitrary digest.
  void AddDigest(const std::string& logged_path, const std::string& digest_raw,
                 const std::string& alg = "sha256");
  // ima-sig entry; `sig` is the raw security.ima value (empty: unsigned).
  std::string AddSignedFile(const std::string& path, const std::string& sig,
                            const std::string& alg = "sha256", const std::string& logged_path = "");
  // ima-buf entry: name and buffer (e.g. a keyring name and a DER certificate).
  void AddBuffer(const std::string& name, const std::string& data,
                 const std::string& alg = "sha256");
  // A violation: template hash all zero, 0xFF extended.
  void AddViolation(const std::string& path);

  const std::string& text() const { return text_; }
  size_t entries() const { return entries_; }
  // PCR 10 of `bank` now (raw).
  std::string Pcr10(const std::string& bank) const { return pcr_.at(bank); }
  // Byte offset in text() where entry `i` starts (0-based).
  size_t Offset(size_t i) const { return offsets_.at(i); }

 private:
  void Append(const std::string& tmpl, const std::string& fields_data,
              const std::string& fields_text, bool violation);

  std::vector<std::string> banks_;
  std::string log_hash_alg_;
  ExtendHook hook_;
  std::string text_;
  size_t entries_ = 0;
  std::vector<size_t> offsets_;
  std::map<std::string, std::string> pcr_;
};

// A signing key in a temporary directory (openssl), used through evmctl.
class ImaSigner {
 public:
  // type: "rsa" (2048) or "ec" (P-256).
  ImaSigner(const std::string& dir, const std::string& type);
  bool ok() const { return ok_; }
  // The security.ima value (type 3, v2) evmctl makes for a copy of `path`.
  std::string Sign(const std::string& path, const std::string& alg = "sha256");
  std::string PublicDer() const;  // SubjectPublicKeyInfo
  std::string PublicPem() const;
  // A self-signed certificate with a Subject Key Identifier, DER.
  std::string CertificateDer() const;
  const std::string& key_path() const { return key_; }

 private:
  std::string dir_;
  std::string key_;
  bool ok_ = false;
  int counter_ = 0;
};

// A Keylime runtime policy document, as keylime_tenant would send it.
class ImaPolicyBuilder {
 public:
  ImaPolicyBuilder& Digest(const std::string& path, const std::string& digest_raw);
  ImaPolicyBuilder& Exclude(const std::string& regex);
  ImaPolicyBuilder& Keyring(const std::string& name, const std::string& digest_raw);
  ImaPolicyBuilder& ImaBuf(const std::string& name, const std::string& digest_raw);
  ImaPolicyBuilder& IgnoreKeyring(const std::string& name);
  // A DER SubjectPublicKeyInfo for `verification-keys` (key id derived).
  ImaPolicyBuilder& VerificationKey(const std::string& spki_der);
  ImaPolicyBuilder& LogHashAlg(const std::string& alg);
  // Raw JSON for ima.dm_policy (default null).
  ImaPolicyBuilder& DmPolicy(const std::string& json);
  std::string Json() const;

 private:
  std::map<std::string, std::vector<std::string>> digests_, keyrings_, imabuf_;
  std::vector<std::string> excludes_, ignored_, keys_;
  std::string log_hash_alg_ = "sha1";
  std::string dm_policy_ = "null";
};

// Runs argv, waits for it; its exit code (-1 if it could not run).
int RunTool(const std::vector<std::string>& argv, const std::string& log = "");

}  // namespace attestd::testing
