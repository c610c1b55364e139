#include "service/keylime/keylime_services.h"

namespace attestd {

KeylimeServices MakeKeylimeServices(const Stores& stores, std::shared_ptr<SessionService> sessions,
                                    std::shared_ptr<const Registry> registry,
                                    KeylimeOptions options) {
  KeylimeServices k;
  // The token a passed attestation extends lives as long as PoP issues it.
  options.attestation.token_ttl_s = options.pop.token_ttl_s;
  k.options = options;
  k.logs = options.logs ? options.logs : std::make_shared<LogAppraiser>(stores.policies);
  k.policies = std::make_shared<PolicyService>(stores.policies, stores.agents, k.logs);
  k.agents = std::make_shared<AgentService>(stores.agents, k.policies, stores.attesters,
                                            stores.registrar, options.mode);
  k.verify = std::make_shared<VerifyService>(stores.agents, std::move(registry), k.logs);
  k.pop = std::make_shared<PopService>(stores.agents, options.pop);
  k.attestations =
      std::make_shared<AttestationService>(stores.agents, std::move(sessions), options.attestation);
  return k;
}

}  // namespace attestd
