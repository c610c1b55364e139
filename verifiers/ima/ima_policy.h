// A Keylime runtime policy (or a legacy allowlist) compiled once into an
// immutable form that appraisals share: hash tables of accepted digests,
// one RE2::Set automaton for all exclude patterns, and the keys that verify
// file signatures.
//
// Runtime policy (what `keylime_tenant --runtime-policy` sends):
//   {"meta": {"version": 1, ...}, "release": 0,
//    "digests": {"/usr/bin/ls": ["<hex>", ...]},   // any algorithm
//    "excludes": ["<regex>", ...],                 // anchored at the start
//    "keyrings": {"<keyring>": ["<hex>"]},
//    "ima": {"ignored_keyrings": [...], "log_hash_alg": "sha1", "dm_policy": null},
//    "ima-buf": {"<name>": ["<hex>"]},
//    "verification-keys": "{\"keyids\": [...], \"pubkeys\": [\"<base64 DER>\"]}"}
// Missing sections are empty. A DSSE envelope ({"payload": ...}) is
// unwrapped without checking its signature (the caller does that).
// Refused, with the field named: `ima.dm_policy` set (device-mapper
// validation is not implemented), `meta.version` above 1, a malformed
// digest, a regex RE2 cannot compile (e.g. a look-ahead), an unloadable key.
#pragma once

#include <re2/set.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "verifiers/ima/ima_hash.h"
#include "verifiers/ima/ima_keys.h"

namespace attestd::ima {

// The three name → digests tables of a runtime policy.
enum class DigestTable { kDigests, kKeyrings, kImaBuf };

enum class Lookup {
  kNoEntry,  // the name is not in the table
  kNoMatch,  // the name is, with other digests
  kMatch,
};

// Names (paths, keyring names) to lists of digests: the bytes in two
// arenas, an open-addressing table of offsets (with each name's hash, so a
// probe rarely touches a name that is not the one sought).
class DigestIndex {
 public:
  // Sizes the arenas and the table for what is about to be added (a hint).
  void Reserve(size_t name_bytes, size_t names);
  // Adds `name` with the digests given as hex (20..64 bytes each). An
  // existing name gets the new digests in place of its old ones.
  Status Add(std::string_view name, const std::vector<std::string_view>& hex_digests);
  Lookup Find(std::string_view name, std::string_view digest) const;
  // Up to `max` accepted digests of `name`, hex, comma-separated.
  std::string Accepted(std::string_view name, size_t max) const;
  size_t names() const { return used_; }
  size_t ApproxBytes() const;

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Slot {                     // 16 bytes
    uint32_t tag = 0;               // the high half of the name's hash
    uint32_t name_offset = kEmpty;  // into names_
    uint32_t digest_offset = 0;     // into digests_: records of [size byte][bytes]
    uint16_t name_size = 0;         // names are at most 65535 bytes (PATH_MAX is 4096)
    uint16_t count = 0;             // digests of the name, at most 65535
  };
  const Slot* Lookup1(std::string_view name) const;
  void Grow(size_t slots);

  std::string names_;
  std::string digests_;
  std::vector<Slot> slots_;  // a power of two, at most half full
  size_t used_ = 0;
};

class CompiledPolicy {
 public:
  // Hex SHA-256 of the policy text: the policy's identity.
  const std::string& id() const { return id_; }
  // Approximate memory held (tables, automaton, keys), for measurement.
  size_t approx_bytes() const { return approx_bytes_; }
  // The algorithm of the log's template hashes (ima.log_hash_alg).
  const HashAlgo& log_hash_alg() const { return *log_hash_alg_; }

  // Whether some exclude pattern matches at the start of `path`.
  bool Excluded(std::string_view path) const;
  const DigestIndex& table(DigestTable t) const { return tables_[static_cast<int>(t)]; }
  // ima.ignored_keyrings names `keyring`, or "*".
  bool KeyringIgnored(std::string_view keyring) const;
  // Keys of `verification-keys` and the extra keys given at compilation.
  const Keyring& tenant_keys() const { return tenant_keys_; }
  size_t exclude_count() const { return exclude_count_; }

 private:
  friend class PolicyCompiler;
  CompiledPolicy();

  std::string id_;
  size_t approx_bytes_ = 0;
  const HashAlgo* log_hash_alg_ = nullptr;
  DigestIndex tables_[3];
  std::unique_ptr<RE2::Set> excludes_;
  size_t exclude_count_ = 0;
  std::vector<std::string> ignored_keyrings_;
  bool ignore_all_keyrings_ = false;
  Keyring tenant_keys_;
};

using PolicyPtr = std::shared_ptr<const CompiledPolicy>;

// Compiles a runtime policy (JSON). `extra_keys`: more verification keys,
// each DER or PEM (public key, certificate or private key), RSA or EC.
Result<PolicyPtr> CompileRuntimePolicy(std::string_view json,
                                       const std::vector<std::string>& extra_keys = {});

// Compiles a legacy allowlist: "<hex digest> <path>" lines (whitespace
// separated; "%keyring:<name>" paths go to the keyrings table) or the old
// JSON form {"hashes": {path: [hex...]}, ...}; plus an exclude list, one
// regex a line ('#' comments and blank lines skipped). Identity: SHA-256 of
// the allowlist, a NUL byte, and the exclude list.
Result<PolicyPtr> CompileAllowlist(std::string_view allowlist, std::string_view excludes,
                                   const std::vector<std::string>& extra_keys = {});

}  // namespace attestd::ima
