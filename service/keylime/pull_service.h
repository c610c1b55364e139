// PullService: Keylime's pull model. The verifier contacts each pull agent
// (push_model false) over mTLS, takes a quote, appraises it with the
// session engine's registry like every other attestation, delivers the V
// key half after the first good quote, and quotes again every
// quote_interval.
//
// Promises:
// - Keylime's operational states and codes (store/agent_store.h): START →
//   GET_QUOTE (→ PROVIDE_V → GET_QUOTE) every interval; an agent that does
//   not answer is GET_QUOTE_RETRY / PROVIDE_V_RETRY, retried after
//   RetryTime(exponential_backoff, retry_interval, retries) up to
//   max_retries, then FAILED; a quote that does not pass is INVALID_QUOTE
//   (with severity_level and last_event_id) and sends the revocation
//   notifications. FAILED, INVALID_QUOTE and stopped (TENANT_FAILED)
//   agents are not contacted until reactivated.
// - Stop, reactivate and delete take effect at the next poll: every poll
//   starts from the stored record, and a poll's outcome is not written over
//   a stop that came in meanwhile.
// - Scheduling goes through the store's PollSchedule: one instance polls an
//   agent at a time, keeps it while it lives (its lease outlasts the next
//   due time by lease_grace), and another instance takes it over within
//   lease_grace of the due time once it dies. A poll under way holds a
//   claim of lease_grace renewed every lease_grace / 3, however long the
//   poll: an instance killed mid-poll frees the agent within lease_grace
//   of its death. The agent's reported verifier_id is the instance that
//   polled it last.
// - Up to max_polls agents are polled at once; a poll waiting for its
//   agent holds no thread (the client answers through a callback), and
//   `threads` workers start polls and appraise answers, answers first.
// - Appraisal: the quote's nonce is the poll's own (20 alphanumeric
//   characters, as Keylime), checked in the same call
//   (SessionService::AppraiseOnce, no session stored), the evidence
//   kAgentEvidenceType (quote and logs); the data PCR (16) must hold the
//   agent's public key (Keylime's binding), and the quote's algorithms
//   must be among the agent's accepted ones.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/appraisal.h"
#include "service/keylime/agent_client.h"
#include "service/keylime/revocation_notifier.h"
#include "service/session_service.h"
#include "store/agent_store.h"
#include "store/poll_schedule.h"

namespace attestd {

struct PullOptions {
  std::string verifier_id = "default";  // reported as the agents' verifier_id
  int64_t quote_interval_ms = 2000;
  int max_retries = 5;
  double retry_interval_s = 2.0;
  bool exponential_backoff = true;
  // Threads that appraise agents' answers; polls waiting for an agent
  // hold none.
  int threads = 8;
  int max_polls = 1000;                // agents polled at once (claimed, waiting or under way)
  int64_t request_timeout_ms = 10000;  // the AgentClient's; bounds one poll
  int64_t tick_ms = 50;                // how often due agents are claimed
  // How long a lease outlasts the next due time, and how long the claim of
  // a poll under way lasts (renewed every third of it); 0: half the quote
  // interval, at least 500 ms.
  int64_t lease_grace_ms = 0;
  int64_t sweep_interval_ms = 30000;  // how often every pull agent is made sure to be scheduled
  // The verifier's API versions, oldest first (for negotiation with /version).
  std::vector<std::string> api_versions;
};

class PullService {
 public:
  PullService(std::shared_ptr<AgentStore> agents, std::shared_ptr<PollSchedule> schedule,
              std::shared_ptr<SessionService> sessions, std::shared_ptr<AgentClient> client,
              std::shared_ptr<RevocationNotifier> notifier, PullOptions options);
  ~PullService();

  // Starts the scheduler, renewal and worker threads.
  void Start();
  // Hands back the agents claimed but not started, finishes the polls
  // under way (each bounded by the agent request timeout) and stops.
  void Stop();

