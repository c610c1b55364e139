#include "store/redis/redis_session_store.h"

#include <charconv>

#include "common/metrics.h"
#include "common/time_util.h"
#include "store/redis/redis_attester_directory.h"

namespace attestd {
namespace {

// The transition scripts answer a tagged array: {'ok', ...},
// {'missing'} or {'conflict', <current state>}, so no outcome has to be
// guessed from error text.

// KEYS[1] session; ARGV[1] expiry_ms; ARGV[2..] field, value, ...
const RedisScript kCreate(R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
)lua");

// With --max-sessions: the same, counting live sessions in a sorted set
// (member id, score expiry_ms) shared by every instance. Expired entries
// are pruned first; at the cap nothing is written and -1 is answered.
// KEYS[1] session, KEYS[2] index; ARGV[1] expiry_ms, ARGV[2] now_ms,
// ARGV[3] cap, ARGV[4] id, ARGV[5..] field, value, ...
const RedisScript kCreateCapped(R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return -1 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[4])
return 1
)lua");

// KEYS[1] session, KEYS[2] index; ARGV[1] id.
const RedisScript kDeleteCapped(R"lua(
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
)lua");

// The waiting → processing step both scripts below begin with: KEYS[1]
// session; ARGV evidence_type, evidence, min_expiry_ms. expiry_ms is
// compared as a Lua number (a double: exact for epoch milliseconds) but
// written back as the caller's decimal text.
constexpr char kToProcessingLua[] = R"lua(
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing'} end
if state ~= 'waiting' then return {'conflict', state} end
redis.call('HSET', KEYS[1], 'state', 'processing', 'evidence_type', ARGV[1], 'evidence', ARGV[2])
local expiry = tonumber(redis.call('HGET', KEYS[1], 'expiry_ms'))
if expiry == nil or expiry < tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'expiry_ms', ARGV[3])
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
)lua";

const RedisScript kToProcessing(std::string(kToProcessingLua) + R"lua(
return {'ok', redis.call('HGETALL', KEYS[1])}
)lua");

// kToProcessing that also reads the attester, and answers only what the
// caller lacks (not the evidence it just sent): KEYS[1] session, KEYS[2]
// (optional) attester; ARGV as kToProcessing. Answers {'ok', {nonce,
// expiry_ms, agent_id}, attester HMGET or false}.
const RedisScript& BeginScript() {
  static const RedisScript script(std::string(kToProcessingLua) + R"lua(
local attester = false
if KEYS[2] then
  attester = redis.call('HMGET', KEYS[2], 'ak_tpm', 'tpm_policy', 'trusted', 'clock',
                        'reset_count', 'restart_count')
end
return {'ok', redis.call('HMGET', KEYS[1], 'nonce', 'expiry_ms', 'agent_id'), attester}
)lua");
  return script;
}

// processing → complete, moving the attester's clock baseline in the same
// step: KEYS[1] session, KEYS[2] (optional) attester; ARGV result, and with
// KEYS[2] clock, reset_count, restart_count. {'clock'}: the baseline may
// not move (or the attester is gone); nothing was written.
const RedisScript& CompleteScript() {
  static const RedisScript script(RedisAttesterDirectory::ClockAdvancesLua() + R"lua(
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing'} end
if state ~= 'processing' then return {'conflict', state} end
if KEYS[2] then
  if redis.call('EXISTS', KEYS[2]) == 0 then return {'clock'} end
  if not clock_advances(KEYS[2], ARGV[2], ARGV[3], ARGV[4]) then return {'clock'} end
end
redis.call('HSET', KEYS[1], 'state', 'complete', 'result', ARGV[1])
return {'ok'}
)lua");
  return script;
}

// KEYS[1] session; ARGV new state, field, text. HSET keeps the key's TTL.
const RedisScript kFinish(R"lua(
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing'} end
if state ~= 'processing' then return {'conflict', state} end
redis.call('HSET', KEYS[1], 'state', ARGV[1], ARGV[2], ARGV[3])
return {'ok'}
)lua");

