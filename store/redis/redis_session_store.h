// RedisSessionStore: sessions as Redis hashes that Redis itself expires.
//
// One key per session, `attestd:session:{<id>}` (the braces are a cluster
// hash tag, so every operation touches one slot), a HASH with the fields
// nonce (raw bytes), state, expiry_ms, evidence_type, evidence, agent_id, result
// (EncodeSessionResult) and error. The key's own expiry is set with PEXPIREAT to exactly expiry_ms,
// so the stored `expiry_ms` is the instant Redis forgets the session and no sweeper is needed.
// Every state change is one Lua script, hence atomic.
//
// Keeps every SessionStore promise; not reaching Redis is kUnavailable.
#pragma once

#include <memory>
#include <string>

#include "store/redis/redis_pool.h"
#include "store/session_store.h"

namespace attestd {

class RedisSessionStore : public SessionStore {
 public:
  // `max_sessions` > 0 caps the live sessions of every instance sharing
  // this Redis: they are also indexed in the sorted set kLiveIndexKey
  // (member id, score expiry_ms), pruned and counted by the create script,
  // and Create answers SessionCapReached() at the cap. A session's index
  // entry keeps its first expiry (a session kept longer for its result
  // counts until then). With a cap, Create and Delete touch two keys in
  // different hash slots: on a Redis Cluster, run without a cap (0).
  explicit RedisSessionStore(std::shared_ptr<RedisPool> pool, size_t max_sessions = 0);
  static const char kLiveIndexKey[];

  // The Redis key of a session (for tests and operators).
  static std::string KeyFor(std::string_view id);

  Status Create(const Session& session) override;
  Result<Session> Get(std::string_view id) override;
  void CreateAsync(const Session& session, StatusCallback done) override;
  void GetAsync(std::string_view id, SessionCallback done) override;
  // One script each (one round trip) when `attesters` is a
  // RedisAttesterDirectory: the session's key and the attester's. (Two keys
  // of different hash slots: on a Redis Cluster these would be refused.)
  void BeginAppraisalAsync(std::string_view id, std::string_view evidence_type,
                           std::string_view evidence, int64_t min_expiry_ms,
                           AttesterDirectory* attesters, std::string_view agent_id,
                           StartCallback done) override;
  void CompleteAppraisalAsync(std::string_view id, const SessionResult& result,
                              AttesterDirectory* attesters, const std::optional<ClockCommit>& clock,
                              CompleteCallback done) override;
  Status Delete(std::string_view id) override;
  Result<Session> TransitionToProcessing(std::string_view id, std::string_view evidence_type,
                                         std::string_view evidence, int64_t min_expiry_ms) override;
  Status TransitionToComplete(std::string_view id, const SessionResult& result) override;
  Status TransitionToFailed(std::string_view id, std::string_view error) override;
  Status Ping() override;
  // SET of the key attestd:readyz (expires after 10 s).
  Status ProbeWrite() override;

 private:
  Status Finish(std::string_view id, SessionState to, std::string_view field,
                std::string_view text);

  struct CreateCall;
  CreateCall MakeCreateCall(const Session& session, const std::string& key,
                            const std::string& expiry, const std::string& now,
                            const std::string& cap) const;

  std::shared_ptr<RedisPool> pool_;
  const size_t max_sessions_;
};

}  // namespace attestd
