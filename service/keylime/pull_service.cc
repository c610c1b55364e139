// Keylime's pull model: the poll of one agent, its state machine, and the
// scheduler that shares the agents between instances through PollSchedule.
#include "service/keylime/pull_service.h"

#include <algorithm>
#include <cstdio>

#include "common/base64.h"
#include "common/log.h"
#include "common/random.h"
#include "common/time_util.h"
#include "service/keylime/agent_evidence.h"
#include "service/keylime/agent_pcrs.h"
#include "service/keylime/keylime_rules.h"
#include "service/keylime/pull_crypto.h"
#include "verifiers/ima/ima_appraisal.h"
#include "verifiers/tpm/evidence.h"
#include "verifiers/tpm/pcr_policy.h"
#include "verifiers/tpm/pcrblob.h"
#include "verifiers/tpm/tpm_structures.h"

namespace attestd {
namespace {

constexpr size_t kNonceChars = 20;  // Keylime's tpm_util.random_password(20)

Failure MakeFailure(std::string type, std::string reason) {
  return Failure{std::move(type), Value::MakeMap({{"reason", std::move(reason)}})};
}

bool Contains(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

// The agent's PCRs (agent_pcrs.h) as Keylime's mask parameter ("0x…").
std::string MaskOf(const VerifierAgent& agent) {
  auto bits = AgentQuoteMask(agent);
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", bits.ok() ? *bits : 0u);
  return buf;
}

// The first IMA entry to ask for: what the agent's IMA state has appraised
// already (Keylime's incremental attestation), 0 without a runtime policy or
// state. A list that restarted (reboot) comes back whole; the appraisal
// starts again then.
int64_t NextImaEntry(const VerifierAgent& agent) {
  if (agent.runtime_policy.empty() || agent.ima_state.empty()) return 0;
  auto state = ima::ParseImaState(agent.ima_state);
  return state.ok() ? static_cast<int64_t>(state->next_entry) : 0;
}

// "2.10" > "2.9": compares dotted numbers.
bool VersionLess(const std::string& a, const std::string& b) {
  int a1 = 0, a2 = 0, b1 = 0, b2 = 0;
  std::sscanf(a.c_str(), "%d.%d", &a1, &a2);
  std::sscanf(b.c_str(), "%d.%d", &b1, &b2);
  return a1 != b1 ? a1 < b1 : a2 < b2;
}

bool Active(AgentState s) {
  switch (s) {
    case AgentState::kStart:
    case AgentState::kGetQuote:
    case AgentState::kGetQuoteRetry:
    case AgentState::kProvideV:
    case AgentState::kProvideVRetry:
      return true;
    default:
      return false;
  }
}

// The data PCR's value in bank `hash_alg` of the quote's PCR blob.
std::optional<std::string> DataPcr(const std::string& pcrblob, const std::string& hash_alg) {
  const tpm::HashAlg* alg = tpm::HashAlgByName(hash_alg);
  auto blob = tpm::ParsePcrBlob(pcrblob);
  if (!alg || !blob.ok()) return std::nullopt;
  for (const tpm::PcrValue& v : blob->values) {
    if (v.hash == alg->id && v.pcr == keylime::kDataPcr) return v.digest;
  }
  return std::nullopt;
}

}  // namespace

PullService::PullService(std::shared_ptr<AgentStore> agents, std::shared_ptr<PollSchedule> schedule,
                         std::shared_ptr<SessionService> sessions,
                         std::shared_ptr<AgentClient> client,
                         std::shared_ptr<RevocationNotifier> notifier, PullOptions options)
    : agents_(std::move(agents)),
      schedule_(std::move(schedule)),
      sessions_(std::move(sessions)),
      client_(std::move(client)),
      notifier_(std::move(notifier)),
      options_(std::move(options)) {
  // A lease name of its own per process, so two instances configured with
  // the same verifier_id still never share one.
  auto token = RandomBytes(6);
  instance_ = options_.verifier_id + "#" + HexEncode(token.ok() ? *token : "");
  grace_ms_ = options_.lease_grace_ms > 0 ? options_.lease_grace_ms
                                          : std::max<int64_t>(500, options_.quote_interval_ms / 2);
}

PullService::~PullService() { Stop(); }

void PullService::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!threads_.empty()) return;
  stopping_ = false;
  stop_renewing_ = false;
  renewer_ = std::thread([this] { RenewLoop(); });
  threads_.emplace_back([this] { SchedulerLoop(); });
  threads_.emplace_back([this] { SweepLoop(); });
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.emplace_back([this] { WorkerLoop(); });
  }
}

