#include "verifiers/tpm/quote_verifier.h"

#include <cstdio>
#include <map>
#include <span>
#include <variant>

#include "common/base64.h"
#include "common/random.h"
#include "common/value.h"
#include "verifiers/builtin.h"
#include "verifiers/tpm/pcr_policy.h"
#include "verifiers/tpm/pcrblob.h"
#include "verifiers/tpm/tpm_structures.h"

namespace attestd {

namespace tpm {

namespace {

constexpr char kStructure[] = "quote_validation.structure";
constexpr char kSignature[] = "quote_validation.signature";
constexpr char kHashAlg[] = "quote_validation.hash_alg";
constexpr char kNonce[] = "quote_validation.nonce";
constexpr char kPcrDigest[] = "quote_validation.pcr_digest";
constexpr char kUnknownAttester[] = "identity.unknown_attester";
constexpr char kAkInvalid[] = "identity.ak_invalid";
constexpr char kAkAttributes[] = "identity.ak_attributes";
constexpr char kClockUnsafe[] = "clock.unsafe";
constexpr char kClockRollback[] = "clock.reset_rollback";
constexpr char kMissingPcrs[] = "pcr_validation.missing_pcrs";
constexpr char kPolicyDigest[] = "pcr_validation.pcr_digest";
constexpr char kInvalidPolicy[] = "pcr_validation.invalid_policy";

// AR4SI values used here.
constexpr int kAffirming = 2;
constexpr int kUnrecognizedBoot = 33;
constexpr int kUntrustworthyInstance = 96;
constexpr int kUnrecognizedInstance = 97;
constexpr int kCryptoFailed = 99;

// One appraisal in progress: its inputs, what the steps established so far
// and the verdict being built.
struct Run {
  const QuoteEvidence* ev = nullptr;
  std::string_view nonce;
  std::string_view alternate_nonce;        // also fresh (empty: none)
  AttesterDirectory* directory = nullptr;  // null: no record to read, no baseline to move
  const Attester* given = nullptr;         // set: the record, as the caller gave it
  AkCache* cache = nullptr;                // null: parse the AK anew
  bool cache_by_ak = false;                // ParseAkCached (records the caller gives)
  const std::optional<Attester>* prefetched =
      nullptr;  // set: the directory's record, read by the caller
  std::optional<ClockCommit>* deferred_clock = nullptr;  // set: the caller moves the baseline
  const char* step = "structure";                        // the step running, named in every failure

  // structure
  TPMT_SIGNATURE sig{};
  std::optional<PcrBlob> blob;
  const HashAlg* wanted = nullptr;  // the hash_alg the evidence asks for
  std::optional<TPMS_ATTEST> parsed_attest;
  std::string attest_problem;  // why the TPMS_ATTEST is not a quote (empty: it is)
  // identity
  std::optional<Attester> fetched;
  const Attester* attester = nullptr;
  std::shared_ptr<const AkKey> key;
  // signature: set once the signature verified
  const HashAlg* sig_hash = nullptr;
  const TPMS_ATTEST* attest = nullptr;  // only if it is a quote, too
  // digest
  std::vector<PcrBankSelection> attested;
  bool selection_fits = false;
  bool integrity_ok = false;
  const std::vector<PcrValue>* pcrs = nullptr;  // into `blob`, once integrity passed
  // clock
  ClockState observed;
  // policy
  const char* reference_values = nullptr;

