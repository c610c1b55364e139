#include "verifiers/tpm/pcrblob.h"

#include <algorithm>

#include "verifiers/tpm/tpm_structures.h"

namespace attestd::tpm {

namespace {

constexpr size_t kMaxBanks = 16;
constexpr size_t kDigestsPerList = 8;
constexpr size_t kMaxDigest = 64;
constexpr size_t kSelectionEntryBytes = 8;  // u16 hash, u8 sizeofSelect, u8[4], u8 pad
constexpr size_t kDigestEntryBytes = 2 + kMaxDigest;

uint16_t U16(std::string_view b, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) |
                               (static_cast<uint8_t>(b[at + 1]) << 8));
}

uint32_t U32(std::string_view b, size_t at) {
  return static_cast<uint32_t>(static_cast<uint8_t>(b[at])) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[at + 1])) << 8) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[at + 2])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[at + 3])) << 24);
}

void PutU16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

Result<PcrBlob> ParsePcrBlob(std::string_view b) {
  if (b.size() < kPcrSelectionBytes + 4) return InvalidArgument("pcrblob too short");
  PcrBlob blob;
  uint32_t count = U32(b, 0);
  if (count > kMaxBanks) return InvalidArgument("pcrblob selects too many banks");
  size_t selected = 0;
  for (uint32_t i = 0; i < count; ++i) {
    size_t at = 4 + i * kSelectionEntryBytes;
    PcrBankSelection s;
    s.hash = U16(b, at);
    if (static_cast<uint8_t>(b[at + 2]) != 3) {
      return InvalidArgument("pcrblob sizeofSelect is not 3");
    }
    for (int j = 0; j < 3; ++j) s.select[j] = static_cast<uint8_t>(b[at + 3 + j]);
    if (b[at + 6] != 0) return InvalidArgument("pcrblob selects a PCR above 23");
    for (const PcrBankSelection& prev : blob.selection) {
      if (prev.hash == s.hash) return InvalidArgument("pcrblob lists a bank twice");
    }
    for (int pcr = 0; pcr < 24; ++pcr) selected += s.Selected(pcr);
    blob.selection.push_back(s);
  }

  uint32_t n = U32(b, kPcrSelectionBytes);
  size_t rest = b.size() - kPcrSelectionBytes - 4;
  if (rest % kPcrDigestListBytes != 0 || rest / kPcrDigestListBytes != n) {
    return InvalidArgument("pcrblob size does not match its digest list count");
  }

  // Gather the digests in order, then hand them to the selected PCRs.
  std::vector<std::string_view> digests;
  for (uint32_t l = 0; l < n; ++l) {
    size_t at = kPcrSelectionBytes + 4 + l * kPcrDigestListBytes;
    uint32_t c = U32(b, at);
    if (c > kDigestsPerList) return InvalidArgument("pcrblob TPML_DIGEST count above 8");
    for (uint32_t d = 0; d < c; ++d) {
      size_t e = at + 4 + d * kDigestEntryBytes;
      uint16_t size = U16(b, e);
      if (size > kMaxDigest) return InvalidArgument("pcrblob digest larger than 64 bytes");
      if (digests.size() >= selected) {
        return InvalidArgument("pcrblob has more digests than selected PCRs");
      }
      digests.push_back(b.substr(e + 2, size));
    }
  }
  if (digests.size() != selected) {
    return InvalidArgument("pcrblob has fewer digests than selected PCRs");
  }

  size_t next = 0;
  blob.values.reserve(selected);
  for (const PcrBankSelection& s : blob.selection) {
    const HashAlg* alg = HashAlgById(s.hash);
    for (int pcr = 0; pcr < 24; ++pcr) {
      if (!s.Selected(pcr)) continue;
      std::string_view d = digests[next++];
      if (alg != nullptr && d.size() != alg->size) {
        return InvalidArgument("pcrblob digest size does not match its bank");
      }
      blob.values.push_back(PcrValue{s.hash, pcr, std::string(d)});
    }
  }
  return blob;
}

std::string SerializePcrBlob(const PcrBlob& blob) {
  std::string out;
  PutU32(out, static_cast<uint32_t>(blob.selection.size()));
  for (size_t i = 0; i < kMaxBanks; ++i) {
    if (i < blob.selection.size()) {
      const PcrBankSelection& s = blob.selection[i];
      PutU16(out, s.hash);
      out.push_back(3);
      for (uint8_t v : s.select) out.push_back(static_cast<char>(v));
      out.push_back(0);
      out.push_back(0);
    } else {
      out.append(kSelectionEntryBytes, '\0');
    }
  }
  size_t lists = (blob.values.size() + kDigestsPerList - 1) / kDigestsPerList;
  PutU32(out, static_cast<uint32_t>(lists));
  for (size_t l = 0; l < lists; ++l) {
    size_t first = l * kDigestsPerList;
    size_t c = std::min(kDigestsPerList, blob.values.size() - first);
    PutU32(out, static_cast<uint32_t>(c));
    for (size_t d = 0; d < kDigestsPerList; ++d) {
      std::string v = d < c ? blob.values[first + d].digest : std::string();
      if (v.size() > kMaxDigest) v.resize(kMaxDigest);
      PutU16(out, static_cast<uint16_t>(d < c ? v.size() : 0));
      v.resize(kMaxDigest, '\0');
      out += v;
    }
  }
  return out;
}

}  // namespace attestd::tpm
