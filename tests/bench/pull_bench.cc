// Pull-mode benchmark: N simulated Keylime pull agents (one listener and
// key, a real swtpm quote over each request's nonce, through ESAPI) polled
// by one or two in-process attestd instances every --interval seconds.
// Reports whether every agent was attested within its interval (each
// agent's attestation count over the run against the interval's), the
// attestations per second, and the CPU seconds of this process (attestd
// and the agent simulator; swtpm is a separate process) per attestation.
//   pull_bench [--agents N] [--seconds S] [--interval S] [--instances 1|2]
// Two instances share a redis-server the bench starts; one uses the
// memory store.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "common/base64.h"
#include "common/log.h"
#include "server/application.h"
#include "tests/support/esapi_quoter.h"
#include "tests/support/processes.h"
#include "tests/support/pull_agent.h"
#include "tests/support/swtpm.h"

using namespace attestd;

namespace {

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::unique_ptr<Application> Start(const std::string& id, const std::string& store,
                                   const std::string& dir, int64_t interval) {
  Config c;
  c.listen = "127.0.0.1:0";
  c.verifier_listen = "127.0.0.1:0";
  c.data_dir = dir;
  c.threads = 2;
  c.workers = 1;
  c.store = store;
  c.quote_interval_s = interval;
  c.verifier_id = id;
  c.pull_threads = 16;
  auto app = Application::Create(c);
  if (!app.ok() || !(*app)->Start().ok()) return nullptr;
  return std::move(*app);
}

}  // namespace

int main(int argc, char** argv) {
  int agents = 200, seconds = 20, instances = 1;
  int64_t interval = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--agents") agents = std::atoi(argv[i + 1]);
    if (a == "--seconds") seconds = std::atoi(argv[i + 1]);
    if (a == "--interval") interval = std::atoi(argv[i + 1]);
    if (a == "--instances") instances = std::atoi(argv[i + 1]);
  }
  SetLogLevel(LogLevel::kOff);
  testing::TempDir dir;
  std::unique_ptr<testing::RedisServer> redis;
  std::string store = "memory";
  if (instances > 1) {
    redis = std::make_unique<testing::RedisServer>();
    store = redis->url();
  }
  testing::Swtpm tpm;
  auto q = tpm.Quote("rsa", "n0nce123", "sha256:23");
  std::string pcr23 = q ? HexEncode(q->pcrblob.substr(132 + 4 + 4 + 2, 32)) : "";
  std::vector<std::unique_ptr<Application>> apps;
  for (int i = 0; i < instances; ++i) {
    apps.push_back(Start("v" + std::to_string(i), store, dir.path() + "/data", interval));
    if (!apps.back()) {
      std::fprintf(stderr, "attestd did not start\n");
      return 1;
    }
  }
  testing::EsapiQuoter quoter(tpm.port());
  testing::PullAgent sim("sim", &tpm, apps[0]->verifier_tls().ca_cert);
  sim.set_quoter(&quoter);
  if (!quoter.ok() || !sim.Start()) return 1;
  for (int i = 0; i < agents; ++i) {
    VerifierAgent a;
    a.agent_id = "sim-" + std::to_string(i);
    a.push_model = false;
    a.ip = "127.0.0.1";
    a.port = sim.port();
    a.mtls_cert = sim.mtls_cert();
    a.tpm_policy = "{\"23\": [\"" + pcr23 + "\"], \"mask\": \"0x800000\"}";
    a.ak_tpm = tpm.AkPublic("rsa");
    a.accept_tpm_hash_algs = {"sha256"};
    a.accept_tpm_encryption_algs = {"rsa"};
    a.accept_tpm_signing_algs = {"rsassa"};
    a.supported_version = "2.1";
    if (!apps[0]->keylime().agents->Enrol(a).ok()) return 1;
  }
  // Warm-up: one attestation each, then measure.
  auto count = [&](const std::string& id) {
    auto a = apps[0]->keylime().agents->Get(id);
    return a.ok() ? a->attestation_count : 0;
  };
  std::this_thread::sleep_for(std::chrono::seconds(interval + 2));
  std::vector<int64_t> before(agents);
  int64_t total_before = 0;
  for (int i = 0; i < agents; ++i) total_before += before[i] = count("sim-" + std::to_string(i));
  double cpu0 = CpuSeconds();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  double cpu = CpuSeconds() - cpu0;
  int64_t total = 0, slowest = INT64_MAX;
  for (int i = 0; i < agents; ++i) {
    int64_t n = count("sim-" + std::to_string(i)) - before[i];
    total += n;
    slowest = std::min(slowest, n);
  }
  // Each poll ends `interval` after the previous one ended, so an agent
  // within its interval gets about seconds / (interval + poll time) quotes;
  // it is late if it got fewer than seconds / interval * 0.8.
  double expected = static_cast<double>(seconds) / static_cast<double>(interval);
  bool ok = slowest >= static_cast<int64_t>(expected * 0.8);
  std::printf(
      "agents=%d instances=%d interval=%llds seconds=%d attestations=%lld (%.1f/s) "
      "slowest_agent=%lld expected~%.1f within_interval=%s cpu_per_attestation_ms=%.2f\n",
      agents, instances, static_cast<long long>(interval), seconds, static_cast<long long>(total),
      total / static_cast<double>(seconds), static_cast<long long>(slowest), expected,
      ok ? "yes" : "no", total ? cpu * 1000.0 / static_cast<double>(total) : 0.0);
  for (auto& app : apps) app->Shutdown(std::chrono::milliseconds(2000));
  return ok ? 0 : 3;
}
