#include "verifiers/tpm/tpm_structures.h"

#include <tss2/tss2_mu.h>

#include <array>
#include <cstdio>

namespace attestd::tpm {

namespace {

const EVP_MD* Fetch(const char* name) {
  // Explicit fetch once: implicit fetches on every verify take a lock in the
  // provider store, which shows in the benchmark.
  return EVP_MD_fetch(nullptr, name, nullptr);
}

const std::array<HashAlg, 4>& Algs() {
  static const std::array<HashAlg, 4> algs = {{
      {TPM2_ALG_SHA1, "sha1", 20, Fetch("SHA1")},
      {TPM2_ALG_SHA256, "sha256", 32, Fetch("SHA256")},
      {TPM2_ALG_SHA384, "sha384", 48, Fetch("SHA384")},
      {TPM2_ALG_SHA512, "sha512", 64, Fetch("SHA512")},
  }};
  return algs;
}

const uint8_t* Bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

template <typename T, typename Fn>
Result<T> UnmarshalAll(std::string_view bytes, Fn fn, const char* what) {
  T out{};
  size_t offset = 0;
  TSS2_RC rc = fn(Bytes(bytes), bytes.size(), &offset, &out);
  if (rc != TSS2_RC_SUCCESS) return InvalidArgument(std::string(what) + " does not unmarshal");
  if (offset != bytes.size()) {
    return InvalidArgument(std::string(what) + " has " + std::to_string(bytes.size() - offset) +
                           " trailing bytes");
  }
  return out;
}

}  // namespace

const HashAlg* HashAlgById(TPM2_ALG_ID id) {
  for (const HashAlg& a : Algs()) {
    if (a.id == id && a.md != nullptr) return &a;
  }
  return nullptr;
}

const HashAlg* HashAlgByName(std::string_view name) {
  for (const HashAlg& a : Algs()) {
    if (name == a.name && a.md != nullptr) return &a;
  }
  return nullptr;
}

std::string AlgName(TPM2_ALG_ID id) {
  if (const HashAlg* a = HashAlgById(id)) return a->name;
  switch (id) {
    case TPM2_ALG_RSASSA:
      return "rsassa";
    case TPM2_ALG_RSAPSS:
      return "rsapss";
    case TPM2_ALG_ECDSA:
      return "ecdsa";
    default:
      break;
  }
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%04x", static_cast<unsigned>(id));
  return buf;
}

Result<TPMS_ATTEST> ParseAttest(std::string_view bytes) {
  return UnmarshalAll<TPMS_ATTEST>(bytes, Tss2_MU_TPMS_ATTEST_Unmarshal, "TPMS_ATTEST");
}

Result<TPMT_SIGNATURE> ParseSignature(std::string_view bytes) {
  return UnmarshalAll<TPMT_SIGNATURE>(bytes, Tss2_MU_TPMT_SIGNATURE_Unmarshal, "TPMT_SIGNATURE");
}

Result<TPM2B_PUBLIC> ParsePublic(std::string_view bytes) {
  auto pub = UnmarshalAll<TPM2B_PUBLIC>(bytes, Tss2_MU_TPM2B_PUBLIC_Unmarshal, "TPM2B_PUBLIC");
  if (!pub.ok()) return pub;
  if (bytes.size() < 2 || pub->size != bytes.size() - 2) {
    return InvalidArgument("TPM2B_PUBLIC size field does not match its contents");
  }
  return pub;
}

Result<std::string> MarshalPublicArea(const TPMT_PUBLIC& pub) {
  std::string out(sizeof(TPMT_PUBLIC), '\0');
  size_t offset = 0;
  TSS2_RC rc = Tss2_MU_TPMT_PUBLIC_Marshal(&pub, reinterpret_cast<uint8_t*>(out.data()), out.size(),
                                           &offset);
  if (rc != TSS2_RC_SUCCESS) return InvalidArgument("TPMT_PUBLIC does not marshal");
  out.resize(offset);
  return out;
}

std::string Digest(const HashAlg& alg, std::string_view data) {
  std::string out(alg.size, '\0');
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &n, alg.md,
                 nullptr) != 1 ||
      n != alg.size) {
    return std::string();
  }
  return out;
}

}  // namespace attestd::tpm