void PullService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  room_cv_.notify_all();
  sweep_cv_.notify_all();
  // Workers hand back the agents not started yet and leave once the polls
  // under way (each bounded by the request timeout) have finished.
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  // The last polls are released: the claims need renewing no more.
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_renewing_ = true;
  }
  cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  std::lock_guard<std::mutex> lock(mu_);
  held_.clear();
}

void PullService::Track(const std::string& agent_id) {
  if (Status st = schedule_->Reschedule(agent_id, 0); !st.ok()) {
    LogWarn("pull: could not schedule an agent; the next sweep will",
            {{"agent_id", agent_id}, {"error", st.message()}});
  }
}

void PullService::Sweep() {
  auto ids = agents_->List();
  if (!ids.ok()) return;
  for (const std::string& id : *ids) {
    auto agent = agents_->Get(id);
    if (agent.ok() && !agent->push_model) (void)schedule_->Add(id, 0);
  }
}

// A thread of its own: a sweep reads every agent, which with thousands on
// Redis takes seconds, and instances started together sweep together; on
// the scheduler's thread it stopped every instance's claims meanwhile.
void PullService::SweepLoop() {
  for (;;) {
    Sweep();
    std::unique_lock<std::mutex> lock(mu_);
    if (sweep_cv_.wait_for(lock, std::chrono::milliseconds(options_.sweep_interval_ms),
                           [this] { return stopping_; })) {
      return;
    }
  }
}

void PullService::SchedulerLoop() {
  const int capacity = Capacity();
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    int free_slots = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      free_slots = capacity - static_cast<int>(held_.size());
    }
    // Claims until nothing more is due or every slot is taken; then waits
    // for half the slots to free up, or for the next tick.
    bool more_due = false;
    if (free_slots > 0) {
      // A short claim, kept alive by RenewLoop for as long as the poll runs.
      auto claimed = schedule_->Claim(instance_, grace_ms_, static_cast<size_t>(free_slots));
      if (claimed.ok() && !claimed->empty()) {
        size_t started = 0;
        {
          std::lock_guard<std::mutex> lock(mu_);
          for (auto& id : *claimed) {
            // Claimed again while held (a renewal that failed): polled once.
            if (!held_.insert(id).second) continue;
            starts_.push_back(std::move(id));
            ++started;
          }
        }
        for (size_t i = 0; i < started; ++i) work_cv_.notify_one();
        more_due = static_cast<int>(claimed->size()) == free_slots;
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    want_room_ = more_due;
    room_cv_.wait_for(lock, std::chrono::milliseconds(options_.tick_ms),
                      [this] { return stopping_ || room_; });
    room_ = false;
    want_room_ = false;
  }
}

void PullService::WorkerLoop() {
  for (;;) {
    std::function<void()> answer;
    std::string id;
    bool start = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [this] {
        return !answers_.empty() || !starts_.empty() || (stopping_ && in_flight_ == 0);
      });
      if (!answers_.empty()) {
        answer = std::move(answers_.front());
        answers_.pop_front();
      } else if (!starts_.empty()) {
        id = std::move(starts_.front());
        starts_.pop_front();
        start = !stopping_;
        if (start) {
          ++in_flight_;
        } else {
          held_.erase(id);
        }
      } else {
        return;  // stopping, and no poll is under way
      }
    }
    if (answer) {
      answer();
    } else if (start) {
      ++polls_;
      PollAsync(id, [this, id](Next next) { Finish(id, next); });
    } else {
      // Claimed but never started: handed back at once rather than left
      // until the claim runs out.
      (void)schedule_->Release(id, instance_, 0, 0);
    }
  }
}

