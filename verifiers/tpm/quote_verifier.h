// The TPM 2.0 quote verifier: appraises a quote exactly as
// docs/evidence-formats.md states, for both evidence media types.
//
// An appraisal is a pipeline of steps, in this order, each with its failure
// event ids; every failure's context names its step (`"step": "<name>"`):
//   1 structure   quote_validation.structure   (any framing or TPM structure
//                 that does not parse; magic/type of TPMS_ATTEST)
//   2 identity    identity.unknown_attester, identity.ak_invalid,
//                 identity.ak_attributes
//   3 signature   quote_validation.signature, quote_validation.hash_alg
//   4 nonce       quote_validation.nonce (freshness)
//   5 digest      quote_validation.pcr_digest (integrity: selection or digest)
//   6 clock       clock.unsafe, clock.reset_rollback
//   7 policy      pcr_validation.missing_pcrs, pcr_validation.invalid_pcr_N,
//                 pcr_validation.pcr_digest (EnactTrust: digest of the
//                 policy's values), pcr_validation.invalid_policy
//   8 commit      clock.reset_rollback (a newer quote was accepted meanwhile),
//                 identity.unknown_attester (removed meanwhile)
// Structure, identity and signature failures end the appraisal (nothing in
// an unauthenticated quote is worth reporting; a TPMS_ATTEST that does not
// parse still has its signature checked, since that needs only raw bytes).
// Later checks all run, so a quote may carry several failures.
//
// The clock baseline moves (atomically, in the attester directory, in the
// commit step) only for a quote that passed every check. Appraise and
// AppraiseQuote return an error Status only when the directory cannot be
// read or written (kUnavailable) or OpenSSL fails internally; bad evidence
// is always an Appraisal. AppraiseAgainst reads and writes no directory.
#pragma once

#include <memory>

#include "store/attester_directory.h"
#include "verifiers/tpm/ak_cache.h"
#include "verifiers/tpm/evidence.h"
#include "verifiers/verifier.h"

namespace attestd {

struct VerifierContext;

namespace tpm {

struct TpmQuoteVerifierOptions {
  size_t ak_cache_capacity = 10000;
};

class TpmQuoteVerifier final : public Verifier {
 public:
  // A null directory means no attester is known (every quote is
  // identity.unknown_attester) and no clock baseline is ever written.
  TpmQuoteVerifier(std::shared_ptr<AttesterDirectory> directory,
                   TpmQuoteVerifierOptions options = {});

  std::vector<std::string> MediaTypes() const override;
  // tpm::kQuotePartsType: what attestd's own Keylime routes submit.
  std::vector<std::string> InternalMediaTypes() const override;
  // True: a whole appraisal costs about one signature verification
  // (~50 µs for RSA-2048), well within a request.
  bool IsCheap() const override { return true; }
  // The agent_id the evidence names (framing only).
  std::string AttesterId(const AppraisalRequest& request) const override;
  using Verifier::Appraise;
  // Parses the bytes (a framing error is UnparsableEvidence), then
  // AppraiseAgainst(request.given) when the caller gives the attester (its
  // AK through ParseAkCached), else AppraiseQuote, honouring
  // request.prefetched and request.deferred_clock.
  Result<Appraisal> Appraise(const AppraisalRequest& request) const override;
  // The same appraisal for evidence already decoded, trusting the directory.
  Result<Appraisal> AppraiseQuote(const QuoteEvidence& evidence, std::string_view nonce) const;

  const AkCache& ak_cache() const { return cache_; }

 private:
  std::shared_ptr<AttesterDirectory> directory_;
  mutable AkCache cache_;
};

// Stateless: appraises `evidence` against `attester` as given, reading and
// writing no directory. The clock step checks against attester.clock when it
// is set; nothing advances it. Parses the AK from `cache` when not null
// (keyed by evidence.agent_id), else anew. Same steps, failures and trust
// vector as AppraiseQuote otherwise. For Keylime's verify/identity and
// verify/evidence routes.
Result<Appraisal> AppraiseAgainst(const QuoteEvidence& evidence, std::string_view nonce,
                                  const Attester& attester, AkCache* cache = nullptr);

// What Appraise returns for evidence whose framing does not parse: one
// quote_validation.structure failure with `reason`, no claims, every trust
// claim contraindicated.
Appraisal UnparsableEvidence(std::string_view reason);

}  // namespace tpm

// The factory-table entry (verifiers/builtin.cc).
std::shared_ptr<const Verifier> MakeTpmQuoteVerifier(const VerifierContext& context);

}  // namespace attestd
