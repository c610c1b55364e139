#include "service/keylime/revocation_notifier.h"

#include <cmath>
#include <ctime>

#include "common/log.h"

namespace attestd {
namespace {

// time.asctime() of now, as Keylime puts in event_time.
std::string AscTime() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
  return buf;
}

}  // namespace

double RetryTime(bool exponential, double base_s, int64_t tries) {
  if (exponential && base_s > 1) return std::pow(base_s, static_cast<double>(tries));
  return std::fabs(base_s);
}

RevocationNotifier::RevocationNotifier(std::shared_ptr<AgentStore> agents,
                                       std::shared_ptr<AgentClient> client,
                                       RevocationOptions options)
    : agents_(std::move(agents)), client_(std::move(client)), options_(std::move(options)) {
  if (options_.webhook || options_.agents) thread_ = std::thread([this] { Run(); });
}

RevocationNotifier::~RevocationNotifier() { Stop(); }

void RevocationNotifier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t RevocationNotifier::delivered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return delivered_;
}

int64_t RevocationNotifier::given_up() const {
  std::lock_guard<std::mutex> lock(mu_);
  return given_up_;
}

void RevocationNotifier::Notify(const VerifierAgent& agent, const std::string& type,
                                const Failure* failure) {
  if (!options_.webhook && !options_.agents) return;
  Revocation m;
  m.type = type;
  m.agent_id = agent.agent_id;
  m.ip = agent.ip;
  m.port = agent.port;
  m.tpm_policy = agent.tpm_policy;
  m.meta_data = agent.metadata;
  m.event_time = AscTime();
  if (failure) {
    m.event_id = failure->type;
    // attestd's failures all mean "do not trust": Keylime's highest label.
    m.severity_label = "emergency";
    m.context = failure->context;
  }
  m.signing_key = agent.revocation_key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    queue_.emplace_back(std::move(m), agent.agent_id);
  }
  cv_.notify_all();
}

void RevocationNotifier::Run() {
  for (;;) {
    std::pair<Revocation, std::string> item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    Send(item.first, item.second);
  }
}

void RevocationNotifier::Send(const Revocation& message, const std::string& failing_agent) {
  if (options_.webhook && !options_.webhook_url.empty()) SendWebhook(message);
  if (options_.agents) SendToAgents(message, failing_agent);
}

void RevocationNotifier::SendWebhook(const Revocation& message) {
  for (int i = 0; i < std::max(1, options_.max_retries); ++i) {
    Status st = client_->PostWebhook(options_.webhook_url, message);
    if (st.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      ++delivered_;
      return;
    }
    LogWarn("revocation webhook failed; retrying",
            {{"agent_id", message.agent_id}, {"error", st.message()}});
    if (i + 1 >= options_.max_retries) break;
    double wait = RetryTime(options_.exponential_backoff, options_.retry_interval_s, i);
    std::unique_lock<std::mutex> lock(mu_);
    // Stopping cuts the waits short but still makes the remaining tries.
    cv_.wait_for(lock, std::chrono::duration<double>(wait), [this] { return stopping_; });
  }
  LogError("revocation webhook: giving up", {{"agent_id", message.agent_id}});
  std::lock_guard<std::mutex> lock(mu_);
  ++given_up_;
}

void RevocationNotifier::SendToAgents(const Revocation& message, const std::string& failing_agent) {
  auto ids = agents_->List();
  if (!ids.ok()) {
    LogWarn("revocation: cannot list the agents to notify", {{"error", ids.status().message()}});
    return;
  }
  for (const std::string& id : *ids) {
    if (id == failing_agent) continue;
    auto agent = agents_->Get(id);
    if (!agent.ok() || agent->push_model || agent->ip.empty()) continue;
    AgentEndpoint ep{agent->ip, agent->port, agent->mtls_cert, agent->supported_version};
    if (Status st = client_->PostRevocation(ep, message); !st.ok()) {
      LogWarn("revocation: agent not notified", {{"agent_id", id}, {"error", st.message()}});
    }
  }
}

}  // namespace attestd