Status ScriptOutcome(const RedisValue& answer) {
  std::string_view tag = answer[0].str();
  if (tag == "ok") return Status::Ok();
  if (tag == "missing") return NotFound("no such session");
  if (tag == "conflict") return Conflict("session is " + answer[1].to_string());
  return Internal("redis: unexpected answer from a session script");
}

bool ParseInt64(std::string_view text, int64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

// A session from HGETALL's flat field/value list.
Result<Session> SessionFromHash(std::string_view id, const RedisValue& fields) {
  Session s;
  s.id = std::string(id);
  bool has_state = false;
  bool has_expiry = false;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    std::string_view name = fields[i].str();
    RedisValue value = fields[i + 1];
    if (name == "nonce") {
      s.nonce = value.to_string();
    } else if (name == "state") {
      std::optional<SessionState> state = ParseSessionState(value.str());
      if (!state) return Internal("stored session has an unknown state");
      s.state = *state;
      has_state = true;
    } else if (name == "expiry_ms") {
      has_expiry = ParseInt64(value.str(), &s.expiry_ms);
    } else if (name == "evidence_type") {
      s.evidence_type = value.to_string();
    } else if (name == "evidence") {
      s.evidence = value.to_string();
    } else if (name == "result") {
      auto result = DecodeSessionResult(value.str());
      if (!result.ok()) return result.status();
      s.result = std::move(*result);
    } else if (name == "agent_id") {
      s.agent_id = value.to_string();
    } else if (name == "error") {
      s.error = value.to_string();
    }
  }
  if (!has_state || !has_expiry) return Internal("stored session lacks state or expiry_ms");
  return s;
}

// Optional fields are stored only when set: a new session has none of them.
void AppendIfSet(RedisArgs& args, std::string_view field, const std::string& value) {
  if (value.empty()) return;
  args.push_back(field);
  args.push_back(value);
}

// kCreate's KEYS and ARGV; the views point into `session` and `expiry`.
// (A new session has no result: one is only ever written by kFinish.)
RedisArgs CreateArgs(const Session& session, const std::string& expiry) {
  RedisArgs args{expiry,      "nonce", session.nonce, "state", SessionStateName(session.state),
                 "expiry_ms", expiry};
  AppendIfSet(args, "evidence_type", session.evidence_type);
  AppendIfSet(args, "evidence", session.evidence);
  AppendIfSet(args, "agent_id", session.agent_id);
  AppendIfSet(args, "error", session.error);
  return args;
}

Status CreateOutcome(const Result<RedisReply>& created) {
  if (!created.ok()) return created.status();
  if (created->integer() == -1) {
    GlobalMetrics().CountSession(Metrics::SessionEvent::kRefused);
    return SessionCapReached();
  }
  if (created->integer() != 1) return Conflict("session id exists");
  return Status::Ok();
}

Result<Session> GetOutcome(std::string_view id, const Result<RedisReply>& fields) {
  if (!fields.ok()) return fields.status();
  if (fields->size() == 0) return NotFound("no such session");
  return SessionFromHash(id, *fields);
}

}  // namespace

RedisSessionStore::RedisSessionStore(std::shared_ptr<RedisPool> pool, size_t max_sessions)
    : pool_(std::move(pool)), max_sessions_(max_sessions) {}

std::string RedisSessionStore::KeyFor(std::string_view id) {
  return "attestd:session:{" + std::string(id) + "}";
}

const char RedisSessionStore::kLiveIndexKey[] = "attestd:sessions:live";

// The create script and its KEYS and ARGV (views into the strings given).
struct RedisSessionStore::CreateCall {
  const RedisScript* script;
  RedisArgs keys, args;
};

