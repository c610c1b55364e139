#include "verifiers/builtin.h"

#include "common/metrics.h"
#include "common/time_util.h"
#include "verifiers/tpm/quote_verifier.h"

namespace attestd {

namespace {

// One line per verifier.
constexpr VerifierFactory kFactories[] = {
    MakeTpmQuoteVerifier,
};

}  // namespace

Status RegisterBuiltinVerifiers(Registry& registry, const VerifierContext& given) {
  VerifierContext context = given;
  if (!context.now_ms) context.now_ms = [] { return NowMillis(); };
  if (!context.metrics) context.metrics = &GlobalMetrics();
  for (VerifierFactory make : kFactories) {
    auto verifier = make(context);
    if (!verifier) return Internal("a verifier factory made nothing");
    if (Status s = registry.Register(std::move(verifier)); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace attestd
