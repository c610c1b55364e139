#include "service/keylime/keylime_rules.h"

#include <algorithm>
#include <cctype>
#include <memory>

#include "verifiers/tpm/ak_cache.h"

namespace attestd::keylime {

namespace {

const std::vector<std::string>& KnownAlgs(std::string_view kind) {
  static const std::vector<std::string> kHash = {"sha1", "sha256", "sha384", "sha512", "sm3_256"};
  static const std::vector<std::string> kEnc = {"rsa", "ecc"};
  static const std::vector<std::string> kSign = {"rsassa", "rsapss",    "ecdsa",
                                                 "ecdaa",  "ecschnorr", "sm2"};
  return kind == "hash" ? kHash : kind == "encryption" ? kEnc : kSign;
}

// A TPM2B_PUBLIC as given, or the bare TPMT_PUBLIC with its size prefix
// put in front; null when neither parses.
std::shared_ptr<const tpm::AkKey> ParseEither(std::string_view bytes) {
  auto key = tpm::ParseAk(bytes);
  if (key.ok()) return *key;
  if (bytes.size() > 0xffff) return nullptr;
  std::string prefixed;
  prefixed.push_back(static_cast<char>(bytes.size() >> 8));
  prefixed.push_back(static_cast<char>(bytes.size() & 0xff));
  prefixed.append(bytes);
  key = tpm::ParseAk(prefixed);
  return key.ok() ? *key : nullptr;
}

}  // namespace

bool SameAk(std::string_view a, std::string_view b) {
  if (a == b) return !a.empty();
  auto ka = ParseEither(a);
  auto kb = ParseEither(b);
  return ka && kb && EVP_PKEY_eq(ka->pkey.get(), kb->pkey.get()) == 1;
}

std::string_view SchemeKeyAlgorithm(std::string_view scheme) {
  if (scheme == "rsassa" || scheme == "rsapss") return "rsa";
  if (scheme == "ecdsa" || scheme == "ecdaa" || scheme == "ecschnorr" || scheme == "sm2") {
    return "ecc";
  }
  return "";
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

Status ValidateAk(std::string_view ak_tpm, const std::string& field) {
  if (ak_tpm.empty()) return InvalidArgument(field + " is required");
  // Cached: the verify routes validate the AK they appraise with next.
  auto key = tpm::ParseAkCached(ak_tpm);
  if (!key.ok()) return InvalidArgument(field + ": " + key.status().message());
  if (!(*key)->HasAkAttributes())
    return InvalidArgument(field + " is not a restricted signing key");
  return Status::Ok();
}

Status ValidateAlgs(std::string_view kind, const std::vector<std::string>& algs) {
  std::string field = "accept_tpm_" + std::string(kind) + "_algs";
  if (algs.empty()) return InvalidArgument(field + " must name at least one algorithm");
  const auto& known = KnownAlgs(kind);
  for (const std::string& a : algs) {
    if (std::find(known.begin(), known.end(), a) == known.end()) {
      return InvalidArgument(field + ": unknown algorithm '" + a + "'");
    }
  }
  return Status::Ok();
}

}  // namespace attestd::keylime