  // Later checks mark the appraisal; every claim is contraindicated at the end.
  bool contraindicated = false;
  Appraisal appraisal;
};

// ---- Failure contexts and claims ----
// Only Fail and WriteClaims build them (typed Values; api/ renders them).

// One member of a failure context. A list of PCR numbers is a view: it
// need only outlive the Fail call.
struct Field {
  std::string_view key;
  std::variant<std::string, int, std::span<const int>, ClockState> value;
};
using Fields = std::vector<Field>;

Value FieldValue(const Field& f) {
  if (auto* s = std::get_if<std::string>(&f.value)) return Value(*s);
  if (auto* i = std::get_if<int>(&f.value)) return Value(*i);
  if (auto* list = std::get_if<std::span<const int>>(&f.value)) {
    Value l = Value::MakeList();
    for (int p : *list) l.Push(p);
    return l;
  }
  const ClockState& c = std::get<ClockState>(f.value);
  return Value::MakeMap({{"clock", Value(c.clock)},
                         {"reset_count", Value(c.reset_count)},
                         {"restart_count", Value(c.restart_count)}});
}

// Records a failure of the running step; `fields` are its context.
void Fail(Run& run, std::string type, const Fields& fields) {
  Value context = Value::MakeMap();
  for (const Field& f : fields) context.Set(f.key, FieldValue(f));
  context.Set("step", run.step);
  run.appraisal.failures.push_back(Failure{std::move(type), std::move(context)});
}

Value PcrValues(const std::vector<PcrValue>& values) {
  Value banks = Value::MakeMap();
  size_t i = 0;
  while (i < values.size()) {
    uint16_t bank = values[i].hash;
    Value pcrs = Value::MakeMap();
    for (; i < values.size() && values[i].hash == bank; ++i) {
      pcrs.Set(std::to_string(values[i].pcr), Value::Hex(values[i].digest));
    }
    banks.Set(AlgName(bank), std::move(pcrs));
  }
  return banks;
}

void AddQuoteClaims(Value& claims, const Run& run) {
  claims.Set("hash_alg", run.sig_hash->name);
  claims.Set("sign_alg", AlgName(run.sig.sigAlg));
  if (run.pcrs && !run.pcrs->empty()) claims.Set("pcrs", PcrValues(*run.pcrs));
  claims.Set("pcr_digest", Value::Hex(Tpm2bView(run.attest->attested.quote.pcrDigest)));
  const TPMS_CLOCK_INFO& c = run.attest->clockInfo;
  claims.Set("clock_info", Value::MakeMap({{"clock", Value(uint64_t{c.clock})},
                                           {"reset_count", Value(uint32_t{c.resetCount})},
                                           {"restart_count", Value(uint32_t{c.restartCount})},
                                           {"safe", Value(c.safe == 1)}}));
  claims.Set("firmware_version", Value(uint64_t{run.attest->firmwareVersion}));
  claims.Set("qualified_signer", Value::Hex(Tpm2bView(run.attest->qualifiedSigner)));
}

// The claims: what the steps established.
void WriteClaims(Run& run) {
  Value claims = Value::MakeMap();
  if (run.ev && !run.ev->agent_id.empty()) claims.Set("agent_id", run.ev->agent_id);
  if (run.key) {
    claims.Set("ak_name", Value::Hex(run.key->name));
    claims.Set("ak_type", run.key->description);
  }
  if (run.attest) AddQuoteClaims(claims, run);
  if (run.reference_values) claims.Set("reference_values", run.reference_values);
  run.appraisal.claims = std::move(claims);
}

// ---- Verdict helpers ----

void Contraindicate(TrustVector& t) {
  t.instance_identity = t.configuration = t.executables = t.file_system = t.hardware =
      t.runtime_opaque = t.storage_opaque = t.sourced_data = kCryptoFailed;
}

// What a step says about the rest of the pipeline.
enum class Next { kContinue, kStop };

// Ends the appraisal with one failure: nothing after it is worth reporting.
Next Reject(Run& run, std::string type, const Fields& fields,
            int instance_identity = kCryptoFailed) {
  Fail(run, std::move(type), fields);
  Contraindicate(run.appraisal.trust);
  run.appraisal.trust.instance_identity = instance_identity;
  return Next::kStop;
}

Appraisal Finish(Run& run) {
  if (run.contraindicated) Contraindicate(run.appraisal.trust);
  run.appraisal.is_valid = run.appraisal.failures.empty();
  WriteClaims(run);
  return std::move(run.appraisal);
}

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// ---- 1. structure: every TPM structure parses ----

// Why a parsed TPMS_ATTEST is not a quote; empty if it is one.
std::string NotAQuote(const TPMS_ATTEST& a) {
  if (a.magic != TPM2_GENERATED_VALUE) return "TPMS_ATTEST magic is not TPM_GENERATED_VALUE";
  if (a.type != TPM2_ST_ATTEST_QUOTE) return "TPMS_ATTEST type is not TPM_ST_ATTEST_QUOTE";
  return "";
}

Result<Next> CheckStructure(Run& run) {
  const QuoteEvidence& ev = *run.ev;
  auto sig = ParseSignature(ev.signature);
  if (!sig.ok()) return Reject(run, kStructure, {{"reason", sig.status().message()}});
  run.sig = *sig;
  if (ev.pcrblob) {
    auto b = ParsePcrBlob(*ev.pcrblob);
    if (!b.ok()) return Reject(run, kStructure, {{"reason", b.status().message()}});
    run.blob = std::move(*b);
  }
  if (ev.hash_alg) {
    run.wanted = HashAlgByName(*ev.hash_alg);
    if (!run.wanted) {
      return Reject(run, kStructure,
                    {{"reason", "hash_alg is not sha1, sha256, sha384 or sha512"}});
    }
  }
  auto attest = ParseAttest(ev.attest);
  run.attest_problem = attest.ok() ? NotAQuote(*attest) : attest.status().message();
  if (run.attest_problem.empty()) {
    run.parsed_attest = std::move(*attest);
  } else {
    // Keep going to the signature: it needs only the raw bytes, and says
    // whether the bytes were tampered with or the TPM made something else.
    Fail(run, kStructure, {{"reason", run.attest_problem}});
    Contraindicate(run.appraisal.trust);
  }
  return Next::kContinue;
}

// ---- 2. identity: the AK comes from the attester record, never from the evidence ----

Next Unrecognized(Run& run, std::string reason) {
  return Reject(run, kUnknownAttester, {{"reason", std::move(reason)}}, kUnrecognizedInstance);
}

// The attester record: given by the caller, or read from the directory.
Result<const Attester*> FindAttester(Run& run) {
  if (run.given) return run.given;
  if (run.prefetched) {
    if (!run.prefetched->has_value()) return NotFound("unknown attester");
    return &**run.prefetched;
  }
  if (!run.directory) return NotFound("no directory");
  auto found = run.directory->Get(run.ev->agent_id);
  if (!found.ok()) return found.status();
  run.fetched = std::move(*found);
  return &*run.fetched;
}

Result<std::shared_ptr<const AkKey>> LoadAk(const Run& run) {
  if (run.cache_by_ak) return ParseAkCached(run.attester->ak_tpm);
  if (run.cache) return run.cache->Get(run.ev->agent_id, run.attester->ak_tpm);
  return ParseAk(run.attester->ak_tpm);
}

Result<Next> CheckIdentity(Run& run) {
  auto found = FindAttester(run);
  if (!found.ok()) {
    if (found.status().code() != StatusCode::kNotFound) return found.status();
    return Unrecognized(run, "no attester with this agent_id");
  }
  run.attester = *found;
  if (!run.attester->trusted) return Unrecognized(run, "the attester is not activated or enrolled");
  auto key = LoadAk(run);
  if (!key.ok()) {
    return Reject(run, kAkInvalid, {{"reason", key.status().message()}}, kUntrustworthyInstance);
  }
  run.key = *key;
  if (!run.key->HasAkAttributes()) {
    return Reject(run, kAkAttributes,
                  {{"reason", "AK is not a restricted signing key of its TPM"},
                   {"object_attributes", Hex32(run.key->attributes())},
                   {"required", Hex32(kAkRequiredAttributes)}},
                  kUntrustworthyInstance);
  }
  if (run.attest_problem.empty()) run.appraisal.trust.instance_identity = kAffirming;
  return Next::kContinue;
}

// ---- 3. signature ----

const HashAlg* SignatureHash(const TPMT_SIGNATURE& sig) {
  switch (sig.sigAlg) {
    case TPM2_ALG_RSASSA:
      return HashAlgById(sig.signature.rsassa.hash);
    case TPM2_ALG_RSAPSS:
      return HashAlgById(sig.signature.rsapss.hash);
    default:
      return HashAlgById(sig.signature.ecdsa.hash);
  }
}

Result<Next> CheckSignature(Run& run) {
  if (Status s = CheckSignatureScheme(*run.key, run.sig); !s.ok()) {
    return Reject(run, kSignature, {{"reason", s.message()}});
  }
  Status verified = VerifyQuoteSignature(*run.key, run.sig, run.ev->attest);
  if (!verified.ok()) {
    if (verified.code() == StatusCode::kInternal) return verified;
    return Reject(run, kSignature, {{"reason", verified.message()}});
  }
  run.sig_hash = SignatureHash(run.sig);
  if (!run.attest_problem.empty()) return Next::kStop;  // signed, but not a quote
  run.attest = &*run.parsed_attest;
  run.appraisal.trust.hardware = kAffirming;
  if (run.wanted && run.wanted != run.sig_hash) {
    Fail(run, kHashAlg,
         {{"reason", "the quote uses another hash algorithm"},
          {"expected", run.wanted->name},
          {"received", run.sig_hash->name}});
    run.contraindicated = true;
  }
  return Next::kContinue;
}

// ---- 4. nonce: extraData is the session nonce, byte for byte ----

Result<Next> CheckNonce(Run& run) {
  std::string_view extra = Tpm2bView(run.attest->extraData);
  bool alternate = !run.alternate_nonce.empty() && ConstantTimeEquals(extra, run.alternate_nonce);
  if (!ConstantTimeEquals(extra, run.nonce) && !alternate) {
    Fail(run, kNonce,
         {{"reason", "extraData differs from the session nonce"},
          {"expected", HexEncode(run.nonce)},
          {"received", HexEncode(extra)}});
    run.contraindicated = true;
  }
  return Next::kContinue;
}

// ---- 5. digest: the PCR values (when they travel) are the attested ones ----

// The attested selection as 24-bit bitmaps; false if it selects a PCR above
// 23 (which a pcrblob cannot carry).
bool AttestedSelection(const TPML_PCR_SELECTION& in, std::vector<PcrBankSelection>* out) {
  for (UINT32 i = 0; i < in.count && i < TPM2_NUM_PCR_BANKS; ++i) {
    const TPMS_PCR_SELECTION& s = in.pcrSelections[i];
    PcrBankSelection b;
    b.hash = s.hash;
    for (int j = 0; j < s.sizeofSelect && j < TPM2_PCR_SELECT_MAX; ++j) {
      if (j < 3) {
        b.select[j] = s.pcrSelect[j];
      } else if (s.pcrSelect[j] != 0) {
        return false;
      }
    }
    out->push_back(b);
  }
  return true;
}

// True if the blob's values digest to the attested pcrDigest.
bool BlobMatchesDigest(Run& run) {
  const PcrBlob& blob = *run.blob;
  if (!run.selection_fits || run.attested != blob.selection) {
    Fail(run, kPcrDigest,
         {{"reason", "the pcrblob selection differs from the attested selection"}});
    return false;
  }
  std::string concat;
  concat.reserve(blob.values.size() * 64);
  for (const PcrValue& v : blob.values) concat += v.digest;
  std::string digest = Digest(*run.sig_hash, concat);
  std::string_view attested = Tpm2bView(run.attest->attested.quote.pcrDigest);
  if (digest != attested) {
    Fail(run, kPcrDigest,
         {{"reason", "pcrDigest differs from the digest of the PCR values"},
          {"attested", HexEncode(attested)},
          {"computed", HexEncode(digest)}});
    return false;
  }
  return true;
}

Result<Next> CheckDigest(Run& run) {
  run.selection_fits = AttestedSelection(run.attest->attested.quote.pcrSelect, &run.attested);
  if (!run.blob) return Next::kContinue;
  run.integrity_ok = BlobMatchesDigest(run);
  if (run.integrity_ok) {
    run.pcrs = &run.blob->values;
  } else {
    run.appraisal.trust.executables = kCryptoFailed;
  }
  return Next::kContinue;
}

// ---- 6. clock: safe, and never behind the baseline ----

Result<Next> CheckClock(Run& run) {
  const TPMS_CLOCK_INFO& ci = run.attest->clockInfo;
  run.observed = ClockState{ci.clock, ci.resetCount, ci.restartCount};
  if (ci.safe != 1) {
    Fail(run, kClockUnsafe, {{"reason", "clockInfo.safe is not set"}});
    run.contraindicated = true;
  }
  const std::optional<ClockState>& baseline = run.attester->clock;
  if (baseline && !ClockAdvances(*baseline, run.observed)) {
    Fail(run, kClockRollback,
         {{"reason", "the TPM clock went back since the last valid quote"},
          {"previous", *baseline},
          {"observed", run.observed}});
    run.contraindicated = true;
  }
  return Next::kContinue;
}

// ---- 7. policy: the PCR reference values of the attester record ----

// With PCR values (the JSON form). Keylime's rule: the policy speaks of the
// bank of the quote's hash.
void CheckPolicyValues(Run& run, const PcrPolicy& policy) {
  uint16_t bank = (run.wanted ? run.wanted : run.sig_hash)->id;
  std::map<int, std::string> values;
  for (const PcrValue& v : run.blob->values) {
    if (v.hash == bank) values.emplace(v.pcr, v.digest);
  }
  PolicyVerdict verdict = EvaluatePolicy(policy, values);
  if (!verdict.missing.empty()) {
    Fail(run, kMissingPcrs,
         {{"reason", "PCRs of the policy are not in the quote"},
          {"bank", AlgName(bank)},
          {"pcrs", verdict.missing}});
  }
  for (int p : verdict.invalid) {
    Fail(run, "pcr_validation.invalid_pcr_" + std::to_string(p),
         {{"reason", "PCR value not allowed by the policy"},
          {"pcr", p},
          {"bank", AlgName(bank)},
          {"value", HexEncode(values[p])}});
  }
  run.appraisal.trust.executables = verdict.ok() ? kAffirming : kUnrecognizedBoot;
}

// The concatenated policy values of every PCR the quote selects, when the
// policy has exactly one value of the right size for each; nullopt if not.
std::optional<std::string> PolicyConcat(const Run& run, const PcrPolicy& policy) {
  if (!run.selection_fits) return std::nullopt;
  std::string concat;
  for (const PcrBankSelection& s : run.attested) {
    const HashAlg* alg = HashAlgById(s.hash);
    for (int pcr = 0; pcr < 24; ++pcr) {
      if (!s.Selected(pcr)) continue;
      auto it = policy.allowed.find(pcr);
      if (!alg || it == policy.allowed.end() || it->second.size() != 1 ||
          it->second[0].size() != alg->size) {
        return std::nullopt;
      }
      concat += it->second[0];
    }
  }
  return concat;
}

// Policy PCRs the quote does not select, which it cannot vouch for.
std::vector<int> UnselectedPolicyPcrs(const Run& run, const PcrPolicy& policy) {
  std::vector<int> missing;
  for (const auto& [p, allowed] : policy.allowed) {
    bool selected = false;
    for (const PcrBankSelection& s : run.attested) selected = selected || s.Selected(p);
    if (!selected) missing.push_back(p);
  }
  return missing;
}

// Without PCR values (EnactTrust): recompute the digest from the policy when
// it has exactly one value for every PCR the quote selects.
void CheckPolicyDigest(Run& run, const PcrPolicy& policy) {
  std::vector<int> missing = UnselectedPolicyPcrs(run, policy);
  if (!missing.empty()) {
    Fail(run, kMissingPcrs,
         {{"reason", "PCRs of the policy are not in the quote"}, {"pcrs", missing}});
    run.appraisal.trust.executables = kUnrecognizedBoot;
  }
  std::optional<std::string> concat = PolicyConcat(run, policy);
  if (!concat) {
    run.reference_values = "none";
    return;
  }
  run.reference_values = "tpm_policy";
  std::string expected = Digest(*run.sig_hash, *concat);
  std::string_view attested = Tpm2bView(run.attest->attested.quote.pcrDigest);
  if (expected != attested) {
    Fail(run, kPolicyDigest,
         {{"reason", "pcrDigest differs from the policy's digest"},
          {"attested", HexEncode(attested)},
          {"expected", HexEncode(expected)}});
    run.appraisal.trust.executables = kUnrecognizedBoot;
  } else if (missing.empty()) {
    run.appraisal.trust.executables = kAffirming;
  }
}

Result<Next> CheckPolicy(Run& run) {
  auto policy = ParseTpmPolicyCached(run.attester->tpm_policy);
  if (!policy.ok()) {
    Fail(run, kInvalidPolicy, {{"reason", policy.status().message()}});
    run.appraisal.trust.executables = kUnrecognizedBoot;
  } else if ((*policy)->empty()) {
    run.reference_values = "none";
  } else if (run.blob) {
    run.reference_values = "tpm_policy";
    if (run.integrity_ok) CheckPolicyValues(run, **policy);
  } else {
    CheckPolicyDigest(run, **policy);
  }
  return Next::kContinue;
}

// ---- 8. commit: the clock baseline moves, for a quote that passed everything ----

// Atomically: a concurrent newer quote may have moved the baseline meanwhile.
// A stateless appraisal (a given record) moves none.
Result<Next> Commit(Run& run) {
  if (!run.appraisal.failures.empty() || !run.directory || run.given) return Next::kContinue;
  if (run.deferred_clock) {
    *run.deferred_clock = ClockCommit{run.ev->agent_id, run.observed};
    return Next::kContinue;
  }
  auto advance = run.directory->AdvanceClock(run.ev->agent_id, run.observed);
  if (!advance.ok()) {
    if (advance.status().code() != StatusCode::kNotFound) return advance.status();
    Fail(run, kUnknownAttester, {{"reason", "the attester was removed during the appraisal"}});
    run.contraindicated = true;
  } else if (!advance->advanced) {
    Fields fields{{"reason", "a newer quote was accepted meanwhile"}};
    if (advance->previous) fields.push_back({"previous", *advance->previous});
    fields.push_back({"observed", run.observed});
    Fail(run, kClockRollback, fields);
    run.contraindicated = true;
  }
  return Next::kContinue;
}

// ---- The pipeline ----

struct Step {
  const char* name;
  Result<Next> (*check)(Run&);
};

// The order of the checks, as quote_verifier.h states it.
constexpr Step kPipeline[] = {
    {"structure", CheckStructure}, {"identity", CheckIdentity}, {"signature", CheckSignature},
    {"nonce", CheckNonce},         {"digest", CheckDigest},     {"clock", CheckClock},
    {"policy", CheckPolicy},       {"commit", Commit},
};

Result<Appraisal> RunPipeline(Run& run) {
  for (const Step& step : kPipeline) {
    run.step = step.name;
    Result<Next> next = step.check(run);
    if (!next.ok()) return next.status();
    if (*next == Next::kStop) break;
  }
  return Finish(run);
}

}  // namespace

Appraisal UnparsableEvidence(std::string_view reason) {
  Run run;
  Reject(run, kStructure, {{"reason", std::string(reason)}});
  return Finish(run);
}

Result<Appraisal> AppraiseAgainst(const QuoteEvidence& evidence, std::string_view nonce,
                                  const Attester& attester, AkCache* cache) {
  Run run;
  run.ev = &evidence;
  run.nonce = nonce;
  run.given = &attester;
  run.cache = cache;
  return RunPipeline(run);
}

namespace {

// AppraiseAgainst with the AK cached by its own bytes (ParseAkCached): the
// records callers give (Keylime's verify routes) have no stable agent id.
Result<Appraisal> AppraiseGiven(const QuoteEvidence& evidence, const AppraisalRequest& request) {
  Run run;
  run.ev = &evidence;
  run.nonce = request.nonce;
  run.alternate_nonce = request.alternate_nonce;
  const Attester& attester = *request.given;
  run.given = &attester;
  run.cache_by_ak = true;
  return RunPipeline(run);
}

}  // namespace

TpmQuoteVerifier::TpmQuoteVerifier(std::shared_ptr<AttesterDirectory> directory,
                                   TpmQuoteVerifierOptions options)
    : directory_(std::move(directory)), cache_(options.ak_cache_capacity) {}

std::vector<std::string> TpmQuoteVerifier::MediaTypes() const {
  return {kTpmQuoteJsonType, kEnactTrustType};
}

std::vector<std::string> TpmQuoteVerifier::InternalMediaTypes() const { return {kQuotePartsType}; }

Result<Appraisal> TpmQuoteVerifier::AppraiseQuote(const QuoteEvidence& evidence,
                                                  std::string_view nonce) const {
  Run run;
  run.ev = &evidence;
  run.nonce = nonce;
  run.directory = directory_.get();
  run.cache = &cache_;
  return RunPipeline(run);
}

std::string TpmQuoteVerifier::AttesterId(const AppraisalRequest& request) const {
  if (request.given) return "";
  auto ev = ParseTpmEvidence(request.media_type, request.evidence);
  return ev.ok() ? std::move(ev->agent_id) : "";
}

Result<Appraisal> TpmQuoteVerifier::Appraise(const AppraisalRequest& request) const {
  auto ev = ParseTpmEvidence(request.media_type, request.evidence);
  if (!ev.ok()) return UnparsableEvidence(ev.status().message());
  QuoteEvidence quote{std::move(ev->agent_id), std::move(ev->attest), std::move(ev->signature),
                      std::move(ev->pcrblob), std::move(ev->hash_alg)};
  if (request.given) return AppraiseGiven(quote, request);
  Run run;
  run.ev = &quote;
  run.nonce = request.nonce;
  run.alternate_nonce = request.alternate_nonce;
  run.directory = directory_.get();
  run.cache = &cache_;
  run.prefetched = request.prefetched;
  run.deferred_clock = request.deferred_clock;
  return RunPipeline(run);
}

}  // namespace tpm

std::shared_ptr<const Verifier> MakeTpmQuoteVerifier(const VerifierContext& context) {
  return std::make_shared<tpm::TpmQuoteVerifier>(context.attesters);
}

}  // namespace attestd
