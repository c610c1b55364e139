// Cost of signing one EAR, against a bare OpenSSL ECDSA P-256 signature of a
// payload of the same size with a pre-loaded key (the floor for ES256).
#include <benchmark/benchmark.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "common/value_json.h"
#include "verifiers/ear/result_signer.h"

namespace attestd {
namespace {

Appraisal SampleAppraisal() {
  Appraisal a;
  a.is_valid = true;
  a.claims =
      ParseValueJson(
          R"({"agent_id":"d432fbb3-d2f1-4a97-9ef7-75bd81c00000","hash_alg":"sha256","sign_alg":"rsassa",)"
          R"("pcrs":{"sha256":{"15":"0000000000000000000000000000000000000000000000000000000000000000"}}})")
          .value();
  a.trust.instance_identity = 2;
  a.trust.hardware = 2;
  a.trust.executables = 2;
  return a;
}

void BM_EarSignES256(benchmark::State& state) {
  auto signer = *ResultSigner::Create({});
  Appraisal a = SampleAppraisal();
  std::string nonce(32, 'n');
  for (auto _ : state) benchmark::DoNotOptimize(signer->Sign(a, nonce, 1700000000));
}
BENCHMARK(BM_EarSignES256);

void BM_BareEcdsaP256Sign(benchmark::State& state) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  auto signer = *ResultSigner::Create({});
  std::string payload = signer->Claims(SampleAppraisal(), std::string(32, 'n'), 1700000000);
  unsigned char sig[128];
  for (auto _ : state) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = sizeof sig;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(payload.data()),
                   payload.size());
    EVP_MD_CTX_free(ctx);
    benchmark::DoNotOptimize(sig);
  }
  EVP_PKEY_free(key);
}
BENCHMARK(BM_BareEcdsaP256Sign);

}  // namespace
}  // namespace attestd

BENCHMARK_MAIN();
