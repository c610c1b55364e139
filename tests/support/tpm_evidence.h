// Building TPM evidence in tests: the Keylime vectors from tests/data/keylime,
// the two wire forms, and helpers to look into an Appraisal.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/appraisal.h"

namespace attestd::testing {

// The whole file; aborts the test (ADD_FAILURE, empty result) when unreadable.
std::string ReadFileOrEmpty(const std::string& path);
// tests/data/keylime/<dir>/<file>.
std::string KeylimeVector(const std::string& dir, const std::string& file);

inline constexpr char kVectorA[] = "A_tpm_util_test_checkquote";
inline constexpr char kVectorB[] = "B_test-data_files_emulator";
inline constexpr char kVectorC[] = "C_rust-keylime_test-quote_parse_only";

// "r" b64 ":" b64 ":" b64.
std::string KeylimeQuoteString(const std::string& attest, const std::string& sig,
                               const std::string& pcrblob);
// application/vnd.attestd.tpm2-quote+json with `quote`.
std::string QuoteJson(const std::string& agent_id, const std::string& quote,
                      const std::optional<std::string>& hash_alg = std::nullopt);
// ... with `message`, `signature`, `pcrs`.
std::string SplitQuoteJson(const std::string& agent_id, const std::string& attest,
                           const std::string& sig, const std::string& pcrblob,
                           const std::optional<std::string>& hash_alg = std::nullopt);
// application/vnd.enacttrust.tpm-evidence; agent_id must be a UUID.
std::string EnactTrustEvidence(const std::string& agent_id, const std::string& attest,
                               const std::string& sig);

// The appraisal's typed parts as JSON text, so tests read them with JsonAt.
std::string ClaimsJson(const Appraisal& a);
std::string ContextJson(const Failure& f);
// The whole appraisal as the API shows it (for failure messages).
std::string AppraisalJson(const Appraisal& a);

// The failure types, in order.
std::vector<std::string> FailureTypes(const Appraisal& a);

// An ECDSA signature's big-endian r and s as the DER ECDSA-Sig-Value that
// OpenSSL (and `openssl dgst -verify`) takes.
std::string EcdsaDer(std::string_view r, std::string_view s);

// Flips bit 0 of byte `at`.
std::string FlipBit(std::string s, size_t at);

}  // namespace attestd::testing
