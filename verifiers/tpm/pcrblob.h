// The tpm2-tools "serialized" PCR blob (`tpm2_quote -o`, the third part of a
// Keylime quote string): host-order (little-endian) raw structs, NOT TPM
// marshaling.
//
//   TPML_PCR_SELECTION  u32 count, 16 x {u16 hash, u8 sizeofSelect,
//                       u8 pcrSelect[4], u8 pad}                  132 bytes
//   u32 n
//   n x TPML_DIGEST     u32 count, 8 x {u16 size, u8 buffer[64]}  532 bytes each
//
// Promises of ParsePcrBlob:
// - Reads byte by byte (portable: no struct layout, no host endianness).
// - Accepts any byte string; returns kInvalidArgument unless: the size is
//   exactly 136 + 532*n; the selection count is at most 16 and every listed
//   entry has sizeofSelect 3 and no bit in pcrSelect[3]; no bank is listed
//   twice; every TPML_DIGEST count is at most 8 and every digest size at most
//   64 (and equal to the bank's digest size when the bank is a known hash);
//   and the digests, taken in order, are exactly one per selected PCR.
// - Work and memory are linear in the input size.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace attestd::tpm {

// One bank of a PCR selection: a hash algorithm and a 24-bit PCR bitmap
// (bit i of byte j selects PCR 8*j + i).
struct PcrBankSelection {
  uint16_t hash = 0;
  uint8_t select[3] = {0, 0, 0};
  bool Selected(int pcr) const { return (select[pcr / 8] >> (pcr % 8)) & 1; }
  bool operator==(const PcrBankSelection&) const = default;
};

struct PcrValue {
  uint16_t hash;
  int pcr;
  std::string digest;  // raw bytes
};

struct PcrBlob {
  std::vector<PcrBankSelection> selection;  // as listed
  std::vector<PcrValue> values;             // banks in listed order, PCRs ascending
};

inline constexpr size_t kPcrSelectionBytes = 132;
inline constexpr size_t kPcrDigestListBytes = 532;

Result<PcrBlob> ParsePcrBlob(std::string_view bytes);

// The inverse, for tests and fixtures: values are packed 8 per TPML_DIGEST,
// as tpm2-tools does. `values` must follow `selection` order.
std::string SerializePcrBlob(const PcrBlob& blob);

}  // namespace attestd::tpm
