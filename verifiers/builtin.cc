#include "verifiers/builtin.h"

namespace attestd {

Status RegisterBuiltinVerifiers(Registry& registry, const VerifierDeps& deps) {
  (void)registry;
  (void)deps;
  // One line per verifier, e.g.:
  //   if (auto s = registry.Register(MakeTpmQuoteVerifier(deps)); !s.ok()) return s;
  return Status::Ok();
}

}  // namespace attestd
