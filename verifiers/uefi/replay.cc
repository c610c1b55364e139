#include "verifiers/uefi/replay.h"

#include <openssl/evp.h>

#include <memory>

#include "common/openssl_ptr.h"
#include "verifiers/tpm/tpm_structures.h"
#include "verifiers/uefi/eventlog_decode.h"

namespace attestd::uefi {
namespace {

using CtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslFree<EVP_MD_CTX_free>>;

// What the digest of an event must be, when the spec says.
enum class Rule {
  kNone,
  kHashOfData,
  // The spec's UEFI_VARIABLE_DATA hash, or the hash of VariableData alone:
  // edk2 does the latter for Boot#### (the spec's older wording), some
  // firmware the former; shim hashes its own authority variables both ways
  // across versions.
  kHashOfVariable,
  kZero,
};

Rule RuleFor(const Event& e) {
  switch (e.type) {
    case kEvNoAction:
      return Rule::kZero;
    case kEvSeparator:
    case kEvEfiAction:
    case kEvAction:
    case kEvEfiGptEvent:
    case kEvEfiVariableDriverConfig:
    case kEvEfiVariableBoot2:
      return Rule::kHashOfData;
    case kEvEfiVariableBoot:
      return Rule::kHashOfVariable;
    case kEvEfiVariableAuthority: {
      // Old shim logged its Shim certificate with size fields that do not
      // add up (bytes left after VariableData) and a digest over neither
      // span: such an event cannot be checked.
      auto v = DecodeVariable(e.data);
      return v.ok() && v->size == e.data.size() ? Rule::kHashOfVariable : Rule::kNone;
    }
    default:
      return Rule::kNone;
  }
}

bool Hash(EVP_MD_CTX* ctx, const EVP_MD* md, std::string_view a, std::string_view b, uint8_t* out) {
  unsigned int n = 0;
  return EVP_DigestInit_ex(ctx, md, nullptr) == 1 &&
         EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
         (b.empty() || EVP_DigestUpdate(ctx, b.data(), b.size()) == 1) &&
         EVP_DigestFinal_ex(ctx, out, &n) == 1;
}

// Sets *match when hash(data) == digest.
bool HashMatches(EVP_MD_CTX* ctx, const EVP_MD* md, std::string_view data, std::string_view digest,
                 bool* match) {
  uint8_t h[EVP_MAX_MD_SIZE];
  if (!Hash(ctx, md, data, {}, h)) return false;
  *match = std::string_view(reinterpret_cast<const char*>(h), digest.size()) == digest;
  return true;
}

// Adds a mismatch when `e`'s digest in `bank` breaks its rule.
bool CheckDigest(EVP_MD_CTX* ctx, const EVP_MD* md, const Event& e, Rule rule, uint16_t alg,
                 std::string_view digest, std::vector<DigestMismatch>* out) {
  if (rule == Rule::kZero) {
    if (digest.find_first_not_of('\0') != std::string_view::npos) {
      out->push_back({e.index, e.pcr, e.type, alg, "EV_NO_ACTION digest is not zero"});
    }
    return true;
  }
  bool match = false;
  if (!HashMatches(ctx, md, e.data, digest, &match)) return false;
  if (!match && rule == Rule::kHashOfVariable) {
    auto v = DecodeVariable(e.data);  // parsing checked it already
    if (v.ok() && v->size != e.data.size() &&
        !HashMatches(ctx, md, e.data.substr(0, v->size), digest, &match)) {
      return false;
    }
    if (v.ok() && !match && !HashMatches(ctx, md, v->data, digest, &match)) return false;
  }
  if (!match) {
    out->push_back({e.index, e.pcr, e.type, alg,
                    rule == Rule::kHashOfVariable
                        ? "digest is the hash of neither the variable nor its data"
                        : "digest is not the hash of the event data"});
  }
  return true;
}

// Bank i can be replayed when every event carries its digest.
bool EveryEventHas(const EventLog& log, size_t bank) {
  for (const Event& e : log.events) {
    if (log.crypto_agile && e.index == 0) continue;
    if (e.digests[bank].empty()) return false;
  }
  return true;
}

}  // namespace

const PcrBank* Replay::Bank(uint16_t alg) const {
  for (const PcrBank& b : banks) {
    if (b.alg == alg) return &b;
  }
  return nullptr;
}

Result<Replay> ReplayLog(const EventLog& log) {
  Replay out;
  CtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Internal("EVP_MD_CTX_new failed");
  std::array<const EVP_MD*, kMaxBanks> mds{};
  std::array<int, kMaxBanks> slot{};  // bank index in the log → index in out.banks
  for (size_t i = 0; i < log.banks.size(); ++i) {
    const tpm::HashAlg* a = tpm::HashAlgById(log.banks[i].alg);
    slot[i] = -1;
    if (a == nullptr || a->size != log.banks[i].size || !EveryEventHas(log, i)) continue;
    mds[i] = a->md;
    slot[i] = static_cast<int>(out.banks.size());
    PcrBank b;
    b.alg = log.banks[i].alg;
    b.size = a->size;
    b.values[0][b.size - 1] = log.startup_locality;
    out.banks.push_back(b);
  }
  for (const Event& e : log.events) {
    if (log.crypto_agile && e.index == 0) continue;  // the Spec ID header
    Rule rule = RuleFor(e);
    for (size_t i = 0; i < log.banks.size(); ++i) {
      if (slot[i] < 0) continue;
      PcrBank& b = out.banks[slot[i]];
      if (rule != Rule::kNone &&
          !CheckDigest(ctx.get(), mds[i], e, rule, b.alg, e.digests[i], &out.mismatches)) {
        return Internal("OpenSSL digest failed");
      }
      if (e.type == kEvNoAction) continue;
      uint8_t* pcr = b.values[e.pcr].data();
      std::string_view old(reinterpret_cast<const char*>(pcr), b.size);
      if (!Hash(ctx.get(), mds[i], old, e.digests[i], pcr))
        return Internal("OpenSSL digest failed");
      b.extended |= 1u << e.pcr;
    }
  }
  return out;
}

}  // namespace attestd::uefi
