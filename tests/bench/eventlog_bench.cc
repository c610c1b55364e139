// Cost of appraising a measured-boot log against its floor.
//
// BM_Appraise: the GCE log (SHA-1, SHA-256, SHA-384 banks, 112 events):
// parse, replay every bank with the digest checks, Keylime's example
// policy (a Secure Boot refstate, so every check runs and many fail) and
// the comparison with a quote. items/s = logs/s.
// BM_OpenSslFloor: OpenSSL alone on the same log: hash each event's data and
// extend once per event and bank, with one reused EVP_MD_CTX. The parse is
// done before the loop; this is what no appraisal can beat.
// BM_Tpm2Eventlog: Debian's tpm2_eventlog on the same file (a process per
// run, as Keylime uses it), for contrast.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "verifiers/tpm/tpm_structures.h"
#include "verifiers/uefi/eventlog.h"
#include "verifiers/uefi/mb_policy.h"
#include "verifiers/uefi/mb_refstate.h"
#include "verifiers/uefi/replay.h"

namespace attestd::uefi {
namespace {

std::string LogPath(const char* name) {
  return std::string(ATTESTD_SOURCE_DIR) + "/tests/data/eventlogs/" + name;
}

std::string ReadLogFile(const char* name) {
  std::ifstream in(LogPath(name), std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) {
    std::fprintf(stderr, "eventlog_bench: cannot read %s\n", name);
    std::exit(2);
  }
  return ss.str();
}

const std::string& Gce() {
  static const std::string bytes = ReadLogFile("event-gce-ubuntu-2104-log.bin");
  return bytes;
}

const RefState& Refstate() {
  static const RefState ref = [] {
    std::string bytes = ReadLogFile("event-moklisttrusted.bin");
    auto log = ParseEventLog(bytes);
    auto json = RefStateFromLog(*log, false);
    auto parsed = ParseRefState(*json);
    if (!parsed.ok()) std::exit(2);
    return *parsed;
  }();
  return ref;
}

QuotedPcrs GceQuote() {
  auto log = ParseEventLog(Gce());
  auto replay = ReplayLog(*log);
  QuotedPcrs q;
  for (const PcrBank& b : replay->banks) {
    for (uint32_t p = 0; p < kNumPcrs; ++p) q[AlgName(b.alg)][p] = std::string(b.Value(p));
  }
  return q;
}

void BM_Appraise(benchmark::State& state) {
  const std::string& bytes = Gce();
  const RefState& ref = Refstate();
  const QuotedPcrs quote = GceQuote();
  size_t failures = 0;
  for (auto _ : state) {
    auto log = ParseEventLog(bytes);
    auto replay = ReplayLog(*log);
    auto f = EvaluateExample(*log, ref);
    auto p = ComparePcrs(*replay, quote);
    failures = f.size() + p.size();
    benchmark::DoNotOptimize(failures);
  }
  state.counters["failures"] = static_cast<double>(failures);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Appraise);

void BM_ParseOnly(benchmark::State& state) {
  const std::string& bytes = Gce();
  for (auto _ : state) {
    auto log = ParseEventLog(bytes);
    benchmark::DoNotOptimize(log);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseOnly);

void BM_ParseAndReplay(benchmark::State& state) {
  const std::string& bytes = Gce();
  for (auto _ : state) {
    auto log = ParseEventLog(bytes);
    auto replay = ReplayLog(*log);
    benchmark::DoNotOptimize(replay);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseAndReplay);

void BM_OpenSslFloor(benchmark::State& state) {
  auto log = ParseEventLog(Gce());
  std::vector<const EVP_MD*> mds;
  for (const Bank& b : log->banks) mds.push_back(tpm::HashAlgById(b.alg)->md);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char pcrs[3][kNumPcrs][EVP_MAX_MD_SIZE] = {};
  for (auto _ : state) {
    for (const Event& e : log->events) {
      if (e.index == 0) continue;
      for (size_t i = 0; i < mds.size(); ++i) {
        unsigned char h[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_DigestInit_ex(ctx.get(), mds[i], nullptr);
        EVP_DigestUpdate(ctx.get(), e.data.data(), e.data.size());
        EVP_DigestFinal_ex(ctx.get(), h, &n);
        unsigned char* pcr = pcrs[i][e.pcr];
        EVP_DigestInit_ex(ctx.get(), mds[i], nullptr);
        EVP_DigestUpdate(ctx.get(), pcr, n);
        EVP_DigestUpdate(ctx.get(), e.digests[i].data(), e.digests[i].size());
        EVP_DigestFinal_ex(ctx.get(), pcr, &n);
      }
    }
    benchmark::DoNotOptimize(pcrs);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OpenSslFloor);

void BM_Tpm2Eventlog(benchmark::State& state) {
  std::string cmd =
      "tpm2_eventlog '" + LogPath("event-gce-ubuntu-2104-log.bin") + "' >/dev/null 2>&1";
  for (auto _ : state) {
    if (std::system(cmd.c_str()) != 0) {
      state.SkipWithError("tpm2_eventlog failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Tpm2Eventlog)->Iterations(50)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace attestd::uefi

BENCHMARK_MAIN();