void PullService::Post(std::function<void()> step) {
  // Notified under the lock: this runs on the client's thread, and once a
  // worker has run the step, the last poll may end and Stop return.
  std::lock_guard<std::mutex> lock(mu_);
  answers_.push_back(std::move(step));
  work_cv_.notify_one();
}

void PullService::Finish(const std::string& id, Next next) {
  {
    // Before the release, so that a renewal racing it finds the id gone
    // and does not report it lost.
    std::lock_guard<std::mutex> lock(mu_);
    held_.erase(id);
  }
  if (!next.in_ms) {
    (void)schedule_->Remove(id);
  } else {
    (void)schedule_->Release(id, instance_, *next.in_ms, *next.in_ms + grace_ms_);
  }
  bool wake_scheduler = false, last = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    last = stopping_ && in_flight_ == 0;
    // The scheduler waits for room: it claims the next batch once half the
    // slots are free, not one agent per finished poll.
    const int capacity = Capacity();
    if (want_room_ && !room_ && capacity - static_cast<int>(held_.size()) >= capacity / 2) {
      room_ = wake_scheduler = true;
    }
  }
  if (wake_scheduler) room_cv_.notify_one();
  if (last) work_cv_.notify_all();
}

// A thread of its own rather than a step of SchedulerLoop: a sweep of many
// agents there may take longer than the claims last.
void PullService::RenewLoop() {
  const auto every = std::chrono::milliseconds(std::max<int64_t>(1, grace_ms_ / 3));
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, every, [this] { return stop_renewing_; })) return;
    }
    RenewHeld();
  }
}

void PullService::RenewHeld() {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ids.assign(held_.begin(), held_.end());
  }
  if (ids.empty()) return;
  auto lost = schedule_->Renew(instance_, ids, grace_ms_);
  if (!lost.ok() || lost->empty()) return;  // unreachable: the next round tries again
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& id : *lost) {
    if (held_.count(id) == 0) continue;  // released meanwhile
    held_.erase(id);
    auto waiting = std::find(starts_.begin(), starts_.end(), id);
    if (waiting != starts_.end()) {
      starts_.erase(waiting);  // another instance has it, or it was removed
      continue;
    }
    // Under way: the poll ends as usual (Record only writes over an active
    // state) but its release is refused; the new holder polls next.
    LogWarn("pull: lost the lease of an agent during its poll (renewal late)",
            {{"agent_id", id}, {"instance", instance_}});
  }
}

void PullService::PollAsync(const std::string& agent_id, PollDone done) {
  auto agent = agents_->Get(agent_id);
  if (!agent.ok()) {
    if (agent.status().code() == StatusCode::kNotFound) return done({std::nullopt});  // deleted
    return done({Interval()});  // store unreachable: try again later
  }
  if (agent->push_model) return done({std::nullopt});
  if (!Active(agent->operational_state)) return done({Interval()});  // until reactivated
  if (agent->operational_state == AgentState::kProvideV ||
      agent->operational_state == AgentState::kProvideVRetry) {
    return ProvideVAsync(std::move(*agent), std::move(done));
  }
  QuoteAsync(std::move(*agent), std::move(done));
}

std::optional<VerifierAgent> PullService::Record(
    const std::string& agent_id, const std::function<void(VerifierAgent&)>& change) {
  auto updated = agents_->Update(agent_id, [&](VerifierAgent& a) {
    // A stop (or a failure another instance recorded) that came in during
    // the poll wins over its outcome.
    if (!Active(a.operational_state)) return Conflict("no longer polled");
    change(a);
    a.pull.verifier_id = options_.verifier_id;
    return Status::Ok();
  });
  if (!updated.ok()) return std::nullopt;
  return std::move(*updated);
}

