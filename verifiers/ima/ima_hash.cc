#include "verifiers/ima/ima_hash.h"

#include <array>

namespace attestd::ima {
namespace {

struct Table {
  std::array<HashAlgo, 8> algos;
  size_t count = 0;
};

// Fetched once; EVP_MD_fetch avoids the implicit fetch EVP_DigestInit would
// do on every call with EVP_sha256().
const Table& Algos() {
  static const Table table = [] {
    Table t;
    struct Def {
      const char* name;
      const char* ossl;
      uint8_t id;
    };
    // Order matters: the first four are the replayable banks.
    const Def defs[] = {{"sha1", "SHA1", 2},     {"sha256", "SHA256", 4}, {"sha384", "SHA384", 5},
                        {"sha512", "SHA512", 6}, {"md5", "MD5", 1},       {"sha224", "SHA224", 7}};
    for (const Def& d : defs) {
      EVP_MD* md = EVP_MD_fetch(nullptr, d.ossl, nullptr);
      if (md == nullptr) continue;  // e.g. MD5 in a FIPS provider
      t.algos[t.count++] = {d.name, static_cast<size_t>(EVP_MD_get_size(md)), md, d.id};
    }
    return t;
  }();
  return table;
}

// Nibble values, 0xff for a non-hex byte: a table lookup instead of range
// tests, whose branches mispredict on random digests.
struct HexTable {
  uint8_t v[256];
  constexpr HexTable() : v() {
    for (int i = 0; i < 256; ++i) v[i] = 0xff;
    for (int i = 0; i < 10; ++i) v['0' + i] = static_cast<uint8_t>(i);
    for (int i = 0; i < 6; ++i) {
      v['a' + i] = static_cast<uint8_t>(10 + i);
      v['A' + i] = static_cast<uint8_t>(10 + i);
    }
  }
};
constexpr HexTable kHex;

}  // namespace

const HashAlgo* HashAlgoByName(std::string_view name) {
  const Table& t = Algos();
  for (size_t i = 0; i < t.count; ++i) {
    const HashAlgo& a = t.algos[i];
    if (name == a.name && a.kernel_id >= 2 && a.kernel_id <= 6 && a.kernel_id != 3) return &a;
  }
  return nullptr;
}

const HashAlgo* HashAlgoByKernelId(uint8_t id) {
  const Table& t = Algos();
  for (size_t i = 0; i < t.count; ++i) {
    if (t.algos[i].kernel_id == id) return &t.algos[i];
  }
  return nullptr;
}

bool IsHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return false;
  uint8_t bad = 0;
  for (unsigned char c : hex) bad |= kHex.v[c];
  return (bad & 0xf0) == 0;
}

bool DecodeHex(std::string_view hex, uint8_t* out, size_t cap, size_t* n) {
  if (hex.size() % 2 != 0 || hex.size() / 2 > cap) return false;
  const auto* in = reinterpret_cast<const uint8_t*>(hex.data());
  uint8_t bad = 0;
  for (size_t i = 0; i < hex.size(); i += 2) {
    uint8_t hi = kHex.v[in[i]], lo = kHex.v[in[i + 1]];
    bad |= hi | lo;  // any 0xff sets the high bits; checked once at the end
    out[i / 2] = static_cast<uint8_t>(hi << 4 | (lo & 0x0f));
  }
  if (bad & 0xf0) return false;
  *n = hex.size() / 2;
  return true;
}

Hasher::Hasher() : ctx_(EVP_MD_CTX_new()) {}
Hasher::~Hasher() { EVP_MD_CTX_free(ctx_); }

bool Hasher::Digest(const HashAlgo& alg, std::string_view data, DigestBuf* out) {
  unsigned int len = 0;
  if (ctx_ == nullptr || EVP_DigestInit_ex2(ctx_, alg.md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx_, out->bytes, &len) != 1) {
    return false;
  }
  out->size = len;
  return true;
}

bool Hasher::Extend(const HashAlgo& alg, DigestBuf* pcr, const DigestBuf& value) {
  unsigned int len = 0;
  if (ctx_ == nullptr || EVP_DigestInit_ex2(ctx_, alg.md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx_, pcr->bytes, pcr->size) != 1 ||
      EVP_DigestUpdate(ctx_, value.bytes, value.size) != 1 ||
      EVP_DigestFinal_ex(ctx_, pcr->bytes, &len) != 1) {
    return false;
  }
  pcr->size = len;
  return true;
}

}  // namespace attestd::ima
