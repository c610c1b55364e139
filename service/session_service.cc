#include "service/session_service.h"

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "common/metrics.h"
#include "common/random.h"
#include "common/time_util.h"

namespace attestd {

SessionService::SessionService(std::shared_ptr<SessionStore> store,
                               std::shared_ptr<WorkQueue> queue,
                               std::shared_ptr<const Registry> registry,
                               SessionServiceOptions options,
                               std::shared_ptr<const ResultSigner> signer)
    : store_(std::move(store)),
      queue_(std::move(queue)),
      registry_(std::move(registry)),
      options_(options),
      signer_(std::move(signer)),
      pool_(std::make_shared<TaskPool>(
          options_.task_threads > 0
              ? options_.task_threads
              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())))) {}

namespace {

// The error a failed session shows for an appraisal that could not run.
// A server error's text (a store address, a library message) stays in the
// log line written beside it; the session document gets a fixed one.
std::string AppraisalErrorText(const Status& st) {
  bool server_error = st.code() == StatusCode::kUnavailable || st.code() == StatusCode::kInternal;
  return server_error ? "could not appraise the evidence" : "could not appraise: " + st.message();
}
// A failed result's Status, out of line: GCC 12 sees the variant's
// inactive member as maybe-uninitialized when status() is inlined into a
// lambda (a false positive under -Werror).
template <typename T>
[[gnu::noinline]] Status StatusOf(const Result<T>& r) {
  return r.status();
}

Status CheckNonceSize(size_t n) {
  if (n < kMinNonceSize || n > kMaxNonceSize) {
    return InvalidArgument("nonce must be 8..64 bytes, got " + std::to_string(n));
  }
  return Status::Ok();
}
}  // namespace

Result<Session> SessionService::NewSession(const std::optional<std::string>& nonce,
                                           std::optional<size_t> nonce_size) const {
  Session s;
  if (nonce) {
    if (auto st = CheckNonceSize(nonce->size()); !st.ok()) return st;
    s.nonce = *nonce;
  } else {
    size_t n = nonce_size.value_or(options_.default_nonce_size);
    if (auto st = CheckNonceSize(n); !st.ok()) return st;
    auto bytes = RandomBytes(n);
    if (!bytes.ok()) return bytes.status();
    s.nonce = std::move(*bytes);
  }
  auto id = NewUuidV4();
  if (!id.ok()) return id.status();
  s.id = std::move(*id);
  s.state = SessionState::kWaiting;
  s.expiry_ms = NowMillis() + options_.session_ttl_ms;
  return s;
}

Result<Session> SessionService::Create(const std::optional<std::string>& nonce,
                                       std::optional<size_t> nonce_size, std::string agent_id) {
  Result<Session> s = NewSession(nonce, nonce_size);
  if (!s.ok()) return s;
  s->agent_id = std::move(agent_id);
  if (auto st = store_->Create(*s); !st.ok()) return st;
  GlobalMetrics().CountSession(Metrics::SessionEvent::kCreated);
  return s;
}

void SessionService::CreateAsync(const std::optional<std::string>& nonce,
                                 std::optional<size_t> nonce_size, SessionCallback done) {
  Result<Session> s = NewSession(nonce, nonce_size);
  if (!s.ok()) return done(std::move(s));
  auto session = std::make_shared<Session>(std::move(*s));
  store_->CreateAsync(*session, [session, done = std::move(done)](Status st) {
    if (!st.ok()) return done(st);
    GlobalMetrics().CountSession(Metrics::SessionEvent::kCreated);
    done(std::move(*session));
  });
}

Result<Session> SessionService::Get(std::string_view id) { return store_->Get(id); }

void SessionService::GetAsync(std::string_view id, SessionCallback done) {
  store_->GetAsync(id, std::move(done));
}

Status SessionService::Delete(std::string_view id) { return store_->Delete(id); }

namespace {

// The thread of a blocking Submit: the tasks of its own call run on it, so
// the appraisal does not hop to the pool and back while the caller waits.
class CallerThread {
 public:
  // Both notify under the lock: they may run on another thread, and the
  // caller returns (destroying this) as soon as it sees the answer.
  void Post(TaskPool::Task task) {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
    cv_.notify_one();
  }
  void Answer(Result<SubmitOutcome> r) {
    std::lock_guard<std::mutex> lock(mu_);
    answer_.emplace(std::move(r));
    cv_.notify_one();
  }
  // Runs the call's tasks until its answer came.
  Result<SubmitOutcome> Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return !tasks_.empty() || answer_.has_value(); });
      if (tasks_.empty()) return std::move(*answer_);
      TaskPool::Task task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<TaskPool::Task> tasks_;
  std::optional<Result<SubmitOutcome>> answer_;
};

}  // namespace

