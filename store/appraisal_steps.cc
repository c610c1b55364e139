// SessionStore's default appraisal steps (the blocking calls in turn).
#include "store/session_store.h"

namespace attestd {

// The blocking calls, one after the other: right for the memory stores,
// whose calls never wait.
void SessionStore::BeginAppraisalAsync(std::string_view id, std::string_view evidence_type,
                                       std::string_view evidence, int64_t min_expiry_ms,
                                       AttesterDirectory* attesters, std::string_view agent_id,
                                       StartCallback done) {
  Result<Session> session = TransitionToProcessing(id, evidence_type, evidence, min_expiry_ms);
  if (!session.ok()) return done(session.status());
  AppraisalStart start{std::move(*session), std::nullopt};
  if (attesters && !agent_id.empty()) {
    Result<Attester> found = attesters->Get(agent_id);
    if (found.ok()) {
      start.attester = std::move(*found);
    } else if (found.status().code() != StatusCode::kNotFound) {
      return done(found.status());
    }
  }
  done(std::move(start));
}

// Not atomic across the two calls, which is as good: the clock moves first
// and only a quote that moved it is recorded complete.
void SessionStore::CompleteAppraisalAsync(std::string_view id, const SessionResult& result,
                                          AttesterDirectory* attesters,
                                          const std::optional<ClockCommit>& clock,
                                          CompleteCallback done) {
  if (clock && attesters) {
    Result<ClockAdvance> advance = attesters->AdvanceClock(clock->agent_id, clock->observed);
    if (!advance.ok()) {
      if (advance.status().code() == StatusCode::kNotFound) return done(false);
      return done(advance.status());
    }
    if (!advance->advanced) return done(false);
  }
  Status st = TransitionToComplete(id, result);
  if (!st.ok()) return done(st);
  done(true);
}

}  // namespace attestd
