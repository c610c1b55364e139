// Pull-mode benchmark: N simulated Keylime pull agents (tests/bench/
// pull_sim.cc, a separate process: each agent its own address and its own
// software AK, a real quote signed per request) polled by one or two
// in-process attestd instances every --interval seconds.
// Reports whether every agent was attested within its interval (each
// agent's attestation count over the run against the interval's), the
// attestations per second, and the CPU time per attestation of attestd
// (this process) and of the simulator, apart and together.
//   pull_bench [--agents N] [--seconds S] [--interval S] [--instances 1|2]
//              [--pull-threads T] [--sim-threads T]
// Two instances share a redis-server the bench starts; one uses the
// memory store. Exits 3 when an agent fell behind or failed.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/base64.h"
#include "common/log.h"
#include "server/application.h"
#include "tests/support/processes.h"

using namespace attestd;

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int agents = 200, seconds = 20, instances = 1, pull_threads = 4, sim_threads = 1;
  int64_t interval = 2;
};

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (a == "--agents") o.agents = v;
    if (a == "--seconds") o.seconds = v;
    if (a == "--interval") o.interval = v;
    if (a == "--instances") o.instances = v;
    if (a == "--pull-threads") o.pull_threads = v;
    if (a == "--sim-threads") o.sim_threads = v;
  }
  return o;
}

// attestd holds a connection per agent being polled (and the simulator the
// other end): raise the soft descriptor limit to the hard one.
void RaiseFileLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Another process's CPU seconds (user + system) from /proc/<pid>/stat.
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string f;
  double ticks = 0;
  // After the command: state is field 3; utime and stime are 14 and 15.
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i >= 14) ticks += std::atof(f.c_str());
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::unique_ptr<Application> Start(const std::string& id, const std::string& store,
                                   const std::string& dir, const Options& o) {
  Config c;
  c.listen = "127.0.0.1:0";
  c.verifier_listen = "127.0.0.1:0";
  c.data_dir = dir;
  c.threads = 2;
  c.workers = 1;
  c.store = store;
  c.quote_interval_s = o.interval;
  c.verifier_id = id;
  c.pull_threads = o.pull_threads;
  auto app = Application::Create(c);
  if (!app.ok() || !(*app)->Start().ok()) return nullptr;
  return std::move(*app);
}

// The simulator, started next to this binary; its stdout goes to a log
// in `dir`, which says "ready <port>" once agents.tsv and the rest exist.
struct Simulator {
  pid_t pid = -1;
  int port = 0;
  std::string log;
};

Simulator StartSimulator(const char* argv0, const std::string& dir, const std::string& client_ca,
                         const Options& o) {
  std::string self = argv0;
  std::string bin = self.substr(0, self.rfind('/') + 1) + "pull_sim";
  Simulator s;
  s.log = dir + "/pull_sim.log";
  s.pid = testing::Spawn({bin, "--agents", std::to_string(o.agents), "--client-ca", client_ca,
                          "--dir", dir, "--threads", std::to_string(o.sim_threads)},
                         s.log);
  // Key generation: about 0.1 ms per agent, plus slack for a busy machine.
  for (int i = 0; s.pid > 0 && i < 600 && s.port == 0; ++i) {
    std::string out = Slurp(s.log);
    size_t at = out.find("ready ");
    if (at != std::string::npos)
      s.port = std::atoi(out.c_str() + at + 6);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return s;
}

struct SimAgent {
  std::string id, ip, ak_tpm;
};

std::vector<SimAgent> ReadAgents(const std::string& dir) {
  std::vector<SimAgent> out;
  std::ifstream in(dir + "/agents.tsv");
  std::string id, ip, ak;
  while (in >> id >> ip >> ak) out.push_back({id, ip, Base64DecodeStd(ak).value_or("")});
  return out;
}

// Every agent: its own AK (ECDSA P-256), a policy on PCR 23 (zero in the
// simulator) so each quote's PCRs are appraised, not only its signature.
VerifierAgent Enrolment(const SimAgent& s, int port, const std::string& mtls_cert) {
  VerifierAgent a;
  a.agent_id = s.id;
  a.push_model = false;
  a.ip = s.ip;
  a.port = port;
  a.mtls_cert = mtls_cert;
  a.tpm_policy = "{\"23\": [\"" + std::string(64, '0') + "\"], \"mask\": \"0x800000\"}";
  a.ak_tpm = s.ak_tpm;
  a.accept_tpm_hash_algs = {"sha256"};
  a.accept_tpm_encryption_algs = {"rsa", "ecc"};
  a.accept_tpm_signing_algs = {"ecdsa"};
  a.supported_version = "2.1";
  // A V half, so the first good quote is followed by its delivery, as with
  // a tenant (the simulator counts it and does not decrypt it).
  a.v = Base64Encode(std::string(32, '\x5a'));
  return a;
}

// A few threads: with Redis each enrolment is a round trip or more.
bool EnrolAll(Application& app, const std::vector<SimAgent>& agents, int port,
              const std::string& mtls_cert) {
  std::atomic<size_t> next{0};
  std::atomic<bool> ok{true};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < agents.size() && ok; i = next++) {
        if (!app.keylime().agents->Enrol(Enrolment(agents[i], port, mtls_cert)).ok()) ok = false;
      }
    });
  }
  for (auto& t : threads) t.join();
  return ok;
}

