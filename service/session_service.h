// SessionService: the challenge-response state machine.
//
// Creates sessions with a CSPRNG nonce, accepts evidence exactly once per
// session, appraises it in the request (cheap verifiers) or through the work
// queue (expensive verifiers, or when the client asks), and records the
// outcome. It knows stores and verifiers, never HTTP or JSON of the API.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "service/task_pool.h"
#include "store/attester_directory.h"
#include "store/session_store.h"
#include "store/work_queue.h"
#include "verifiers/ear/result_signer.h"
#include "verifiers/registry.h"

namespace attestd {

struct SessionServiceOptions {
  int64_t session_ttl_ms = 300'000;
  int64_t result_retention_ms = 120'000;
  size_t default_nonce_size = 32;
  // Upper bound on `Prefer: wait=N`, so a client cannot hold a thread for long.
  int64_t max_wait_ms = 30'000;
  // Threads appraising evidence that arrives over HTTP (SubmitAsync); 0:
  // one per core.
  int task_threads = 0;
};

inline constexpr size_t kMinNonceSize = 8;
inline constexpr size_t kMaxNonceSize = 64;

struct SubmitOptions {
  bool respond_async = false;      // Prefer: respond-async
  std::optional<int64_t> wait_ms;  // Prefer: wait=N
};

struct SubmitOutcome {
  Session session;  // as stored after the call
  // True when the appraisal finished within the request (HTTP 200); false
  // when the session is still processing (HTTP 202).
  bool finished = false;
};

class SessionService {
 public:
  // `signer` may be null: results then carry no EAR.
  SessionService(std::shared_ptr<SessionStore> store, std::shared_ptr<WorkQueue> queue,
                 std::shared_ptr<const Registry> registry, SessionServiceOptions options,
                 std::shared_ptr<const ResultSigner> signer = nullptr);

  // A new waiting session. `nonce` (raw bytes) when the relying party chose
  // it, else `nonce_size` random bytes (default size when absent).
  // `agent_id`: the Keylime agent whose push attestation this is (kept in
  // the session, handed back to the finished hook). kInvalidArgument when a
  // size is outside 8..64.
  Result<Session> Create(const std::optional<std::string>& nonce, std::optional<size_t> nonce_size,
                         std::string agent_id = "");

  Result<Session> Get(std::string_view id);

  // Create and Get without blocking the calling thread (see
  // SessionStore::CreateAsync): `done` runs exactly once, before the call
  // returns or later on a store thread, so it must not block either.
  using SessionCallback = std::function<void(Result<Session>)>;
  void CreateAsync(const std::optional<std::string>& nonce, std::optional<size_t> nonce_size,
                   SessionCallback done);
  void GetAsync(std::string_view id, SessionCallback done);

  // Idempotent: OK whether or not the session exists.
  Status Delete(std::string_view id);

  // Accepts evidence of a normalized media type. kUnsupportedMediaType when
  // no verifier takes it; kNotFound; kConflict when not waiting;
  // kUnavailable when the store is down; kInternal when appraisal itself
  // failed (the session is then `failed`). SubmitAsync's answer, with the
  // appraisal run on the calling thread, which waits anyway.
  Result<SubmitOutcome> Submit(std::string_view id, std::string_view media_type,
                               std::string_view evidence, const SubmitOptions& options);

  // Submit without blocking the calling thread: `done` gets Submit's answer
  // exactly once, on a store or task-pool thread (or before the call
  // returns), so it must not block. A cheap verifier's appraisal runs on the
  // task pool, between two store steps: one that moves the session to
  // processing and reads the attester record the evidence names, one that
  // records the result and moves the attester's clock baseline (two Redis
  // round trips). When the second step fails (kUnavailable), the answer is
  // that error and the result is written again with backoff until the
  // store takes it or the session expires, so no session is left processing.
  using SubmitCallback = std::function<void(Result<SubmitOutcome>)>;
  void SubmitAsync(std::string_view id, std::string_view media_type, std::string_view evidence,
                   const SubmitOptions& options, SubmitCallback done);

  // The registry verifier's appraisal of `evidence` against `nonce` (raw
  // bytes), with its metrics, on the calling thread and outside any
  // session: for a service that makes the nonce and reads the outcome in
  // one call (a pull poll), where a stored session would only be written
  // and deleted. The verifier reads and moves the attester's clock itself.
  // No EAR. kUnsupportedMediaType when no verifier takes the type.
  Result<Appraisal> AppraiseOnce(std::string_view media_type, std::string_view evidence,
                                 std::string_view nonce) const;