  // Polls the agent at the next tick (enrolment, reactivation).
  void Track(const std::string& agent_id);

  // The name this instance holds leases under.
  const std::string& instance() const { return instance_; }
  int64_t polls() const { return polls_.load(); }

 private:
  struct Next {
    std::optional<int64_t> in_ms;  // nullopt: drop from the schedule
  };
  // A poll's outcome goes to its PollDone, exactly once.
  using PollDone = std::function<void(Next)>;
  // A poll under way while the agent answers.
  struct PollState {
    VerifierAgent agent;
    std::string nonce;
    PollDone done;
  };
  void SchedulerLoop();
  void WorkerLoop();
  // Queues a poll's next step for a worker.
  void Post(std::function<void()> step);
  // Releases (or removes) the agent after its poll.
  void Finish(const std::string& id, Next next);
  int Capacity() const { return std::max(1, options_.max_polls); }
  // Keeps the short claims of this instance's agents (waiting or being
  // polled) alive while it lives, so that they outlast no poll and a dead
  // instance's agents are free within grace_ms_.
  void RenewLoop();
  void RenewHeld();
  void SweepLoop();
  void Sweep();
  // The steps of one poll: the stored record decides quote or V; the
  // agent's answers come back through Post.
  void PollAsync(const std::string& agent_id, PollDone done);
  void QuoteAsync(VerifierAgent agent, PollDone done);
  void QuoteAnswered(PollState& poll, Result<AgentQuote> quote);
  void ProvideVAsync(VerifierAgent agent, PollDone done);
  void VDelivered(PollState& poll, const Status& st);
  // No usable answer to a request of `phase` (quote or V).
  Next NoAnswer(const VerifierAgent& agent, const Status& status, bool v_phase);
  Next Negotiate(const VerifierAgent& agent, bool v_phase);
  // Ends with FAILED or INVALID_QUOTE (notifying when Keylime does).
  Next Fail(const VerifierAgent& agent, AgentState state, const Failure& failure,
            const std::string& notify_type);
  // Writes the poll's outcome unless the agent was stopped or deleted
  // meanwhile (then nullopt).
  std::optional<VerifierAgent> Record(const std::string& agent_id,
                                      const std::function<void(VerifierAgent&)>& change);
  // The failures of the quote (empty when it passed); nullopt when it could
  // not be appraised now (store unreachable).
  std::optional<std::vector<Failure>> Appraise(const VerifierAgent& agent, const std::string& nonce,
                                               const AgentQuote& quote, const std::string& pubkey);
  int64_t Interval() const { return options_.quote_interval_ms; }

  std::shared_ptr<AgentStore> agents_;
  std::shared_ptr<PollSchedule> schedule_;
  std::shared_ptr<SessionService> sessions_;
  std::shared_ptr<AgentClient> client_;
  std::shared_ptr<RevocationNotifier> notifier_;
  PullOptions options_;
  std::string instance_;
  int64_t grace_ms_ = 500;

  std::mutex mu_;
  std::condition_variable work_cv_;   // workers: a step to run, or the last poll ended
  std::condition_variable room_cv_;   // the scheduler: room_ was set
  std::condition_variable cv_;        // the renewer: stop_renewing_
  std::condition_variable sweep_cv_;  // the sweeper: stopping_
  bool want_room_ = false;            // the scheduler filled every slot
  bool room_ = false;                 // half the slots are free again
  // What workers do: the next steps of polls under way (an agent
  // answered) first, so polls finish before more start; then the polls of
  // claimed agents.
  std::deque<std::function<void()>> answers_;
  std::deque<std::string> starts_;
  std::set<std::string> held_;  // claimed and not yet released: waiting or under way
  int in_flight_ = 0;           // polls started and not finished
  bool stopping_ = false;
  bool stop_renewing_ = false;  // after the pollers finished
  std::vector<std::thread> threads_;
  std::thread renewer_;
  std::atomic<int64_t> polls_{0};
};

}  // namespace attestd