void PullService::QuoteAsync(VerifierAgent agent, PollDone done) {
  AgentEndpoint ep{agent.ip, agent.port, agent.mtls_cert, agent.supported_version};
  auto nonce = RandomAlphanumeric(kNonceChars);
  if (!nonce.ok()) return done({Interval()});
  QuoteRequest req;
  req.nonce = *nonce;
  req.mask = MaskOf(agent);
  req.ima_ml_entry = NextImaEntry(agent);
  // The key comes with the first quote, after a retry, and whenever none is kept.
  req.partial =
      !(agent.operational_state == AgentState::kStart ||
        agent.operational_state == AgentState::kGetQuoteRetry || agent.pull.public_key.empty());
  // The answer is appraised on a worker: the client's thread only waits
  // for agents.
  auto poll = std::make_shared<PollState>(PollState{std::move(agent), *nonce, std::move(done)});
  client_->GetQuoteAsync(ep, req, [this, poll](Result<AgentQuote> quote) {
    auto answer = std::make_shared<Result<AgentQuote>>(std::move(quote));
    Post([this, poll, answer] { QuoteAnswered(*poll, std::move(*answer)); });
  });
}

void PullService::QuoteAnswered(PollState& poll, Result<AgentQuote> quote) {
  const VerifierAgent& agent = poll.agent;
  PollDone& done = poll.done;
  if (!quote.ok()) return done(NoAnswer(agent, quote.status(), false));

  std::string pubkey = quote->pubkey.empty() ? agent.pull.public_key : quote->pubkey;
  auto verdict = Appraise(agent, poll.nonce, *quote, pubkey);
  if (!verdict) return done({Interval()});  // not appraised (store down): the next poll tries again
  const std::vector<Failure>& failures = *verdict;
  int64_t now = NowMillis();
  if (!failures.empty()) {
    auto recorded = Record(agent.agent_id, [&](VerifierAgent& a) {
      a.last_received_quote_s = now / 1000;
      a.attestation_status = "FAIL";
    });
    if (!recorded) return done({Interval()});
    return done(Fail(*recorded, AgentState::kInvalidQuote, failures.front(), "revocation"));
  }
  bool provide_v = false;
  auto recorded = Record(agent.agent_id, [&](VerifierAgent& a) {
    a.last_received_quote_s = now / 1000;
    a.last_successful_attestation_s = now / 1000;
    a.attestation_status = "PASS";
    ++a.attestation_count;
    a.hash_alg = quote->hash_alg;
    a.enc_alg = quote->enc_alg;
    a.sign_alg = quote->sign_alg;
    a.pull.retries = 0;
    if (pubkey != a.pull.public_key) {  // a new key: V must go to it again
      a.pull.public_key = pubkey;
      a.pull.v_delivered = false;
    }
    provide_v = !a.v.empty() && !a.pull.v_delivered;
    a.operational_state = provide_v ? AgentState::kProvideV : AgentState::kGetQuote;
  });
  if (!recorded) return done({Interval()});
  if (provide_v) return ProvideVAsync(std::move(*recorded), std::move(done));
  done({Interval()});
}

