// The one serializer of the session document (challenge-response.md).
#pragma once

#include <string>
#include <vector>

#include "store/session.h"

namespace attestd::api {

inline constexpr char kSessionMediaType[] =
    "application/vnd.veraison.challenge-response-session+json";

enum class SessionFormat {
  kAttestd,   // `state`, padded standard base64 nonce, result object
  kVeraison,  // `status`, unpadded base64url nonce (what Veraison's clients parse)
};

// In the Veraison format `result` is the EAR compact JWS string (taken from
// the stored result's "ear" member), as Veraison's clients expect.
std::string SessionToJson(const Session& s, const std::vector<std::string>& accept,
                          SessionFormat format);

}  // namespace attestd::api
