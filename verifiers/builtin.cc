#include "verifiers/builtin.h"

#include "verifiers/tpm/quote_verifier.h"

namespace attestd {

Status RegisterBuiltinVerifiers(Registry& registry, const VerifierDeps& deps) {
  // One line per verifier, e.g.:
  //   if (auto s = registry.Register(MakeTpmQuoteVerifier(deps)); !s.ok()) return s;
  if (auto s = registry.Register(MakeTpmQuoteVerifier(deps)); !s.ok()) return s;
  return Status::Ok();
}

}  // namespace attestd