std::optional<std::vector<Failure>> PullService::Appraise(const VerifierAgent& agent,
                                                          const std::string& nonce,
                                                          const AgentQuote& quote,
                                                          const std::string& pubkey) {
  std::vector<Failure> failures;
  if (!tpm::HashAlgByName(quote.hash_alg) || !Contains(agent.accept_tpm_hash_algs, quote.hash_alg))
    failures.push_back(MakeFailure("quote_validation.invalid_hash_alg",
                                   "TPM Quote is using an unaccepted hash algorithm"));
  else if (!Contains(agent.accept_tpm_encryption_algs, quote.enc_alg))
    failures.push_back(MakeFailure("quote_validation.invalid_enc_alg",
                                   "TPM Quote is using an unaccepted encryption algorithm"));
  else if (!Contains(agent.accept_tpm_signing_algs, quote.sign_alg))
    failures.push_back(MakeFailure("quote_validation.invalid_sign_alg",
                                   "TPM Quote is using an unaccepted signing algorithm"));
  else if (pubkey.empty())
    failures.push_back(MakeFailure("quote_validation.no_pubkey",
                                   "agent did not provide public key and none was kept"));
  if (!failures.empty()) return failures;
  auto parts = tpm::ParseKeylimeQuote(quote.quote);
  if (!parts.ok()) {
    failures.push_back(MakeFailure("quote_validation.invalid_data", parts.status().message()));
    return failures;
  }
  // The quote and its logs in one registry step, as a push attestation's;
  // the nonce is this poll's own, so no session is stored.
  AgentEvidence evidence;
  evidence.quote.agent_id = agent.agent_id;
  evidence.quote.attest = parts->attest;
  evidence.quote.signature = parts->signature;
  evidence.quote.pcrblob = parts->pcrblob;
  evidence.quote.hash_alg = quote.hash_alg;
  evidence.logs.ima_list = quote.ima_measurement_list;
  evidence.logs.ima_first_entry =
      static_cast<uint64_t>(std::max<int64_t>(0, quote.ima_measurement_list_entry));
  if (quote.mb_measurement_list) {
    auto log = Base64DecodeStd(*quote.mb_measurement_list);
    if (!log) {
      failures.push_back(
          MakeFailure("measured_boot.invalid_log", "mb_measurement_list is not base64"));
      return failures;
    }
    evidence.logs.boot_log = std::move(*log);
  }
  auto appraisal =
      sessions_->AppraiseOnce(kAgentEvidenceType, EncodeAgentEvidence(evidence), nonce);
  if (!appraisal.ok()) {
    LogWarn("pull: the quote could not be appraised now",
            {{"agent_id", agent.agent_id}, {"error", appraisal.status().message()}});
    return std::nullopt;
  }
  failures = appraisal->failures;
  if (!appraisal->is_valid && failures.empty()) {
    failures.push_back(MakeFailure("quote_validation.invalid", "the quote did not verify"));
  }
  // Keylime's binding of the agent's key to the quote: the data PCR.
  auto expected = keylime::DataPcrValue(quote.hash_alg, pubkey);
  auto got = DataPcr(parts->pcrblob, quote.hash_alg);
  if (!got) {
    failures.push_back(MakeFailure("pcr_validation.missing_pcr_16",
                                   "Data PCR 16 is missing in quote, but is required"));
  } else if (!expected.ok() || *got != *expected) {
    failures.push_back(
        Failure{"pcr_validation.invalid_pcr_16",
                Value::MakeMap({{"got", HexEncode(*got)},
                                {"expected", expected.ok() ? HexEncode(*expected) : ""}})});
  }
  return failures;
}

void PullService::ProvideVAsync(VerifierAgent agent, PollDone done) {
  if (agent.v.empty() || agent.pull.public_key.empty()) {
    auto r = Record(agent.agent_id,
                    [](VerifierAgent& a) { a.operational_state = AgentState::kGetQuote; });
    return done({Interval()});
  }
  auto v = Base64DecodeStd(agent.v);
  auto encrypted = v ? keylime::EncryptToAgent(agent.pull.public_key, *v)
                     : Result<std::string>(InvalidArgument("V is not base64"));
  if (!encrypted.ok()) {
    return done(Fail(agent, AgentState::kFailed,
                     MakeFailure("internal.no_v", encrypted.status().message()), ""));
  }
  AgentEndpoint ep{agent.ip, agent.port, agent.mtls_cert, agent.supported_version};
  auto poll = std::make_shared<PollState>(PollState{std::move(agent), "", std::move(done)});
  client_->PostVKeyAsync(ep, Base64Encode(*encrypted), [this, poll](Status st) {
    Post([this, poll, st] { VDelivered(*poll, st); });
  });
}

