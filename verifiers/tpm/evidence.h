// The two wire forms of TPM evidence, split into raw TPM structures.
//
// Parsing here is only about framing (JSON, base64, the Keylime quote string,
// the EnactTrust binary layout); the TPM structures themselves are parsed by
// tpm_structures.h and pcrblob.h. Promises:
// - Every function accepts any byte string and never throws; malformed input
//   is kInvalidArgument with a reason fit for a failure context (no input
//   bytes are echoed back).
// - Memory is bounded by the input size: oversized fields are refused before
//   they are decoded.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace attestd::tpm {

inline constexpr char kTpmQuoteJsonType[] = "application/vnd.attestd.tpm2-quote+json";
inline constexpr char kEnactTrustType[] = "application/vnd.enacttrust.tpm-evidence";
// Internal (never accepted from the network): the quote parts as bytes,
// which attestd's own Keylime routes hand to the registry.
inline constexpr char kQuotePartsType[] = "application/vnd.attestd.tpm2-quote-parts";

// The largest base64 text accepted for one TPM structure (a TPMS_ATTEST is
// under 1 KiB and a 24-PCR, 16-bank pcrblob under 26 KiB).
inline constexpr size_t kMaxQuotePartChars = 64 * 1024;
// The largest JSON evidence document accepted (it may carry an IMA log).
inline constexpr size_t kMaxJsonEvidenceBytes = 16 * 1024 * 1024;

// The three parts of a quote, decoded.
struct QuoteParts {
  std::string attest;     // TPMS_ATTEST, TPM-marshaled
  std::string signature;  // TPMT_SIGNATURE, TPM-marshaled
  std::string pcrblob;    // tpm2-tools serialized PCR blob
};

// "r" b64(TPMS_ATTEST) ":" b64(TPMT_SIGNATURE) ":" b64(pcrblob), standard
// padded base64, nothing else (Keylime's `quote` field).
Result<QuoteParts> ParseKeylimeQuote(std::string_view quote);

// A quote as the verifier appraises it: raw TPM structures, no framing.
struct QuoteEvidence {
  std::string agent_id;
  std::string attest;                   // TPMS_ATTEST, TPM-marshaled
  std::string signature;                // TPMT_SIGNATURE, TPM-marshaled
  std::optional<std::string> pcrblob;   // absent: no PCR values travel (EnactTrust)
  std::optional<std::string> hash_alg;  // as given (validated by the verifier)
};

// QuoteEvidence from Keylime's quote string (see ParseKeylimeQuote, whose
// error it returns); an empty `hash_alg` means none was given.
Result<QuoteEvidence> QuoteEvidenceFromKeylime(std::string agent_id, std::string_view quote,
                                               std::string_view hash_alg = "");

enum class EvidenceForm { kQuoteJson, kEnactTrust };

struct TpmEvidence {
  EvidenceForm form = EvidenceForm::kQuoteJson;
  std::string agent_id;
  std::string attest;
  std::string signature;
  std::optional<std::string> pcrblob;   // absent in the EnactTrust form
  std::optional<std::string> hash_alg;  // as given (validated by the verifier)
  bool has_ima_measurement_list = false;
  bool has_mb_log = false;
};

// application/vnd.attestd.tpm2-quote+json: an object with `agent_id` and
// either `quote` or all of `message`, `signature`, `pcrs`; optional
// `hash_alg`, `ima_measurement_list`, `mb_log` (strings). Unknown members are
// ignored; a known member given twice, or of the wrong type, is refused.
Result<TpmEvidence> ParseQuoteJsonEvidence(std::string_view json);

// application/vnd.enacttrust.tpm-evidence:
// node_id[16] ‖ u16 size (big-endian) ‖ TPMS_ATTEST[size] ‖ TPMT_SIGNATURE.
// The agent id is node_id as a lower-case UUID string.
Result<TpmEvidence> ParseEnactTrustEvidence(std::string_view bytes);

// kQuotePartsType: what the Keylime routes know of a quote, as bytes. Either
// `keylime_quote` (the "r…:…:…" string an agent returned) or the parts.
struct QuotePartsEvidence {
  std::string agent_id;
  std::string keylime_quote;
  std::string attest, signature, pcrblob;
  std::optional<std::string> hash_alg;
};
// A length-prefixed framing of the fields (no base64, no JSON).
std::string EncodeQuoteParts(const QuotePartsEvidence& parts);
// Any byte string; kInvalidArgument unless EncodeQuoteParts wrote it.
Result<TpmEvidence> ParseQuotePartsEvidence(std::string_view bytes);

// Dispatches on the normalized media type.
Result<TpmEvidence> ParseTpmEvidence(std::string_view media_type, std::string_view bytes);

}  // namespace attestd::tpm
