// The Keylime-compatible verifier's route table (shared/spec/keylime.md,
// "Verifier"), in the Keylime envelope under every versioned prefix, on its
// own listener (mTLS unless --insecure-verifier):
//   GET /version
#pragma once

#include <memory>

#include "api/router.h"

namespace attestd::api {

std::shared_ptr<Router> MakeVerifierRouter();

}  // namespace attestd::api