int64_t CountOf(Application& app, const std::string& id) {
  auto a = app.keylime().agents->Get(id);
  return a.ok() ? a->attestation_count : 0;
}

// Waits until every agent has been attested once (the first round opens a
// connection and delivers V per agent, so it may take longer than one
// interval); false after `timeout`.
bool WaitFirstRound(Application& app, const std::vector<SimAgent>& agents,
                    std::chrono::seconds timeout) {
  std::vector<const SimAgent*> pending;
  for (const auto& a : agents) pending.push_back(&a);
  auto deadline = Clock::now() + timeout;
  while (!pending.empty() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::erase_if(pending, [&](const SimAgent* a) { return CountOf(app, a->id) > 0; });
  }
  if (!pending.empty()) std::fprintf(stderr, "%zu agents not attested yet\n", pending.size());
  return pending.empty();
}

// Agents whose last attestation did not pass; the first one is described
// on stderr, to find out why.
int NotPassing(Application& app, const std::vector<SimAgent>& agents) {
  int bad = 0;
  for (const auto& s : agents) {
    auto a = app.keylime().agents->Get(s.id);
    if (a.ok() && a->attestation_status == "PASS" &&
        a->operational_state == AgentState::kGetQuote) {
      continue;
    }
    if (bad++ == 0 && a.ok()) {
      std::fprintf(stderr, "%s: state %d status %s last_event %s\n", s.id.c_str(),
                   static_cast<int>(a->operational_state), a->attestation_status.c_str(),
                   a->last_event_id.c_str());
    }
  }
  return bad;
}

// What one measurement window saw. Rates, not totals: reading every
// agent's count takes a while (10k Redis reads), so each agent's window
// is `seconds` long but shifted, while CPU is sampled between the reads
// (whose own cost is left out).
struct Window {
  double seconds = 0;  // each agent's window
  int64_t total = 0, slowest = INT64_MAX;
  double attestd_cpu_rate = 0, sim_cpu_rate = 0, redis_cpu_rate = 0;  // CPU s per s
  std::string sim_gaps;                                               // pull_sim's window line
};

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// CPU seconds of this process (attestd), the simulator and redis-server.
struct CpuSample {
  double attestd = 0, sim = 0, redis = 0;
  Clock::time_point at = Clock::now();
};

CpuSample SampleCpu(pid_t sim, pid_t redis) {
  return {CpuSeconds(), ProcessCpuSeconds(sim), redis > 0 ? ProcessCpuSeconds(redis) : 0,
          Clock::now()};
}

