// SessionStore: where challenge-response sessions live.
//
// Promises, for every implementation:
// - A session exists until its expiry_ms and not after: Get of an expired
//   session is kNotFound, and the stored expiry_ms is exactly the instant the
//   store will forget it (the API shows it as `expiry`).
// - State only moves waiting → processing → complete | failed. The
//   waiting → processing step is atomic: of two concurrent BeginProcessing
//   calls on one session exactly one succeeds.
// - Every operation touches one session only (one key in Redis), so the
//   Redis implementation works on a cluster.
// - kUnavailable means the store could not be reached; the caller may retry.
//   No operation blocks for long when the store is down.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/attester_directory.h"
#include "store/session.h"

namespace attestd {

// What Create answers when the store holds its cap of live sessions
// (kUnavailable: the client may retry once sessions expire or finish).
Status SessionCapReached();
bool IsSessionCapReached(const Status& status);
// Seconds a client is asked to wait before asking for a session again.
inline constexpr int kSessionCapRetryAfterSeconds = 5;

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  // Stores a new waiting session that expires at session.expiry_ms.
  // kConflict if the id exists (ids are random UUIDs: it should never happen).
  virtual Status Create(const Session& session) = 0;

  // kNotFound if the id is unknown or expired.
  virtual Result<Session> Get(std::string_view id) = 0;

  // Create and Get for callers that must not block (HTTP reactor threads):
  // `done` gets the same answer exactly once, either before the call
  // returns or later on a thread of the store's. The default runs the
  // blocking call; the Redis store sends the command and returns.
  using StatusCallback = std::function<void(Status)>;
  using SessionCallback = std::function<void(Result<Session>)>;
  virtual void CreateAsync(const Session& session, StatusCallback done) { done(Create(session)); }
  virtual void GetAsync(std::string_view id, SessionCallback done) { done(Get(id)); }

  // What an appraisal needs, read in the step that starts it.
  struct AppraisalStart {
    Session session;                   // as stored afterwards: processing, with the evidence
    std::optional<Attester> attester;  // the record of `agent_id`; nullopt: unknown (or none asked)
  };
  using StartCallback = std::function<void(Result<AppraisalStart>)>;
  // TransitionToProcessing and, in the same step, `attesters`->Get(agent_id)
  // (skipped when `agent_id` is empty or `attesters` null). The Redis store
  // does both in one script (one round trip) when `attesters` is its own
  // Redis directory; the default runs the blocking calls. `done` as for
  // CreateAsync. The session's outcomes are TransitionToProcessing's; an
  // attester that cannot be read fails the call only if the session did not
  // move (the default may leave it processing: a memory directory never fails).
  virtual void BeginAppraisalAsync(std::string_view id, std::string_view evidence_type,
                                   std::string_view evidence, int64_t min_expiry_ms,
                                   AttesterDirectory* attesters, std::string_view agent_id,
                                   StartCallback done);

  // processing → complete with `result` and, when `clock` is set, the
  // attester's clock baseline moves to clock->observed, both in one step
  // (one Lua script in Redis). Answers true when done; false, writing
  // nothing, when the baseline may not move (ClockAdvances fails: a newer
  // quote was accepted meanwhile, or the attester is gone), so the caller
  // appraises again against the directory. Errors as TransitionToComplete.
  using CompleteCallback = std::function<void(Result<bool>)>;
  virtual void CompleteAppraisalAsync(std::string_view id, const SessionResult& result,
                                      AttesterDirectory* attesters,
                                      const std::optional<ClockCommit>& clock,
                                      CompleteCallback done);

  // Removes the session; OK whether or not it existed.
  virtual Status Delete(std::string_view id) = 0;

  // Atomically moves a waiting session to processing, stores the evidence,
  // and extends the expiry to at least min_expiry_ms. Returns the session as
  // stored afterwards. kNotFound if absent; kConflict if not waiting, with a
  // message naming the current state ("session is processing").
  virtual Result<Session> TransitionToProcessing(std::string_view id,
                                                 std::string_view evidence_type,
                                                 std::string_view evidence,
                                                 int64_t min_expiry_ms) = 0;

  // processing → complete with the result. kNotFound if the session
  // expired meanwhile; kConflict if it is not processing.
  virtual Status TransitionToComplete(std::string_view id, const SessionResult& result) = 0;

  // processing → failed with a reason for the operator (no secrets).
  virtual Status TransitionToFailed(std::string_view id, std::string_view error) = 0;

  // OK while the store answers.
  virtual Status Ping() = 0;

  // OK while the store accepts writes (a full or read-only Redis answers
  // PING but refuses them). Costs one small write; callers cache it.
  virtual Status ProbeWrite() { return Ping(); }
};

}  // namespace attestd
