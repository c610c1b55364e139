#include "verifiers/tpm/quote_verifier.h"

#include <map>

#include "common/base64.h"
#include "common/json_writer.h"
#include "common/random.h"
#include "common/value_json.h"
#include "verifiers/builtin.h"
#include "verifiers/tpm/evidence.h"
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

std::string ReasonContext(std::string_view reason) {
  JsonWriter w;
  w.BeginObject().Key("reason").String(reason).EndObject();
  return w.Take();
}

void WriteClock(JsonWriter& w, const ClockState& c) {
  w.BeginObject();
  w.Key("clock").Uint(c.clock);
  w.Key("reset_count").Uint(c.reset_count);
  w.Key("restart_count").Uint(c.restart_count);
  w.EndObject();
}

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

// One appraisal in progress.
class Run {
 public:
  void Fail(std::string type, const std::string& context_json) {
    auto context = ParseValueJson(context_json);
    appraisal_.failures.push_back(
        Failure{std::move(type), context.ok() ? std::move(*context) : Value::MakeMap()});
  }
  void FailReason(std::string type, std::string_view reason) {
    Fail(std::move(type), ReasonContext(reason));
  }
  void Contraindicate() {
    TrustVector& t = appraisal_.trust;
    t.instance_identity = t.configuration = t.executables = t.file_system = t.hardware =
        t.runtime_opaque = t.storage_opaque = t.sourced_data = kCryptoFailed;
  }
  bool failed() const { return !appraisal_.failures.empty(); }
  Appraisal& appraisal() { return appraisal_; }

  // What was established, written at the end.
  std::string agent_id;
  std::shared_ptr<const AkKey> key;
  const TPMT_SIGNATURE* sig = nullptr;
  const HashAlg* sig_hash = nullptr;
  const TPMS_ATTEST* attest = nullptr;  // set once the signature verified
  // Set once integrity passed; points into the evidence, which outlives Finish().
  const std::vector<PcrValue>* pcrs = nullptr;
  const char* reference_values = nullptr;

  Appraisal Finish() {
    appraisal_.is_valid = appraisal_.failures.empty();
    auto claims = ParseValueJson(Claims());
    if (claims.ok()) appraisal_.claims = std::move(*claims);
    return std::move(appraisal_);
  }

 private:
  std::string Claims() const {
    JsonWriter w(1024 + (pcrs ? 140 * pcrs->size() : 0));
    w.BeginObject();
    if (!agent_id.empty()) w.Key("agent_id").String(agent_id);
    if (key) {
      w.Key("ak_name").HexString(key->name);
      w.Key("ak_type").String(key->description);
    }
    if (attest) {
      w.Key("hash_alg").String(sig_hash->name);
      w.Key("sign_alg").String(AlgName(sig->sigAlg));
      if (pcrs && !pcrs->empty()) {
        const std::vector<PcrValue>& values = *pcrs;
        w.Key("pcrs").BeginObject();
        size_t i = 0;
        while (i < values.size()) {
          uint16_t bank = values[i].hash;
          w.Key(AlgName(bank)).BeginObject();
          for (; i < values.size() && values[i].hash == bank; ++i) {
            w.Key(std::to_string(values[i].pcr)).HexString(values[i].digest);
          }
          w.EndObject();
        }
        w.EndObject();
      }
      w.Key("pcr_digest").HexString(Tpm2bView(attest->attested.quote.pcrDigest));
      const TPMS_CLOCK_INFO& c = attest->clockInfo;
      w.Key("clock_info").BeginObject();
      w.Key("clock").Uint(c.clock);
      w.Key("reset_count").Uint(c.resetCount);
      w.Key("restart_count").Uint(c.restartCount);
      w.Key("safe").Bool(c.safe == 1);
      w.EndObject();
      w.Key("firmware_version").Uint(attest->firmwareVersion);
      w.Key("qualified_signer").HexString(Tpm2bView(attest->qualifiedSigner));
    }
    if (reference_values) w.Key("reference_values").String(reference_values);
    w.EndObject();
    return w.Take();
  }

  Appraisal appraisal_;
};

Appraisal StructureFailure(Run& run, std::string_view reason) {
  run.FailReason(kStructure, reason);
  run.Contraindicate();
  return run.Finish();
}

}  // namespace