RedisSessionStore::CreateCall RedisSessionStore::MakeCreateCall(const Session& session,
                                                                const std::string& key,
                                                                const std::string& expiry,
                                                                const std::string& now,
                                                                const std::string& cap) const {
  RedisArgs args = CreateArgs(session, expiry);
  if (max_sessions_ == 0) return {&kCreate, {key}, std::move(args)};
  RedisArgs capped{expiry, now, cap, session.id};
  capped.insert(capped.end(), args.begin() + 1, args.end());  // the fields, after expiry
  return {&kCreateCapped, {key, kLiveIndexKey}, std::move(capped)};
}

Status RedisSessionStore::Create(const Session& session) {
  std::string key = KeyFor(session.id);
  std::string expiry = std::to_string(session.expiry_ms);
  std::string now = std::to_string(NowMillis());
  std::string cap = std::to_string(max_sessions_);
  CreateCall call = MakeCreateCall(session, key, expiry, now, cap);
  return CreateOutcome(pool_->Eval(*call.script, call.keys, call.args));
}

void RedisSessionStore::CreateAsync(const Session& session, StatusCallback done) {
  std::string key = KeyFor(session.id);
  std::string expiry = std::to_string(session.expiry_ms);
  std::string now = std::to_string(NowMillis());
  std::string cap = std::to_string(max_sessions_);
  CreateCall call = MakeCreateCall(session, key, expiry, now, cap);
  pool_->EvalAsync(
      *call.script, call.keys, call.args,
      [done = std::move(done)](Result<RedisReply> created) { done(CreateOutcome(created)); });
}

Result<Session> RedisSessionStore::Get(std::string_view id) {
  std::string key = KeyFor(id);
  return GetOutcome(id, pool_->Command({"HGETALL", key}));
}

void RedisSessionStore::GetAsync(std::string_view id, SessionCallback done) {
  std::string key = KeyFor(id);
  pool_->CommandAsync({"HGETALL", key},
                      [id = std::string(id), done = std::move(done)](Result<RedisReply> fields) {
                        done(GetOutcome(id, fields));
                      });
}

Status RedisSessionStore::Delete(std::string_view id) {
  std::string key = KeyFor(id);
  if (max_sessions_ > 0) return pool_->Eval(kDeleteCapped, {key, kLiveIndexKey}, {id}).status();
  Result<RedisReply> deleted = pool_->Command({"DEL", key});
  return deleted.status();
}

Result<Session> RedisSessionStore::TransitionToProcessing(std::string_view id,
                                                          std::string_view evidence_type,
                                                          std::string_view evidence,
                                                          int64_t min_expiry_ms) {
  std::string key = KeyFor(id);
  std::string min_expiry = std::to_string(min_expiry_ms);
  Result<RedisReply> answer =
      pool_->Eval(kToProcessing, {key}, {evidence_type, evidence, min_expiry});
  if (!answer.ok()) return answer.status();
  if (Status outcome = ScriptOutcome(*answer); !outcome.ok()) return outcome;
  return SessionFromHash(id, (*answer)[1]);
}

namespace {

// The session of BeginScript's answer: what it sent plus what Redis held.
Result<SessionStore::AppraisalStart> StartOutcome(std::string_view id, std::string_view type,
                                                  std::string_view evidence, bool read_attester,
                                                  const Result<RedisReply>& answer) {
  if (!answer.ok()) return answer.status();
  if (Status outcome = ScriptOutcome(*answer); !outcome.ok()) return outcome;
  RedisValue fields = (*answer)[1];
  if (fields.size() != 3) return Internal("redis: unexpected answer from a session script");
  SessionStore::AppraisalStart start;
  Session& s = start.session;
  s.id = std::string(id);
  s.state = SessionState::kProcessing;
  s.nonce = fields[0].to_string();
  if (!ParseInt64(fields[1].str(), &s.expiry_ms)) return Internal("stored session lacks expiry_ms");
  s.agent_id = fields[2].to_string();
  s.evidence_type = std::string(type);
  s.evidence = std::string(evidence);
  if (read_attester) {
    Result<Attester> attester = RedisAttesterDirectory::FromFields((*answer)[2]);
    if (attester.ok()) {
      start.attester = std::move(*attester);
    } else if (attester.status().code() != StatusCode::kNotFound) {
      return attester.status();
    }
  }
  return start;
}

}  // namespace

