// RevocationNotifier: tells the world an agent failed, as Keylime's
// verifier does (revocation_notifier settings): a webhook POST of the
// revocation message, retried; and/or the message signed with the failing
// agent's revocation key to every other pull agent.
//
// Promises:
// - Notify returns at once; the notifications go out in order on the
//   notifier's own thread, so a slow webhook never delays polling.
// - The webhook is tried up to max_retries times, waiting Keylime's
//   retry_time between tries; each agent is tried once (as Keylime).
// - Every message carries the failure: event_id, severity_label, context.
// - Stop (or destruction) sends what is queued, then ends the thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/appraisal.h"
#include "service/keylime/agent_client.h"
#include "store/agent_store.h"

namespace attestd {

struct RevocationOptions {
  bool webhook = false;     // revocation_notifiers has "webhook"
  bool agents = false;      // revocation_notifiers has "agent"
  std::string webhook_url;  // webhook_url
  int max_retries = 5;
  double retry_interval_s = 2.0;
  bool exponential_backoff = true;
};

// Keylime's retry.retry_time: base^tries with exponential backoff (when the
// base is over 1), else the base.
double RetryTime(bool exponential, double base_s, int64_t tries);

class RevocationNotifier {
 public:
  RevocationNotifier(std::shared_ptr<AgentStore> agents, std::shared_ptr<AgentClient> client,
                     RevocationOptions options);
  ~RevocationNotifier();

  // Queues the notifications for `agent` failing: `type` "revocation" or
  // "comm_error"; `failure` the event (nullptr: none).
  void Notify(const VerifierAgent& agent, const std::string& type, const Failure* failure);

  // How many webhook deliveries succeeded / were given up (for tests and logs).
  int64_t delivered() const;
  int64_t given_up() const;

  void Stop();

 private:
  void Run();
  void Send(const Revocation& message, const std::string& failing_agent);
  void SendWebhook(const Revocation& message);
  void SendToAgents(const Revocation& message, const std::string& failing_agent);

  std::shared_ptr<AgentStore> agents_;
  std::shared_ptr<AgentClient> client_;
  RevocationOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Revocation, std::string>> queue_;
  bool stopping_ = false;
  int64_t delivered_ = 0, given_up_ = 0;
  std::thread thread_;
};

}  // namespace attestd