TpmQuoteVerifier::TpmQuoteVerifier(std::shared_ptr<AttesterDirectory> directory,
                                   TpmQuoteVerifierOptions options)
    : directory_(std::move(directory)), cache_(options.ak_cache_capacity) {}

std::vector<std::string> TpmQuoteVerifier::MediaTypes() const {
  return {kTpmQuoteJsonType, kEnactTrustType};
}

std::vector<std::string> TpmQuoteVerifier::InternalMediaTypes() const { return {kQuotePartsType}; }

Result<Appraisal> TpmQuoteVerifier::Appraise(const AppraisalRequest& request) const {
  std::string_view evidence = request.evidence;
  std::string_view media_type = request.media_type;
  std::string_view nonce = request.nonce;
  const Attester* given = request.given;
  Run run;

  // 1. Structure: framing, then every TPM structure.
  auto ev = ParseTpmEvidence(media_type, evidence);
  if (!ev.ok()) return StructureFailure(run, ev.status().message());
  run.agent_id = ev->agent_id;
  auto sig = ParseSignature(ev->signature);
  if (!sig.ok()) return StructureFailure(run, sig.status().message());
  std::optional<PcrBlob> blob;
  if (ev->pcrblob) {
    auto b = ParsePcrBlob(*ev->pcrblob);
    if (!b.ok()) return StructureFailure(run, b.status().message());
    blob = std::move(*b);
  }
  const HashAlg* wanted = nullptr;
  if (ev->hash_alg) {
    wanted = HashAlgByName(*ev->hash_alg);
    if (!wanted) return StructureFailure(run, "hash_alg is not sha1, sha256, sha384 or sha512");
  }
  auto attest = ParseAttest(ev->attest);
  std::string attest_problem;
  if (!attest.ok()) {
    attest_problem = attest.status().message();
  } else if (attest->magic != TPM2_GENERATED_VALUE) {
    attest_problem = "TPMS_ATTEST magic is not TPM_GENERATED_VALUE";
  } else if (attest->type != TPM2_ST_ATTEST_QUOTE) {
    attest_problem = "TPMS_ATTEST type is not TPM_ST_ATTEST_QUOTE";
  }
  if (!attest_problem.empty()) {
    // Keep going to the signature: it needs only the raw bytes, and says
    // whether the bytes were tampered with or the TPM made something else.
    run.FailReason(kStructure, attest_problem);
    run.Contraindicate();
  }

  // 2. Identity: the AK comes from the directory, never from the evidence.
  Result<Attester> found = given ? Result<Attester>(*given)
                         : directory_ ? directory_->Get(ev->agent_id)
                                      : Result<Attester>(NotFound("no attester directory"));
  if (!found.ok()) {
    if (found.status().code() != StatusCode::kNotFound) return found.status();
    run.FailReason(kUnknownAttester, "no attester with this agent_id");
    run.Contraindicate();
    run.appraisal().trust.instance_identity = kUnrecognizedInstance;
    return run.Finish();
  }
  if (!found->trusted) {
    run.FailReason(kUnknownAttester, "the attester is not activated or enrolled");
    run.Contraindicate();
    run.appraisal().trust.instance_identity = kUnrecognizedInstance;
    return run.Finish();
  }
  auto key = given ? ParseAk(found->ak_tpm) : cache_.Get(ev->agent_id, found->ak_tpm);
  if (!key.ok()) {
    run.FailReason(kAkInvalid, key.status().message());
    run.Contraindicate();
    run.appraisal().trust.instance_identity = kUntrustworthyInstance;
    return run.Finish();
  }
  run.key = *key;
  if (!(*key)->HasAkAttributes()) {
    JsonWriter w;
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", (*key)->attributes());
    w.BeginObject().Key("reason").String("AK is not a restricted signing key of its TPM");
    w.Key("object_attributes").String(buf);
    std::snprintf(buf, sizeof buf, "0x%08x", kAkRequiredAttributes);
    w.Key("required").String(buf).EndObject();
    run.Fail(kAkAttributes, w.Take());
    run.Contraindicate();
    run.appraisal().trust.instance_identity = kUntrustworthyInstance;
    return run.Finish();
  }
  if (attest_problem.empty()) run.appraisal().trust.instance_identity = kAffirming;

  // 3. Signature.
  if (Status s = CheckSignatureScheme(**key, *sig); !s.ok()) {
    run.FailReason(kSignature, s.message());
    run.Contraindicate();
    return run.Finish();
  }
  Status verified = VerifyQuoteSignature(**key, *sig, ev->attest);
  if (!verified.ok()) {
    if (verified.code() == StatusCode::kInternal) return verified;
    run.FailReason(kSignature, verified.message());
    run.Contraindicate();
    return run.Finish();
  }
  run.sig = &*sig;
  switch (sig->sigAlg) {
    case TPM2_ALG_RSASSA: run.sig_hash = HashAlgById(sig->signature.rsassa.hash); break;
    case TPM2_ALG_RSAPSS: run.sig_hash = HashAlgById(sig->signature.rsapss.hash); break;
    default: run.sig_hash = HashAlgById(sig->signature.ecdsa.hash); break;
  }
  if (!attest_problem.empty()) return run.Finish();  // signed, but not a quote
  run.attest = &*attest;
  run.appraisal().trust.hardware = kAffirming;
  bool contraindicated = false;
  if (wanted && wanted != run.sig_hash) {
    JsonWriter w;
    w.BeginObject().Key("reason").String("the quote uses another hash algorithm");
    w.Key("expected").String(wanted->name).Key("received").String(run.sig_hash->name);
    w.EndObject();
    run.Fail(kHashAlg, w.Take());
    contraindicated = true;
  }

  // 4. Freshness: extraData is the session nonce, byte for byte.
  std::string_view extra = Tpm2bView(attest->extraData);
  if (!ConstantTimeEquals(extra, nonce)) {
    JsonWriter w;
    w.BeginObject().Key("reason").String("extraData differs from the session nonce");
    w.Key("expected").String(HexEncode(nonce)).Key("received").String(HexEncode(extra));
    w.EndObject();
    run.Fail(kNonce, w.Take());
    contraindicated = true;
  }

  // 5. PCR integrity (the JSON form carries the values).
  const TPMS_QUOTE_INFO& quote = attest->attested.quote;
  std::vector<PcrBankSelection> attested;
  bool selection_fits = AttestedSelection(quote.pcrSelect, &attested);
  bool integrity_ok = false;
  if (blob) {
    if (!selection_fits || attested != blob->selection) {
      run.FailReason(kPcrDigest, "the pcrblob selection differs from the attested selection");
    } else {
      std::string concat;
      concat.reserve(blob->values.size() * 64);
      for (const PcrValue& v : blob->values) concat += v.digest;
      std::string digest = Digest(*run.sig_hash, concat);
      if (digest != Tpm2bView(quote.pcrDigest)) {
        JsonWriter w;
        w.BeginObject().Key("reason").String("pcrDigest differs from the digest of the PCR values");
        w.Key("attested").String(HexEncode(Tpm2bView(quote.pcrDigest)));
        w.Key("computed").String(HexEncode(digest)).EndObject();
        run.Fail(kPcrDigest, w.Take());
      } else {
        integrity_ok = true;
        run.pcrs = &blob->values;
      }
    }
    if (!integrity_ok) run.appraisal().trust.executables = kCryptoFailed;
  }

  // 6. Clock.
  const TPMS_CLOCK_INFO& ci = attest->clockInfo;
  ClockState observed{ci.clock, ci.resetCount, ci.restartCount};
  if (ci.safe != 1) {
    run.FailReason(kClockUnsafe, "clockInfo.safe is not set");
    contraindicated = true;
  }
  if (found->clock && !ClockAdvances(*found->clock, observed)) {
    JsonWriter w;
    w.BeginObject().Key("reason").String("the TPM clock went back since the last valid quote");
    w.Key("previous");
    WriteClock(w, *found->clock);
    w.Key("observed");
    WriteClock(w, observed);
    w.EndObject();
    run.Fail(kClockRollback, w.Take());
    contraindicated = true;
  }

  // 7. Policy.
  auto policy = ParseTpmPolicy(found->tpm_policy);
  if (!policy.ok()) {
    run.FailReason(kInvalidPolicy, policy.status().message());
    run.appraisal().trust.executables = kUnrecognizedBoot;
  } else if (policy->empty()) {
    run.reference_values = "none";
  } else if (blob) {
    run.reference_values = "tpm_policy";
    if (integrity_ok) {
      // Keylime's rule: the policy speaks of the bank of the quote's hash.
      uint16_t bank = (wanted ? wanted : run.sig_hash)->id;
      std::map<int, std::string> values;
      for (const PcrValue& v : blob->values) {
        if (v.hash == bank) values.emplace(v.pcr, v.digest);
      }
      PolicyVerdict verdict = EvaluatePolicy(*policy, values);
      if (!verdict.missing.empty()) {
        JsonWriter w;
        w.BeginObject().Key("reason").String("PCRs of the policy are not in the quote");
        w.Key("bank").String(AlgName(bank));
        w.Key("pcrs").BeginArray();
        for (int p : verdict.missing) w.Int(p);
        w.EndArray().EndObject();
        run.Fail(kMissingPcrs, w.Take());
      }
      for (int p : verdict.invalid) {
        JsonWriter w;
        w.BeginObject().Key("reason").String("PCR value not allowed by the policy");
        w.Key("pcr").Int(p).Key("bank").String(AlgName(bank));
        w.Key("value").String(HexEncode(values[p])).EndObject();
        run.Fail("pcr_validation.invalid_pcr_" + std::to_string(p), w.Take());
      }
      run.appraisal().trust.executables = verdict.ok() ? kAffirming : kUnrecognizedBoot;
    }
  } else {
    // EnactTrust: no values travel. Recompute the digest from the policy
    // when it has exactly one value for every PCR the quote selects.
    std::string concat;
    bool computable = selection_fits;
    for (const PcrBankSelection& s : attested) {
      const HashAlg* alg = HashAlgById(s.hash);
      for (int pcr = 0; pcr < 24 && computable; ++pcr) {
        if (!s.Selected(pcr)) continue;
        auto it = policy->allowed.find(pcr);
        computable = alg && it != policy->allowed.end() && it->second.size() == 1 &&
                     it->second[0].size() == alg->size;
        if (computable) concat += it->second[0];
      }
    }
    std::map<int, std::string> none;
    PolicyVerdict verdict = EvaluatePolicy(*policy, none);
    // Policy PCRs the quote does not select cannot be vouched for.
    std::vector<int> missing;
    for (int p : verdict.missing) {
      bool selected = false;
      for (const PcrBankSelection& s : attested) selected = selected || s.Selected(p);
      if (!selected) missing.push_back(p);
    }
    if (!missing.empty()) {
      JsonWriter w;
      w.BeginObject().Key("reason").String("PCRs of the policy are not in the quote");
      w.Key("pcrs").BeginArray();
      for (int p : missing) w.Int(p);
      w.EndArray().EndObject();
      run.Fail(kMissingPcrs, w.Take());
      run.appraisal().trust.executables = kUnrecognizedBoot;
    }
    if (!computable) {
      run.reference_values = "none";
    } else {
      run.reference_values = "tpm_policy";
      std::string expected = Digest(*run.sig_hash, concat);
      if (expected != Tpm2bView(quote.pcrDigest)) {
        JsonWriter w;
        w.BeginObject().Key("reason").String("pcrDigest differs from the policy's digest");
        w.Key("attested").String(HexEncode(Tpm2bView(quote.pcrDigest)));
        w.Key("expected").String(HexEncode(expected)).EndObject();
        run.Fail(kPolicyDigest, w.Take());
        run.appraisal().trust.executables = kUnrecognizedBoot;
      } else if (missing.empty()) {
        run.appraisal().trust.executables = kAffirming;
      }
    }
  }

  // The baseline moves only for a quote that passed everything, atomically:
  // a concurrent newer quote may have moved it meanwhile.
  if (!run.failed() && !given) {
    auto advance = directory_->AdvanceClock(ev->agent_id, observed);
    if (!advance.ok()) {
      if (advance.status().code() != StatusCode::kNotFound) return advance.status();
      run.FailReason(kUnknownAttester, "the attester was removed during the appraisal");
      contraindicated = true;
    } else if (!advance->advanced) {
      JsonWriter w;
      w.BeginObject().Key("reason").String("a newer quote was accepted meanwhile");
      if (advance->previous) {
        w.Key("previous");
        WriteClock(w, *advance->previous);
      }
      w.Key("observed");
      WriteClock(w, observed);
      w.EndObject();
      run.Fail(kClockRollback, w.Take());
      contraindicated = true;
    }
  }
  if (contraindicated) run.Contraindicate();
  return run.Finish();
}

}  // namespace tpm

std::shared_ptr<const Verifier> MakeTpmQuoteVerifier(const VerifierContext& context) {
  return std::make_shared<tpm::TpmQuoteVerifier>(context.attesters);
}

}  // namespace attestd
