// Public keys as JSON Web Keys (RFC 7517) with RFC 7638 thumbprints.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace attestd {

struct PublicJwk {
  std::string json;  // {"kty":…,…,"alg":…,"kid":…,"use":"sig"}
  std::string kid;   // base64url SHA-256 thumbprint of the required members
};

// For EC P-256/P-384/P-521 and RSA keys. kInvalidArgument for other keys.
Result<PublicJwk> MakePublicJwk(EVP_PKEY* key, std::string_view alg);

// The JWS algorithm a key signs with: ES256 (P-256), ES384 (P-384),
// ES512 (P-521), PS256 (RSA). Empty for other keys.
std::string DefaultJwsAlg(EVP_PKEY* key);

}  // namespace attestd
