// Proof of possession of an AK: TPM2_Certify of the AK by itself over a
// challenge, as Keylime's push agent answers POST /v3/sessions.
//
// Promises: accepts any bytes and never throws. OK only when the signature
// verifies with the AK (RSASSA, RSAPSS or ECDSA, as CheckSignatureScheme
// allows), the TPMS_ATTEST is a TPM-generated TPM_ST_ATTEST_CERTIFY whose
// extraData is the challenge and whose certified name is the AK's own
// name. Anything else is kUnauthenticated with the reason.
#pragma once

#include <string_view>

#include "common/status.h"

namespace attestd::tpm {

Status VerifySelfCertify(std::string_view ak_tpm2b, std::string_view attest,
                         std::string_view signature, std::string_view challenge);

}  // namespace attestd::tpm
