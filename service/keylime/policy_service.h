// PolicyService: the verifier's named policies, Keylime's runtime policies
// (`/allowlists/{name}`) and measured-boot policies (`/mbpolicies/{name}`).
//
// Promises:
// - Names follow Keylime's rule (1 to 255 of [A-Za-z0-9._-]); a bad name is
//   kInvalidArgument on writes and kNotFound on reads.
// - Bodies arrive decoded and checked for form by the api layer; this
//   service checks what a policy means (a runtime policy's tpm_policy).
// - A policy an agent uses cannot be deleted (kConflict).
// - Bind resolves an agent's policy references at enrolment: a name alone
//   takes the named policy's body, a name with a body creates the named
//   policy (kConflict when the name exists); Unbind undoes what Bind made.
// - A policy attestd cannot evaluate (a runtime policy that does not
//   compile, e.g. with ima.dm_policy set; a refstate the example policy
//   cannot read) is kInvalidArgument naming the field, on Put and Validate.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "service/keylime/log_appraisal.h"
#include "store/agent_store.h"
#include "store/policy_store.h"

namespace attestd {

class PolicyService {
 public:
  // `logs` null: a LogAppraiser of its own.
  PolicyService(std::shared_ptr<PolicyStore> policies, std::shared_ptr<AgentStore> agents,
                std::shared_ptr<LogAppraiser> logs = nullptr);

  // The runtime policy (as sent: base64), with the agent's IMA keys, and
  // the measured-boot policy (JSON) can be evaluated; empty texts pass.
  Status Validate(std::string_view runtime_policy_b64, std::string_view ima_keys,
                  std::string_view mb_policy);

  // `replace`: PUT (kNotFound if absent) instead of POST (kConflict if present).
  Status Put(PolicyKind kind, const NamedPolicy& policy, bool replace);
  Result<NamedPolicy> Get(PolicyKind kind, std::string_view name);
  // kConflict while an agent uses it.
  Status Delete(PolicyKind kind, std::string_view name);
  Result<std::vector<std::string>> List(PolicyKind kind);

  using Created = std::vector<std::pair<PolicyKind, std::string>>;
  // Resolves `agent`'s runtime and measured-boot policy references (see
  // above); returns the named policies it created.
  Result<Created> Bind(VerifierAgent& agent);
  // Stores `agent`'s runtime policy body once by digest and makes the
  // record refer to it (kPolicyRefPrefix), so a thousand agents on one
  // 20 MiB policy keep one copy in the store. A reference is left as is.
  Status StoreByDigest(VerifierAgent& agent);
  void Unbind(const Created& created);

 private:
  std::shared_ptr<PolicyStore> policies_;
  std::shared_ptr<AgentStore> agents_;
  std::shared_ptr<LogAppraiser> logs_;
};

}  // namespace attestd
