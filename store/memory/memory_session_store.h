// In-memory SessionStore: the embedded default and the unit-test store.
//
// Expired sessions are invisible at once and their memory is reclaimed by the
// next write (an expiry-ordered index), so no sweeper thread is needed and
// memory stays bounded by the sessions alive within one TTL.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "store/session_store.h"

namespace attestd {

class MemorySessionStore : public SessionStore {
 public:
  // At most `max_sessions` live sessions (0: no cap): Create answers
  // SessionCapReached() beyond, and never evicts a live session to make room.
  explicit MemorySessionStore(size_t max_sessions = 0) : max_sessions_(max_sessions) {}

  Status Create(const Session& session) override;
  Result<Session> Get(std::string_view id) override;
  Status Delete(std::string_view id) override;
  Result<Session> TransitionToProcessing(std::string_view id, std::string_view evidence_type,
                                         std::string_view evidence, int64_t min_expiry_ms) override;
  Status TransitionToComplete(std::string_view id, const SessionResult& result) override;
  Status TransitionToFailed(std::string_view id, std::string_view error) override;
  Status Ping() override { return Status::Ok(); }

  size_t SizeForTest();

 private:
  // Requires mu_. The live session with this id, or nullptr.
  Session* FindLive(std::string_view id, int64_t now);
  void EraseLocked(const std::string& id);
  void SetExpiryLocked(Session& s, int64_t expiry_ms);
  void EvictExpiredLocked(int64_t now);
  // The live session `id` if it is processing (kNotFound, kConflict otherwise).
  Result<Session*> ProcessingLocked(std::string_view id);

  const size_t max_sessions_;
  std::mutex mu_;
  std::unordered_map<std::string, Session> sessions_;
  std::multimap<int64_t, std::string> by_expiry_;
};

}  // namespace attestd