  // The attester directory the verifiers read, so the store reads the
  // record with the session. Set before serving (not synchronized). Without
  // it, verifiers read their own.
  void set_attesters(std::shared_ptr<AttesterDirectory> attesters) {
    attesters_ = std::move(attesters);
  }

  // Appraises one queued session (worker threads). Idempotent: a session no
  // longer processing is left alone. Returns kUnavailable when the store
  // could not be written, so the item stays queued and is retried.
  Status ProcessQueued(std::string_view session_id);

  // Ends a queued session as failed without appraising it: its item was
  // handed out `deliveries` times and no worker lived to finish it, so the
  // evidence itself is the likely cause. Idempotent like ProcessQueued.
  Status AbandonQueued(std::string_view session_id, int64_t deliveries);

  // Called with the stored session each time an appraisal this process ran
  // finished (complete or failed), on the thread that ran it. Set it before
  // Start (not synchronized); it must not throw. Push attestations record
  // their outcome through it.
  using FinishedHook = std::function<void(const Session&)>;
  void set_on_finished(FinishedHook hook) { on_finished_ = std::move(hook); }

  // Media types with a verifier, for the session document's `accept`.
  const std::vector<std::string>& Accept() const { return registry_->MediaTypes(); }
  const Registry& registry() const { return *registry_; }
  SessionStore& store() { return *store_; }
  const ResultSigner* signer() const { return signer_.get(); }

  // Runs the tasks already due (answers in flight) and stops the threads
  // SubmitAsync appraises on; retries still waiting are dropped. Call after
  // the HTTP listeners drained. Submit works on afterwards, on the caller's
  // thread.
  void StopTasks() { pool_->Stop(); }

 private:
  // SubmitAsync with the step after the store's first one handed to `run`.
  void SubmitOn(std::function<void(TaskPool::Task)> run, std::string_view id,
                std::string_view media_type, std::string_view evidence,
                const SubmitOptions& options, SubmitCallback done);
  // A new waiting session, not stored yet.
  Result<Session> NewSession(const std::optional<std::string>& nonce,
                             std::optional<size_t> nonce_size) const;
  // Appraises and stores the outcome; returns the final session state.
  Result<Session> AppraiseAndRecord(Session session, const Verifier& verifier);
  // The appraisal of a begun session on this thread, then its completion
  // step; `done` gets the stored outcome.
  using SessionCallback2 = std::function<void(Result<Session>)>;
  void AppraiseAndComplete(SessionStore::AppraisalStart start, bool prefetched,
                           const Verifier& verifier, SessionCallback2 done);
  // The step both paths share: the verifier's appraisal, its metrics, and
  // the EAR. A failed appraisal is recorded as the session's failure
  // (RecordFailed) and its error returned.
  Result<SessionResult> AppraiseStep(Session& session, const AppraisalRequest& request,
                                     const Verifier& verifier);
  // Writes `session`'s result (and clock); retries with backoff when the
  // store is down (after answering `done` with the error).
  void Complete(std::shared_ptr<Session> session, std::optional<ClockCommit> clock,
                const Verifier& verifier, SessionCallback2 done, int attempt);
  // The queued path of SubmitAsync, on a pool thread.
  void Enqueue(Session session, SubmitOptions options, SubmitCallback done);
  void WaitAsync(std::string id, std::chrono::steady_clock::time_point deadline,
                 std::chrono::milliseconds pause, Session fallback, SubmitCallback done);
  // Runs `task` on the pool (or here without one).
  void Run(TaskPool::Task task);
  // `dropped` runs instead when the pool stops first.
  void RunAfter(std::chrono::milliseconds delay, TaskPool::Task task,
                TaskPool::Task dropped = nullptr);
  // Stores `session` as failed with `error`, counts it and tells the
  // finished hook; the store's Status otherwise.
  Status RecordFailed(Session& session, std::string error);
  // The queued session if it is still processing; nullopt if it is gone or
  // already finished (nothing left to do), an error if the store is down.
  Result<std::optional<Session>> StillProcessing(std::string_view id);

  std::shared_ptr<SessionStore> store_;
  std::shared_ptr<WorkQueue> queue_;
  std::shared_ptr<const Registry> registry_;
  SessionServiceOptions options_;
  std::shared_ptr<const ResultSigner> signer_;
  FinishedHook on_finished_;
  std::shared_ptr<TaskPool> pool_;
  std::shared_ptr<AttesterDirectory> attesters_;
};

}  // namespace attestd
