// The Keylime-compatible verifier's route table (docs/keylime-compatibility.md,
// "Verifier (v2.x)"), in the Keylime envelope under the v2 prefixes, on its
// own listener (mTLS unless --insecure-verifier):
//   GET /version
//   POST|GET|DELETE /v2.x/agents/{id}, GET /v2.x/agents
//   PUT /v2.x/agents/{id}/reactivate, PUT /v2.x/agents/{id}/stop
//   POST|PUT|GET|DELETE /v2.x/allowlists/{name}, GET /v2.x/allowlists
//   POST|PUT|GET|DELETE /v2.x/mbpolicies/{name}, GET /v2.x/mbpolicies
//   GET /v2.x/verify/identity, POST /v2.x/verify/evidence
// and the v3 push model (verifier_push_routes.cc, JSON:API):
//   POST /v3/agents/{id}/attestations, PATCH …/latest|{n}, GET list/latest/{n}
// The routes decode JSON and base64 only; every rule is AgentService's.
#pragma once

#include <memory>

#include "api/router.h"
#include "service/keylime/keylime_services.h"

namespace attestd::api {

// Where the verifier listener really listens (known once it is bound; port
// 0 picks one): agents report it, and tenants send delete and reactivate
// there.
class ListenerAddress {
 public:
  void Set(std::string ip, int port);
  std::string ip() const;
  int port() const;

 private:
  mutable std::mutex mu_;
  std::string ip_;
  int port_ = 0;
};

std::shared_ptr<Router> MakeVerifierRouter(const KeylimeServices& services,
                                           std::shared_ptr<const ListenerAddress> address);
// The v3 push-model routes, added by MakeVerifierRouter.
void AddVerifierPushRoutes(Router& router, const KeylimeServices& services);

}  // namespace attestd::api