void RedisSessionStore::BeginAppraisalAsync(std::string_view id, std::string_view evidence_type,
                                            std::string_view evidence, int64_t min_expiry_ms,
                                            AttesterDirectory* attesters, std::string_view agent_id,
                                            StartCallback done) {
  bool redis_directory = dynamic_cast<RedisAttesterDirectory*>(attesters) != nullptr;
  if (attesters && !redis_directory) {
    return SessionStore::BeginAppraisalAsync(id, evidence_type, evidence, min_expiry_ms, attesters,
                                             agent_id, std::move(done));
  }
  bool read_attester = redis_directory && !agent_id.empty();
  std::string key = KeyFor(id);
  std::string attester_key = read_attester ? RedisAttesterDirectory::KeyFor(agent_id) : "";
  std::string min_expiry = std::to_string(min_expiry_ms);
  RedisArgs keys{key};
  if (read_attester) keys.push_back(attester_key);
  // The callback needs the evidence again: one copy, moved in.
  pool_->EvalAsync(
      BeginScript(), keys, {evidence_type, evidence, min_expiry},
      [id = std::string(id), type = std::string(evidence_type), evidence = std::string(evidence),
       read_attester, done = std::move(done)](Result<RedisReply> answer) mutable {
        done(StartOutcome(id, type, evidence, read_attester, answer));
      });
}

void RedisSessionStore::CompleteAppraisalAsync(std::string_view id, const SessionResult& result,
                                               AttesterDirectory* attesters,
                                               const std::optional<ClockCommit>& clock,
                                               CompleteCallback done) {
  bool redis_directory = dynamic_cast<RedisAttesterDirectory*>(attesters) != nullptr;
  if (clock && !redis_directory) {
    return SessionStore::CompleteAppraisalAsync(id, result, attesters, clock, std::move(done));
  }
  std::string key = KeyFor(id);
  std::string encoded = EncodeSessionResult(result);
  RedisArgs keys{key};
  RedisArgs args{encoded};
  std::string attester_key, c, reset, restart;
  if (clock) {
    attester_key = RedisAttesterDirectory::KeyFor(clock->agent_id);
    c = std::to_string(clock->observed.clock);
    reset = std::to_string(clock->observed.reset_count);
    restart = std::to_string(clock->observed.restart_count);
    keys.push_back(attester_key);
    args.insert(args.end(), {c, reset, restart});
  }
  pool_->EvalAsync(CompleteScript(), keys, args,
                   [done = std::move(done)](Result<RedisReply> answer) {
                     if (!answer.ok()) return done(answer.status());
                     if ((*answer)[0].str() == "clock") return done(false);
                     Status outcome = ScriptOutcome(*answer);
                     if (!outcome.ok()) return done(outcome);
                     done(true);
                   });
}

Status RedisSessionStore::Finish(std::string_view id, SessionState to, std::string_view field,
                                 std::string_view text) {
  std::string key = KeyFor(id);
  Result<RedisReply> answer = pool_->Eval(kFinish, {key}, {SessionStateName(to), field, text});
  if (!answer.ok()) return answer.status();
  return ScriptOutcome(*answer);
}

Status RedisSessionStore::TransitionToComplete(std::string_view id, const SessionResult& result) {
  return Finish(id, SessionState::kComplete, "result", EncodeSessionResult(result));
}

Status RedisSessionStore::TransitionToFailed(std::string_view id, std::string_view error) {
  return Finish(id, SessionState::kFailed, "error", error);
}

Status RedisSessionStore::Ping() { return pool_->Ping(); }

Status RedisSessionStore::ProbeWrite() {
  // A small key that expires by itself; every instance writes the same one.
  return pool_->Command({"SET", "attestd:readyz", "1", "PX", "10000"}).status();
}

}  // namespace attestd
