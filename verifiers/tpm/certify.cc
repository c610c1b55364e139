#include "verifiers/tpm/certify.h"

#include "common/random.h"
#include "verifiers/tpm/ak.h"
#include "verifiers/tpm/tpm_structures.h"

namespace attestd::tpm {

namespace {
Status Refused(std::string why) {
  return {StatusCode::kUnauthenticated, "proof of possession failed: " + why};
}
}  // namespace

Status VerifySelfCertify(std::string_view ak_tpm2b, std::string_view attest,
                         std::string_view signature, std::string_view challenge) {
  auto key = ParseAk(ak_tpm2b);
  if (!key.ok()) return Refused("the enrolled AK does not parse: " + key.status().message());
  auto sig = ParseSignature(signature);
  if (!sig.ok()) return Refused("signature: " + sig.status().message());
  if (Status s = CheckSignatureScheme(**key, *sig); !s.ok()) return Refused(s.message());
  // The signature first: nothing in unauthenticated bytes is worth reading.
  Status verified = VerifyQuoteSignature(**key, *sig, attest);
  if (verified.code() == StatusCode::kInternal) return verified;
  if (!verified.ok()) return Refused("the signature does not verify with the enrolled AK");
  auto parsed = ParseAttest(attest);
  if (!parsed.ok()) return Refused("message: " + parsed.status().message());
  if (parsed->magic != TPM2_GENERATED_VALUE) return Refused("message is not TPM-generated");
  if (parsed->type != TPM2_ST_ATTEST_CERTIFY) return Refused("message is not a TPM2_Certify");
  if (!ConstantTimeEquals(Tpm2bView(parsed->extraData), challenge)) {
    return Refused("the certification is not over the challenge");
  }
  if (Tpm2bView(parsed->attested.certify.name) != (*key)->name) {
    return Refused("the certified object is not the enrolled AK");
  }
  return Status::Ok();
}

}  // namespace attestd::tpm
