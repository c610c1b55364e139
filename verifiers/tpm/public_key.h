// TPM public keys to and from OpenSSL 3 EVP_PKEY, shared by Attestation Keys
// and Endorsement Keys: the key material only (type, RSA modulus and
// exponent, ECC curve and point). What a key may be used for, and which
// sizes and curves a role accepts, is the caller's to check.
//
// Promises: no function throws; any TPMT_PUBLIC is answered with a key or
// kInvalidArgument saying what is wrong with it.
#pragma once

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include <cstddef>
#include <memory>

#include "common/openssl_ptr.h"
#include "common/status.h"

namespace attestd::tpm {

using EvpPkeyFree = OpenSslFree<EVP_PKEY_free>;
using Pkey = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

struct TpmCurve {
  TPM2_ECC_CURVE id;
  const char* group;        // OpenSSL's group name
  size_t bytes;             // field element size
  const char* description;  // "ecc-p256", ...
};

// NIST P-256, P-384 and P-521; null for any other curve.
const TpmCurve* TpmCurveById(TPM2_ECC_CURVE id);

// The RSA key of an RSA TPMT_PUBLIC: a modulus exactly keyBits long and odd,
// exponent 0 meaning 65537, otherwise odd and above 1.
Result<Pkey> RsaKeyFromTpm(const TPMT_PUBLIC& pub);

// The EC key of an ECC TPMT_PUBLIC: curveID one of TpmCurveById's,
// coordinates no longer than the field (left-padded), the point checked on
// the curve explicitly rather than trusting the decoder.
Result<Pkey> EccKeyFromTpm(const TPMT_PUBLIC& pub);

// The other way, for keys that arrive as PEM or in certificates: sets type,
// keyBits and exponent (65537 written as 0) or curveID, and unique. Accepts
// RSA keys whose modulus is whole bytes and fits, and EC keys on the curves
// above. Every other field of `pub` is left as it was.
Status FillTpmPublicKey(const EVP_PKEY* key, TPMT_PUBLIC* pub);

}  // namespace attestd::tpm
