// Cost of an IMA appraisal against its floor: a 50,000-entry ima-ng list
// appraised against a 100,000-path runtime policy with 50 exclude patterns
// (a tenth of the entries pass by an exclude pattern only),
// next to what OpenSSL alone needs for the unavoidable part of the work, one
// SHA-256 template hash and one PCR extend per entry (template data
// prepared beforehand). Also: policy compilation, and the incremental cost
// of 100 new entries appraised from a previous state.
//
// Two list flavours: template hashes logged in SHA-1 (what kernels print;
// the appraisal then hashes each entry twice) and in SHA-256
// (ima.log_hash_alg sha256: one template hash serves both checks).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/support/ima_log.h"
#include "verifiers/ima/ima_appraisal.h"

namespace attestd {
namespace {

constexpr size_t kEntries = 50000;
constexpr size_t kPolicyPaths = 100000;
constexpr size_t kExcludes = 50;

std::string Sha256(const std::string& s) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), n);
}

std::string PathOf(size_t i) {
  char p[96];
  std::snprintf(p, sizeof p, "/usr/lib/x86_64-linux-gnu/pkg%04zu/lib%06zu.so.1", i % 997, i);
  return p;
}

struct Fixture {
  testing::ImaLogBuilder log;
  std::string policy_json;
  ima::PolicyPtr policy;
  std::vector<std::string> template_data;  // for the floor
  std::string quoted;

  explicit Fixture(const std::string& log_alg) : log({"sha256"}, log_alg) {
    testing::ImaPolicyBuilder pb;
    pb.LogHashAlg(log_alg);
    log.BootAggregate();
    pb.Digest("boot_aggregate", Sha256("boot"));
    for (size_t i = 1; i < kEntries; ++i) {
      // Every tenth entry passes only by an exclude pattern (not in the policy).
      std::string path = i % 10 == 0
                             ? "/run/" + std::to_string(i % kExcludes) + "/f" + std::to_string(i)
                             : PathOf(i);
      std::string d = Sha256(path);
      log.AddDigest(path, d);
      if (i % 10 != 0) pb.Digest(path, d);
    }
    // Unused paths fill the policy to kPolicyPaths (the excluded tenth is not in it).
    for (size_t i = kEntries; i < kPolicyPaths + kEntries / 10; ++i) {
      pb.Digest(PathOf(i), Sha256(PathOf(i)));
    }
    // Tried on every path the digests do not accept.
    for (size_t i = 0; i < kExcludes; ++i) {
      pb.Exclude("/(proc|sys|run)/" + std::to_string(i) + "/.*");
    }
    policy_json = pb.Json();
    policy = *ima::CompileRuntimePolicy(policy_json);
    quoted = log.Pcr10("sha256");
    // The floor's input: each entry's template data, encoded once.
    ima::LogReader reader(log.text());
    std::string_view line;
    uint64_t n = 0;
    ima::LogEntry e;
    while (reader.Next(&line, &n)) {
      (void)ima::ParseLogEntry(line, &e);
      std::string data;
      ima::EncodeTemplateData(e, &data);
      template_data.push_back(std::move(data));
    }
  }

  static Fixture& Get(const std::string& alg) {
    static Fixture* sha1 = new Fixture("sha1");
    static Fixture* sha256 = new Fixture("sha256");
    return alg == "sha1" ? *sha1 : *sha256;
  }
};

void Floor(benchmark::State& state) {
  Fixture& f = Fixture::Get("sha256");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const EVP_MD* md = EVP_sha256();
  unsigned char pcr[32] = {0}, th[32];
  unsigned int n = 0;
  for (auto _ : state) {
    for (const std::string& d : f.template_data) {
      EVP_DigestInit_ex(ctx, md, nullptr);
      EVP_DigestUpdate(ctx, d.data(), d.size());
      EVP_DigestFinal_ex(ctx, th, &n);
      EVP_DigestInit_ex(ctx, md, nullptr);
      EVP_DigestUpdate(ctx, pcr, 32);
      EVP_DigestUpdate(ctx, th, 32);
      EVP_DigestFinal_ex(ctx, pcr, &n);
    }
    benchmark::DoNotOptimize(pcr);
  }
  EVP_MD_CTX_free(ctx);
  state.SetItemsProcessed(state.iterations() * f.template_data.size());
}

void FullAppraisal(benchmark::State& state, const std::string& alg) {
  Fixture& f = Fixture::Get(alg);
  ima::AppraiseInput in;
  in.log = f.log.text();
  in.pcr10 = f.quoted;
  for (auto _ : state) {
    Result<ima::ImaAppraisal> a = ima::AppraiseImaLog(*f.policy, nullptr, in);
    if (!a.ok() || !a->ok()) state.SkipWithError("appraisal failed");
    benchmark::DoNotOptimize(a);
  }
  state.SetItemsProcessed(state.iterations() * kEntries);
}

void PolicyCompile(benchmark::State& state) {
  Fixture& f = Fixture::Get("sha256");
  size_t bytes = 0;
  for (auto _ : state) {
    Result<ima::PolicyPtr> p = ima::CompileRuntimePolicy(f.policy_json);
    bytes = (*p)->approx_bytes();
    benchmark::DoNotOptimize(p);
  }
  state.counters["policy_json_bytes"] = static_cast<double>(f.policy_json.size());
  state.counters["compiled_bytes"] = static_cast<double>(bytes);
}

// 100 entries after a state that covers the first 50,000.
void Incremental100(benchmark::State& state) {
  Fixture& f = Fixture::Get("sha1");
  static testing::ImaLogBuilder* log = nullptr;
  static ima::ImaState covered;
  static std::string tail, quoted;
  if (log == nullptr) {
    log = new testing::ImaLogBuilder({"sha256"}, "sha1");
    *log = f.log;
    ima::AppraiseInput in;
    in.log = f.log.text();
    in.pcr10 = f.quoted;
    covered = ima::AppraiseImaLog(*f.policy, nullptr, in)->state;
    for (size_t i = 0; i < 100; ++i) {
      std::string path = PathOf(kEntries + i);
      log->AddDigest(path, Sha256(path));
    }
    tail = log->text().substr(log->Offset(kEntries));
    quoted = log->Pcr10("sha256");
  }
  ima::AppraiseInput in;
  in.log = tail;
  in.first_entry = kEntries;
  in.pcr10 = quoted;
  for (auto _ : state) {
    Result<ima::ImaAppraisal> a = ima::AppraiseImaLog(*f.policy, &covered, in);
    if (!a.ok() || !a->ok() || a->summary.entries_appraised != 100) {
      state.SkipWithError("incremental appraisal failed");
    }
    benchmark::DoNotOptimize(a);
  }
  state.SetItemsProcessed(state.iterations() * 100);
}

BENCHMARK(Floor)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(FullAppraisal, sha1_log, std::string("sha1"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(FullAppraisal, sha256_log, std::string("sha256"))->Unit(benchmark::kMillisecond);
BENCHMARK(PolicyCompile)->Unit(benchmark::kMillisecond);
BENCHMARK(Incremental100)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace attestd

BENCHMARK_MAIN();