// The line pull_sim prints when its window closes (SIGUSR2).
std::string SimWindowLine(const std::string& log) {
  for (int i = 0; i < 100; ++i) {
    std::string text = Slurp(log);
    size_t at = text.find("window_ms=");
    if (at != std::string::npos) return text.substr(at, text.find('\n', at) - at);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "";
}

Window Measure(Application& app, const std::vector<SimAgent>& agents, const Simulator& sim,
               pid_t redis, int seconds) {
  auto t0 = Clock::now();
  std::vector<int64_t> before;
  for (const auto& a : agents) before.push_back(CountOf(app, a.id));
  CpuSample c0 = SampleCpu(sim.pid, redis);
  kill(sim.pid, SIGUSR1);
  std::this_thread::sleep_until(t0 + std::chrono::seconds(seconds));
  kill(sim.pid, SIGUSR2);
  CpuSample c1 = SampleCpu(sim.pid, redis);
  Window w;
  w.seconds = Since(t0);
  for (size_t i = 0; i < agents.size(); ++i) {
    int64_t n = CountOf(app, agents[i].id) - before[i];
    w.total += n;
    w.slowest = std::min(w.slowest, n);
  }
  double cpu_wall = std::chrono::duration<double>(c1.at - c0.at).count();
  w.attestd_cpu_rate = (c1.attestd - c0.attestd) / cpu_wall;
  w.sim_cpu_rate = (c1.sim - c0.sim) / cpu_wall;
  w.redis_cpu_rate = (c1.redis - c0.redis) / cpu_wall;
  w.sim_gaps = SimWindowLine(sim.log);
  return w;
}

int64_t Field(const std::string& line, const std::string& name) {
  size_t at = line.find(name + "=");
  return at == std::string::npos ? -1 : std::atoll(line.c_str() + at + name.size() + 1);
}

// The last line of the simulator's log: its counters, printed on SIGTERM.
std::string LastLine(const std::string& path) {
  std::string text = Slurp(path);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text.substr(text.rfind('\n') + 1);
}

// Prints the figures; true when every agent kept up and passed.
bool Report(const Options& o, const Window& w, int not_passing) {
  // Each poll starts `interval` after the previous one ended, so an agent
  // within its interval gets about seconds / (interval + poll time) quotes,
  // and its longest gap between two quote requests is interval + poll
  // time. Late: fewer than 0.8 of seconds / interval quotes, or a gap over
  // 1.25 intervals (the same slack).
  double expected = w.seconds / static_cast<double>(o.interval);
  int64_t max_gap = Field(w.sim_gaps, "max_gap_ms");
  bool ok = w.slowest >= static_cast<int64_t>(expected * 0.8) && not_passing == 0 && max_gap >= 0 &&
            max_gap <= o.interval * 1250;
  double rate = static_cast<double>(w.total) / w.seconds;
  double per = rate > 0 ? 1000.0 / rate : 0.0;  // CPU s/s → CPU ms per attestation
  std::printf(
      "agents=%d instances=%d interval=%llds window=%.1fs attestations=%lld (%.1f/s) "
      "slowest_agent=%lld expected~%.1f max_gap_ms=%lld median_max_gap_ms=%lld not_passing=%d "
      "within_interval=%s\n"
      "cpu_ms_per_attestation: attestd=%.3f simulator=%.3f redis=%.3f total=%.3f\n",
      o.agents, o.instances, static_cast<long long>(o.interval), w.seconds,
      static_cast<long long>(w.total), rate, static_cast<long long>(w.slowest), expected,
      static_cast<long long>(max_gap),
      static_cast<long long>(Field(w.sim_gaps, "median_max_gap_ms")), not_passing,
      ok ? "yes" : "no", w.attestd_cpu_rate * per, w.sim_cpu_rate * per, w.redis_cpu_rate * per,
      (w.attestd_cpu_rate + w.sim_cpu_rate + w.redis_cpu_rate) * per);
  return ok;
}

// The attestd instances sharing `store`; empty if one did not start.
std::vector<std::unique_ptr<Application>> StartInstances(const Options& o, const std::string& store,
                                                         const std::string& data_dir) {
  std::vector<std::unique_ptr<Application>> apps;
  for (int i = 0; i < o.instances; ++i) {
    apps.push_back(Start("v" + std::to_string(i), store, data_dir, o));
    if (!apps.back()) return {};
  }
  return apps;
}

// Enrols the simulator's agents and waits for every first attestation;
// false when an enrolment failed. `warm`: whether the first round completed.
bool EnrolAndWarmUp(Application& app, const std::vector<SimAgent>& agents, const Simulator& sim,
                    const std::string& dir, bool* warm) {
  auto t0 = Clock::now();
  if (agents.empty() || !EnrolAll(app, agents, sim.port, Slurp(dir + "/mtls_cert.pem"))) {
    return false;
  }
  double enrol_s = Since(t0);
  int timeout = 30 + static_cast<int>(agents.size()) / 100;
  *warm = WaitFirstRound(app, agents, std::chrono::seconds(timeout));
  std::printf("enrolled %zu agents in %.1f s; first round %s after %.1f s\n", agents.size(),
              enrol_s, *warm ? "complete" : "INCOMPLETE", Since(t0));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = ParseOptions(argc, argv);
  SetLogLevel(LogLevel::kOff);
  RaiseFileLimit();
  testing::TempDir dir;
  std::unique_ptr<testing::RedisServer> redis;
  if (o.instances > 1) redis = std::make_unique<testing::RedisServer>();
  auto apps = StartInstances(o, redis ? redis->url() : "memory", dir.path() + "/data");
  if (apps.empty()) {
    std::fprintf(stderr, "attestd did not start\n");
    return 1;
  }
  Simulator sim = StartSimulator(argv[0], dir.path(), apps[0]->verifier_tls().ca_cert, o);
  auto agents = ReadAgents(dir.path());
  bool warm = false;
  if (sim.port == 0 || agents.size() != static_cast<size_t>(o.agents) ||
      !EnrolAndWarmUp(*apps[0], agents, sim, dir.path(), &warm)) {
    std::fprintf(stderr, "pull_sim did not start or enrolment failed (%s)\n",
                 Slurp(sim.log).c_str());
    testing::StopProcess(sim.pid);
    return 1;
  }
  Window w = Measure(*apps[0], agents, sim, redis ? redis->pid() : -1, o.seconds);
  bool ok = Report(o, w, NotPassing(*apps[0], agents)) && warm;
  for (auto& a : apps) a->Shutdown(std::chrono::milliseconds(2000));
  testing::StopProcess(sim.pid, 10000);
  std::printf("simulator: %s\n", LastLine(sim.log).c_str());
  return ok ? 0 : 3;
}
