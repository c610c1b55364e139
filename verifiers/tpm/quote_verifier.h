// The TPM 2.0 quote verifier: appraises a quote exactly as
// shared/spec/tpm-evidence.md states, for both evidence media types.
//
// Checks, in order, each with its failure event id:
//   1 structure   quote_validation.structure   (any framing or TPM structure
//                 that does not parse; magic/type of TPMS_ATTEST)
//   2 identity    identity.unknown_attester, identity.ak_invalid,
//                 identity.ak_attributes
//   3 signature   quote_validation.signature, quote_validation.hash_alg
//   4 freshness   quote_validation.nonce
//   5 integrity   quote_validation.pcr_digest (selection or digest)
//   6 clock       clock.unsafe, clock.reset_rollback
//   7 policy      pcr_validation.missing_pcrs, pcr_validation.invalid_pcr_N,
//                 pcr_validation.pcr_digest (EnactTrust: digest of the
//                 policy's values), pcr_validation.invalid_policy
// Structure, identity and signature failures end the appraisal (nothing in
// an unauthenticated quote is worth reporting; a TPMS_ATTEST that does not
// parse still has its signature checked, since that needs only raw bytes).
// Later checks all run, so a quote may carry several failures.
//
// The clock baseline moves (atomically, in the attester directory) only for
// a quote that passed every check. Appraise returns an error Status only
// when the directory cannot be read or written (kUnavailable) or OpenSSL
// fails internally; bad evidence is always an Appraisal.
#pragma once

#include <memory>

#include "store/attester_directory.h"
#include "verifiers/tpm/ak_cache.h"
#include "verifiers/verifier.h"

namespace attestd {

struct VerifierContext;

namespace tpm {

struct TpmQuoteVerifierOptions {
  size_t ak_cache_capacity = 10000;
};

class TpmQuoteVerifier final : public Verifier {
 public:
  // A null directory means no attester is known (every quote that does not
  // come with a given attester is identity.unknown_attester).
  TpmQuoteVerifier(std::shared_ptr<AttesterDirectory> directory,
                   TpmQuoteVerifierOptions options = {});

  std::vector<std::string> MediaTypes() const override;
  // tpm::kQuotePartsType, what attestd's Keylime routes submit.
  std::vector<std::string> InternalMediaTypes() const override;
  // True: a whole appraisal costs about one signature verification
  // (~50 µs for RSA-2048), well within a request.
  bool IsCheap() const override { return true; }
  using Verifier::Appraise;
  // With request.given, the AK and tpm_policy come from it: no directory
  // read, no clock baseline kept (stateless checks).
  Result<Appraisal> Appraise(const AppraisalRequest& request) const override;

  const AkCache& ak_cache() const { return cache_; }

 private:
  std::shared_ptr<AttesterDirectory> directory_;
  mutable AkCache cache_;
};

}  // namespace tpm

// The factory-table entry (verifiers/builtin.cc).
std::shared_ptr<const Verifier> MakeTpmQuoteVerifier(const VerifierContext& context);

}  // namespace attestd