void PullService::VDelivered(PollState& poll, const Status& st) {
  if (!st.ok()) return poll.done(NoAnswer(poll.agent, st, true));
  Record(poll.agent.agent_id, [](VerifierAgent& a) {
    a.pull.v_delivered = true;
    a.pull.retries = 0;
    a.operational_state = AgentState::kGetQuote;
  });
  LogInfo("pull: V key delivered", {{"agent_id", poll.agent.agent_id}});
  poll.done({Interval()});
}

PullService::Next PullService::NoAnswer(const VerifierAgent& agent, const Status& status,
                                        bool v_phase) {
  if (status.code() == StatusCode::kConflict) return Negotiate(agent, v_phase);
  if (status.code() != StatusCode::kUnavailable) {
    return Fail(agent, AgentState::kFailed,
                MakeFailure(v_phase ? "internal.no_v" : "internal.no_quote", status.message()), "");
  }
  if (agent.pull.retries >= options_.max_retries) {
    // Keylime tells the others only about an agent that was good before.
    bool notify = v_phase || agent.attestation_count > 0;
    return Fail(agent, AgentState::kFailed,
                MakeFailure(v_phase ? "internal.not_reachable_v" : "internal.not_reachable",
                            "agent was not reachable from verifier"),
                notify ? "comm_error" : "");
  }
  int64_t tries = agent.pull.retries + 1;
  auto r = Record(agent.agent_id, [&](VerifierAgent& a) {
    a.pull.retries = tries;
    a.operational_state = v_phase ? AgentState::kProvideVRetry : AgentState::kGetQuoteRetry;
  });
  double wait_s = RetryTime(options_.exponential_backoff, options_.retry_interval_s, tries);
  LogInfo("pull: agent not reachable; retrying", {{"agent_id", agent.agent_id},
                                                  {"tries", std::to_string(tries)},
                                                  {"error", status.message()}});
  return {static_cast<int64_t>(wait_s * 1000)};
}

PullService::Next PullService::Negotiate(const VerifierAgent& agent, bool v_phase) {
  AgentEndpoint ep{agent.ip, agent.port, agent.mtls_cert, agent.supported_version};
  auto theirs = client_->Versions(ep);
  if (!theirs.ok())
    return NoAnswer(agent, Status(StatusCode::kUnavailable, "no /version"), v_phase);
  std::string best;
  for (const std::string& v : *theirs) {
    if (Contains(options_.api_versions, v) && (best.empty() || VersionLess(best, v))) best = v;
  }
  if (best.empty() || best == agent.supported_version) {
    return Fail(agent, AgentState::kFailed,
                MakeFailure("internal.version_not_supported", "Agent API version not supported"),
                "");
  }
  Record(agent.agent_id, [&](VerifierAgent& a) { a.supported_version = best; });
  LogInfo("pull: agent API version negotiated", {{"agent_id", agent.agent_id}, {"version", best}});
  return {0};
}

PullService::Next PullService::Fail(const VerifierAgent& agent, AgentState state,
                                    const Failure& failure, const std::string& notify_type) {
  auto recorded = Record(agent.agent_id, [&](VerifierAgent& a) {
    a.operational_state = state;
    a.severity_level = 7;  // attestd's failures are all of Keylime's highest severity
    a.last_event_id = failure.type;
    a.pull.retries = 0;
  });
  if (!recorded) return {Interval()};
  LogWarn("pull: agent failed", {{"agent_id", agent.agent_id},
                                 {"state", std::to_string(static_cast<int>(state))},
                                 {"event", failure.type}});
  if (notifier_ && !notify_type.empty()) notifier_->Notify(*recorded, notify_type, &failure);
  return {Interval()};
}

}  // namespace attestd
