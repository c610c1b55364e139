#include "service/session_service.h"

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
      signer_(std::move(signer)) {}

namespace {
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

Result<SubmitOutcome> SessionService::Submit(std::string_view id, std::string_view media_type,
                                             std::string_view evidence,
                                             const SubmitOptions& options) {
  const Verifier* verifier = registry_->Find(media_type);
  if (!verifier) {
    return Status(StatusCode::kUnsupportedMediaType,
                  "no verifier for media type '" + std::string(media_type) + "'");
  }
  auto session = store_->TransitionToProcessing(id, media_type, evidence,
                                                NowMillis() + options_.result_retention_ms);
  if (!session.ok()) return session.status();

  if (verifier->IsCheap() && !options.respond_async) {
    auto done = AppraiseAndRecord(std::move(*session), *verifier);
    if (!done.ok()) return done.status();
    return SubmitOutcome{std::move(*done), true};
  }
  if (auto st = queue_->Enqueue(id); !st.ok()) {
    // Without a queue entry nobody would ever finish this session: say so
    // rather than leave it processing until it expires.
    (void)store_->TransitionToFailed(id, "could not queue the appraisal");
    return st;
  }
  if (options.wait_ms && *options.wait_ms > 0 && !options.respond_async) {
    auto waited =
        WaitWhileProcessing(session->id, std::min(*options.wait_ms, options_.max_wait_ms));
    if (waited.ok()) {
      bool finished = waited->state != SessionState::kProcessing;
      return SubmitOutcome{std::move(*waited), finished};
    }
  }
  return SubmitOutcome{std::move(*session), false};
}

Result<Session> SessionService::AppraiseAndRecord(Session session, const Verifier& verifier) {
  auto start = std::chrono::steady_clock::now();
  auto appraisal = verifier.Appraise(session.evidence, session.evidence_type, session.nonce);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Metrics& metrics = GlobalMetrics();
  if (!appraisal.ok()) {
    metrics.ObserveAppraisal(session.evidence_type, Metrics::Outcome::kError, secs);
    LogWarn("appraisal failed", {{"session", session.id}, {"error", appraisal.status().message()}});
    // The session document shows this: a server error's text (a store
    // address, a library message) stays in the log line above.
    StatusCode code = appraisal.status().code();
    bool server_error = code == StatusCode::kUnavailable || code == StatusCode::kInternal;
    Status st =
        RecordFailed(session, server_error ? std::string("could not appraise the evidence")
                                           : "could not appraise: " + appraisal.status().message());
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
  session.result = SessionResult{std::move(*appraisal), std::move(ear)};
  metrics.CountSession(Metrics::SessionEvent::kCompleted);
  session.state = SessionState::kComplete;
  if (auto st = store_->TransitionToComplete(session.id, *session.result); !st.ok()) return st;
  if (on_finished_) on_finished_(session);
  return session;
}

Result<Session> SessionService::WaitWhileProcessing(const std::string& id, int64_t wait_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  auto pause = std::chrono::milliseconds(2);
  for (;;) {
    auto s = store_->Get(id);
    if (!s.ok() || s->state != SessionState::kProcessing) return s;
    if (std::chrono::steady_clock::now() + pause >= deadline) return s;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
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
  auto done = AppraiseAndRecord(std::move(**session), *verifier);
  if (!done.ok() && done.status().code() == StatusCode::kUnavailable) return done.status();
  return Status::Ok();
}

}  // namespace attestd
