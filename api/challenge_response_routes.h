// The challenge-response listener's route table (challenge-response.md):
// sessions, discovery, and the operations routes (/healthz, /readyz).
#pragma once

#include <memory>

#include "api/router.h"
#include "api/session_json.h"
#include "service/session_service.h"

namespace attestd::api {

struct ChallengeResponseOptions {
  SessionFormat format = SessionFormat::kAttestd;
  std::string version = ATTESTD_VERSION;
};

// Builds the router. `service` must outlive it.
std::shared_ptr<Router> MakeChallengeResponseRouter(std::shared_ptr<SessionService> service,
                                                    ChallengeResponseOptions options);

}  // namespace attestd::api
