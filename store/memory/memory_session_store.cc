#include "store/memory/memory_session_store.h"

#include "common/metrics.h"
#include "common/time_util.h"

namespace attestd {

Session* MemorySessionStore::FindLive(std::string_view id, int64_t now) {
  auto it = sessions_.find(std::string(id));
  if (it == sessions_.end() || it->second.expiry_ms <= now) return nullptr;
  return &it->second;
}

void MemorySessionStore::EraseLocked(const std::string& id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  auto [lo, hi] = by_expiry_.equal_range(it->second.expiry_ms);
  for (auto e = lo; e != hi; ++e) {
    if (e->second == id) {
      by_expiry_.erase(e);
      break;
    }
  }
  sessions_.erase(it);
}

void MemorySessionStore::SetExpiryLocked(Session& s, int64_t expiry_ms) {
  auto [lo, hi] = by_expiry_.equal_range(s.expiry_ms);
  for (auto e = lo; e != hi; ++e) {
    if (e->second == s.id) {
      by_expiry_.erase(e);
      break;
    }
  }
  s.expiry_ms = expiry_ms;
  by_expiry_.emplace(expiry_ms, s.id);
}

void MemorySessionStore::EvictExpiredLocked(int64_t now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    GlobalMetrics().CountSession(Metrics::SessionEvent::kExpired);
    sessions_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
}

Status MemorySessionStore::Create(const Session& session) {
  std::lock_guard lock(mu_);
  int64_t now = NowMillis();
  EvictExpiredLocked(now);
  if (sessions_.count(session.id)) return Conflict("session id exists");
  if (max_sessions_ > 0 && sessions_.size() >= max_sessions_) {
    GlobalMetrics().CountSession(Metrics::SessionEvent::kRefused);
    return SessionCapReached();
  }
  sessions_.emplace(session.id, session);
  by_expiry_.emplace(session.expiry_ms, session.id);
  return Status::Ok();
}

Result<Session> MemorySessionStore::Get(std::string_view id) {
  std::lock_guard lock(mu_);
  Session* s = FindLive(id, NowMillis());
  if (!s) return NotFound("no such session");
  return *s;
}

Status MemorySessionStore::Delete(std::string_view id) {
  std::lock_guard lock(mu_);
  EraseLocked(std::string(id));
  return Status::Ok();
}

Result<Session> MemorySessionStore::TransitionToProcessing(std::string_view id,
                                                           std::string_view evidence_type,
                                                           std::string_view evidence,
                                                           int64_t min_expiry_ms) {
  std::lock_guard lock(mu_);
  Session* s = FindLive(id, NowMillis());
  if (!s) return NotFound("no such session");
  if (s->state != SessionState::kWaiting) {
    return Conflict(std::string("session is ") + SessionStateName(s->state));
  }
  s->state = SessionState::kProcessing;
  s->evidence_type = std::string(evidence_type);
  s->evidence = std::string(evidence);
  if (s->expiry_ms < min_expiry_ms) SetExpiryLocked(*s, min_expiry_ms);
  return *s;
}

Result<Session*> MemorySessionStore::ProcessingLocked(std::string_view id) {
  Session* s = FindLive(id, NowMillis());
  if (!s) return NotFound("no such session");
  if (s->state != SessionState::kProcessing) {
    return Conflict(std::string("session is ") + SessionStateName(s->state));
  }
  return s;
}

Status MemorySessionStore::TransitionToComplete(std::string_view id, const SessionResult& result) {
  std::lock_guard lock(mu_);
  auto s = ProcessingLocked(id);
  if (!s.ok()) return s.status();
  (*s)->state = SessionState::kComplete;
  (*s)->result = result;
  return Status::Ok();
}

Status MemorySessionStore::TransitionToFailed(std::string_view id, std::string_view error) {
  std::lock_guard lock(mu_);
  auto s = ProcessingLocked(id);
  if (!s.ok()) return s.status();
  (*s)->state = SessionState::kFailed;
  (*s)->error = std::string(error);
  return Status::Ok();
}

size_t MemorySessionStore::SizeForTest() {
  std::lock_guard lock(mu_);
  EvictExpiredLocked(NowMillis());
  return sessions_.size();
}

}  // namespace attestd