// GCC 12 sees the moved Result's inactive member as maybe-uninitialized
// once the answer lambda is inlined (a false positive under -Werror, like
// StatusOf above).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
Result<SubmitOutcome> SessionService::Submit(std::string_view id, std::string_view media_type,
                                             std::string_view evidence,
                                             const SubmitOptions& options) {
  // Only the step after the session moved to processing is posted; later
  // ones (retries, waits) go to the pool and end with the answer.
  CallerThread caller;
  SubmitOn([&caller](TaskPool::Task t) { caller.Post(std::move(t)); }, id, media_type, evidence,
           options, [&caller](Result<SubmitOutcome> r) { caller.Answer(std::move(r)); });
  return caller.Run();
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void SessionService::SubmitAsync(std::string_view id, std::string_view media_type,
                                 std::string_view evidence, const SubmitOptions& options,
                                 SubmitCallback done) {
  SubmitOn([this](TaskPool::Task t) { Run(std::move(t)); }, id, media_type, evidence, options,
           std::move(done));
}

void SessionService::SubmitOn(std::function<void(TaskPool::Task)> run, std::string_view id,
                              std::string_view media_type, std::string_view evidence,
                              const SubmitOptions& options, SubmitCallback done) {
  const Verifier* verifier = registry_->Find(media_type);
  if (!verifier) {
    return done(Status(StatusCode::kUnsupportedMediaType,
                       "no verifier for media type '" + std::string(media_type) + "'"));
  }
  bool appraise_now = verifier->IsCheap() && !options.respond_async;
  // The record the appraisal will read, read with the session.
  std::string agent;
  if (appraise_now && attesters_) {
    agent = verifier->AttesterId(AppraisalRequest{media_type, evidence, ""});
  }
  bool prefetched = !agent.empty();
  store_->BeginAppraisalAsync(
      id, media_type, evidence, NowMillis() + options_.result_retention_ms,
      prefetched ? attesters_.get() : nullptr, agent,
      [this, verifier, appraise_now, prefetched, options, run = std::move(run),
       done = std::move(done)](Result<SessionStore::AppraisalStart> start) mutable {
        if (!start.ok()) return done(StatusOf(start));
        auto begun = std::make_shared<SessionStore::AppraisalStart>(std::move(*start));
        if (!appraise_now) {
          return run(
              [this, begun, options, done] { Enqueue(std::move(begun->session), options, done); });
        }
        run([this, begun, verifier, prefetched, done] {
          AppraiseAndComplete(std::move(*begun), prefetched, *verifier, [done](Result<Session> s) {
            if (!s.ok()) return done(StatusOf(s));
            done(SubmitOutcome{std::move(*s), true});
          });
        });
      });
}

Result<Appraisal> SessionService::AppraiseOnce(std::string_view media_type,
                                               std::string_view evidence,
                                               std::string_view nonce) const {
  const Verifier* verifier = registry_->Find(media_type);
  if (!verifier) {
    return Status(StatusCode::kUnsupportedMediaType,
                  "no verifier for media type '" + std::string(media_type) + "'");
  }
  auto t0 = std::chrono::steady_clock::now();
  auto appraisal = verifier->Appraise(AppraisalRequest{media_type, evidence, nonce});
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Metrics::Outcome outcome = !appraisal.ok()       ? Metrics::Outcome::kError
                             : appraisal->is_valid ? Metrics::Outcome::kValid
                                                   : Metrics::Outcome::kInvalid;
  GlobalMetrics().ObserveAppraisal(media_type, outcome, secs);
  return appraisal;
}

void SessionService::Enqueue(Session session, SubmitOptions options, SubmitCallback done) {
  if (auto st = queue_->Enqueue(session.id); !st.ok()) {
    // Without a queue entry nobody would ever finish this session: say so
    // rather than leave it processing until it expires.
    (void)store_->TransitionToFailed(session.id, "could not queue the appraisal");
    return done(st);
  }
  if (options.wait_ms && *options.wait_ms > 0 && !options.respond_async) {
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(std::min(*options.wait_ms, options_.max_wait_ms));
    std::string id = session.id;
    return WaitAsync(std::move(id), deadline, std::chrono::milliseconds(2), std::move(session),
                     std::move(done));
  }
  done(SubmitOutcome{std::move(session), false});
}

void SessionService::WaitAsync(std::string id, std::chrono::steady_clock::time_point deadline,
                               std::chrono::milliseconds pause, Session fallback,
                               SubmitCallback done) {
  std::string key = id;
  store_->GetAsync(key, [this, id = std::move(id), deadline, pause, fallback = std::move(fallback),
                         done = std::move(done)](Result<Session> s) mutable {
    if (!s.ok()) return done(SubmitOutcome{std::move(fallback), false});
    if (s->state != SessionState::kProcessing) return done(SubmitOutcome{std::move(*s), true});
    if (std::chrono::steady_clock::now() + pause >= deadline) {
      return done(SubmitOutcome{std::move(*s), false});
    }
    auto next = std::min(pause * 2, std::chrono::milliseconds(50));
    // Stopped first: the caller gets the session as it is, still processing.
    auto now = std::make_shared<Session>(std::move(*s));
    RunAfter(
        pause,
        [this, id, deadline, next, fallback, done] {
          WaitAsync(id, deadline, next, fallback, done);
        },
        [now, done] {
          done(SubmitOutcome{*now, false});
        });
  });
}

void SessionService::AppraiseAndComplete(SessionStore::AppraisalStart start, bool prefetched,
                                         const Verifier& verifier, SessionCallback2 done) {
  auto session = std::make_shared<Session>(std::move(start.session));
  std::optional<ClockCommit> clock;
  AppraisalRequest request{session->evidence_type, session->evidence, session->nonce};
  if (prefetched) request.prefetched = &start.attester;
  request.deferred_clock = &clock;
  auto result = AppraiseStep(*session, request, verifier);
  if (!result.ok()) return done(result.status());
  session->result = std::move(*result);
  session->state = SessionState::kComplete;
  Complete(std::move(session), std::move(clock), verifier, std::move(done), 0);
}

Result<SessionResult> SessionService::AppraiseStep(Session& session,
                                                   const AppraisalRequest& request,
                                                   const Verifier& verifier) {
  auto t0 = std::chrono::steady_clock::now();
  auto appraisal = verifier.Appraise(request);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Metrics& metrics = GlobalMetrics();
  if (!appraisal.ok()) {
    metrics.ObserveAppraisal(session.evidence_type, Metrics::Outcome::kError, secs);
    LogWarn("appraisal failed", {{"session", session.id}, {"error", appraisal.status().message()}});
    Status st = RecordFailed(session, AppraisalErrorText(appraisal.status()));
    if (!st.ok()) return st;
    return appraisal.status().code() == StatusCode::kUnavailable
               ? appraisal.status()
               : Internal("could not appraise the evidence");
  }
  metrics.ObserveAppraisal(
      session.evidence_type,
      appraisal->is_valid ? Metrics::Outcome::kValid : Metrics::Outcome::kInvalid, secs);
  std::string ear;
  if (signer_) {
    auto signed_ear = signer_->Sign(*appraisal, session.nonce, NowMillis() / 1000);
    if (!signed_ear.ok()) {
      LogError("result signing failed",
               {{"session", session.id}, {"error", signed_ear.status().message()}});
      Status st = RecordFailed(session, "could not sign the result");
      return st.ok() ? Internal("could not sign the result") : st;
    }
    ear = std::move(*signed_ear);
  }
  return SessionResult{std::move(*appraisal), std::move(ear)};
}

void SessionService::Complete(std::shared_ptr<Session> session, std::optional<ClockCommit> clock,
                              const Verifier& verifier, SessionCallback2 done, int attempt) {
  // The store reads its arguments before returning; `session` keeps the
  // result alive for the retries.
  const SessionResult& result = *session->result;
  store_->CompleteAppraisalAsync(
      session->id, result, attesters_.get(), clock,
      [this, session, clock, &verifier, done = std::move(done),
       attempt](Result<bool> stored) mutable {
        if (stored.ok() && *stored) {
          GlobalMetrics().CountSession(Metrics::SessionEvent::kCompleted);
          if (!on_finished_) {
            if (done) done(*session);
            return;
          }
          // The hook may wait on stores: not on the store's I/O thread.
          return Run([this, session, done] {
            on_finished_(*session);
            if (done) done(*session);
          });
        }
        if (stored.ok()) {
          // The baseline moved meanwhile (or the attester went): appraise
          // again the usual way, which reads the directory anew.
          return Run([this, session, &verifier, done] {
            Session again = *session;
            again.result.reset();
            again.state = SessionState::kProcessing;
            Result<Session> recorded = AppraiseAndRecord(std::move(again), verifier);
            if (done) done(std::move(recorded));
          });
        }
        if (stored.status().code() != StatusCode::kUnavailable) {
          if (done) done(stored.status());
          return;
        }
        // Answer now, and keep the result until the store takes it.
        if (done) done(stored.status());
        if (NowMillis() >= session->expiry_ms) return;
        auto delay = std::chrono::milliseconds(std::min(2000, 50 << std::min(attempt, 6)));
        RunAfter(
            delay,
            [this, session, clock, &verifier, attempt] {
              Complete(session, clock, verifier, nullptr, attempt + 1);
            },
            [session] {
              LogWarn(
                  "shutting down before the store took a result; the session stays "
                  "processing until it expires",
                  {{"session", session->id}});
            });
      });
}

void SessionService::Run(TaskPool::Task task) { pool_->Post(std::move(task)); }

void SessionService::RunAfter(std::chrono::milliseconds delay, TaskPool::Task task,
                              TaskPool::Task dropped) {
  pool_->PostAfter(delay, std::move(task), std::move(dropped));
}

Result<Session> SessionService::AppraiseAndRecord(Session session, const Verifier& verifier) {
  auto result = AppraiseStep(
      session, AppraisalRequest{session.evidence_type, session.evidence, session.nonce}, verifier);
  if (!result.ok()) return result.status();
  session.result = std::move(*result);
  Metrics& metrics = GlobalMetrics();
  metrics.CountSession(Metrics::SessionEvent::kCompleted);
  session.state = SessionState::kComplete;
  if (auto st = store_->TransitionToComplete(session.id, *session.result); !st.ok()) return st;
  if (on_finished_) on_finished_(session);
  return session;
}

Status SessionService::RecordFailed(Session& session, std::string error) {
  session.state = SessionState::kFailed;
  session.error = std::move(error);
  if (Status st = store_->TransitionToFailed(session.id, session.error); !st.ok()) return st;
  GlobalMetrics().CountSession(Metrics::SessionEvent::kFailed);
  if (on_finished_) on_finished_(session);
  return Status::Ok();
}

Result<std::optional<Session>> SessionService::StillProcessing(std::string_view id) {
  auto session = store_->Get(id);
  if (!session.ok()) {
    if (session.status().code() == StatusCode::kNotFound) return std::optional<Session>();
    return session.status();
  }
  if (session->state != SessionState::kProcessing) return std::optional<Session>();
  return std::optional<Session>(std::move(*session));
}

Status SessionService::AbandonQueued(std::string_view session_id, int64_t deliveries) {
  auto session = StillProcessing(session_id);
  if (!session.ok() || !session->has_value()) return session.status();
  LogWarn("queued appraisal abandoned",
          {{"session", std::string(session_id)}, {"deliveries", std::to_string(deliveries)}});
  Status st = RecordFailed(**session, "appraisal abandoned: its worker stopped on each of " +
                                          std::to_string(deliveries - 1) + " attempts");
  return st.code() == StatusCode::kUnavailable ? st : Status::Ok();
}

Status SessionService::ProcessQueued(std::string_view session_id) {
  // Gone (expired or deleted) or already finished: nothing left to do.
  auto session = StillProcessing(session_id);
  if (!session.ok() || !session->has_value()) return session.status();
  const Verifier* verifier = registry_->Find((*session)->evidence_type);
  if (!verifier) return RecordFailed(**session, "no verifier for the evidence type");
  SessionStore::AppraisalStart start{std::move(**session), std::nullopt};
  // The record read here, the clock moved with the result: one round trip
  // less than the verifier reading and moving it itself.
  bool prefetched = false;
  if (attesters_) {
    std::string agent = verifier->AttesterId(
        AppraisalRequest{start.session.evidence_type, start.session.evidence, ""});
    if (!agent.empty()) {
      Result<Attester> found = attesters_->Get(agent);
      if (found.ok()) {
        start.attester = std::move(*found);
      } else if (found.status().code() != StatusCode::kNotFound) {
        return found.status();
      }
      prefetched = true;
    }
  }
  std::promise<Result<Session>> answer;
  std::future<Result<Session>> recorded = answer.get_future();
  AppraiseAndComplete(std::move(start), prefetched, *verifier,
                      [&answer](Result<Session> s) { answer.set_value(std::move(s)); });
  Result<Session> done = recorded.get();
  if (!done.ok() && done.status().code() == StatusCode::kUnavailable) return done.status();
  return Status::Ok();
}

}  // namespace attestd
