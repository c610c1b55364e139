// Cost of a whole TPM quote appraisal against its floor: a bare OpenSSL
// EVP_DigestVerify of the same quote's signature with a pre-loaded key.
//
// The quotes are real: made by swtpm through scripts/tpm-fixtures.sh, either
// in the directory named by ATTESTD_TPM_FIXTURES or, without it, in a fresh
// temporary directory at start-up (swtpm and tpm2-tools needed).
//
// The appraisal runs the production path: JSON parse, Keylime quote string,
// TPMS_ATTEST/TPMT_SIGNATURE unmarshalling, AK from the cache, scheme check,
// signature, nonce, pcrblob selection and digest, clock, PCR policy. The
// directory forgets clock baselines so the same quote passes every time
// (otherwise every repetition after the first is a replay and the clock
// check would fail, which is not the path worth measuring).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "common/base64.h"
#include "store/memory/memory_attester_directory.h"
#include "tests/support/tpm_evidence.h"
#include "verifiers/tpm/ak.h"
#include "verifiers/tpm/quote_verifier.h"
#include "verifiers/tpm/tpm_structures.h"

namespace attestd {
namespace {

constexpr char kMediaType[] = "application/vnd.attestd.tpm2-quote+json";

// A memory directory that never keeps a clock baseline.
class NoBaselineDirectory final : public AttesterDirectory {
 public:
  Result<Attester> Get(std::string_view id) override {
    Result<Attester> a = inner_.Get(id);
    if (a.ok()) a->clock.reset();
    return a;
  }
  Status Put(std::string_view id, const Attester& a) override { return inner_.Put(id, a); }
  Status Remove(std::string_view id) override { return inner_.Remove(id); }
  Result<ClockAdvance> AdvanceClock(std::string_view, const ClockState&) override {
    return ClockAdvance{true, std::nullopt};
  }

 private:
  MemoryAttesterDirectory inner_;
};

std::string ReadFile(const std::filesystem::path& p) {
  std::string s = testing::ReadFileOrEmpty(p.string());
  if (s.empty()) {
    std::fprintf(stderr, "tpm_verify_bench: cannot read %s\n", p.c_str());
    std::exit(2);
  }
  return s;
}

std::filesystem::path g_temp_fixtures;  // removed at exit when we made it

std::filesystem::path FixtureDir() {
  static const std::filesystem::path dir = [] {
    if (const char* env = std::getenv("ATTESTD_TPM_FIXTURES")) return std::filesystem::path(env);
    std::filesystem::path tmp = std::filesystem::temp_directory_path() /
                                ("attestd-bench-tpm-" + std::to_string(::getpid()));
    std::string cmd =
        "bash " ATTESTD_SOURCE_DIR "/scripts/tpm-fixtures.sh all " + tmp.string() + " >/dev/null";
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "tpm_verify_bench: tpm-fixtures.sh failed\n");
      std::exit(2);
    }
    g_temp_fixtures = tmp;
    std::atexit([] { std::filesystem::remove_all(g_temp_fixtures); });
    return tmp;
  }();
  return dir;
}

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// One fixture quote: the appraisal inputs and the bare-verify inputs.
struct Fixture {
  std::string evidence;  // the JSON body a client posts
  std::string nonce;
  std::shared_ptr<const tpm::AkKey> ak;
  std::string attest;
  std::string der_signature;  // what EVP_DigestVerify takes
  const EVP_MD* md = nullptr;
  bool pss = false;
  std::shared_ptr<tpm::TpmQuoteVerifier> verifier;
};

const Fixture& Load(const std::string& key) {
  static std::map<std::string, Fixture> loaded;
  auto it = loaded.find(key);
  if (it != loaded.end()) return it->second;
  std::filesystem::path dir = FixtureDir();
  Fixture f;
  std::string ak_bytes = ReadFile(dir / ("ak-" + key + ".pub"));
  std::string quote = ReadFile(dir / ("q-" + key + ".quote"));
  while (!quote.empty() && (quote.back() == '\n' || quote.back() == ' ')) quote.pop_back();
  std::string nonce_hex = ReadFile(dir / "nonce.hex");
  f.nonce = Unhex(nonce_hex.substr(0, nonce_hex.find('\n')));
  f.evidence = testing::QuoteJson("bench-agent", quote, std::string("sha256"));
  f.ak = *tpm::ParseAk(ak_bytes);
  f.attest = ReadFile(dir / ("q-" + key + ".attest"));
  TPMT_SIGNATURE sig = *tpm::ParseSignature(ReadFile(dir / ("q-" + key + ".sig")));
  f.md = EVP_sha256();
  if (sig.sigAlg == TPM2_ALG_ECDSA) {
    const TPMS_SIGNATURE_ECC& ecc = sig.signature.ecdsa;
    f.der_signature =
        testing::EcdsaDer(tpm::Tpm2bView(ecc.signatureR), tpm::Tpm2bView(ecc.signatureS));
  } else {
    const TPM2B_PUBLIC_KEY_RSA& rsa = sig.signature.rsassa.sig;  // same layout for RSAPSS
    f.der_signature.assign(reinterpret_cast<const char*>(rsa.buffer), rsa.size);
    f.pss = sig.sigAlg == TPM2_ALG_RSAPSS;
  }
  auto directory = std::make_shared<NoBaselineDirectory>();
  Attester attester;
  attester.ak_tpm = ak_bytes;
  attester.trusted = true;
  if (!directory->Put("bench-agent", attester).ok()) std::abort();
  f.verifier = std::make_shared<tpm::TpmQuoteVerifier>(directory);
  return loaded.emplace(key, std::move(f)).first->second;
}

void BareVerify(benchmark::State& state, const std::string& key) {
  const Fixture& f = Load(key);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  for (auto _ : state) {
    EVP_PKEY_CTX* pctx = nullptr;
    EVP_DigestVerifyInit(ctx, &pctx, f.md, nullptr, f.ak->pkey.get());
    if (f.pss) EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    int ok = EVP_DigestVerify(
        ctx, reinterpret_cast<const unsigned char*>(f.der_signature.data()), f.der_signature.size(),
        reinterpret_cast<const unsigned char*>(f.attest.data()), f.attest.size());
    if (ok != 1) state.SkipWithError("bare verify failed");
    EVP_MD_CTX_reset(ctx);
  }
  EVP_MD_CTX_free(ctx);
}

void FullAppraisal(benchmark::State& state, const std::string& key) {
  const Fixture& f = Load(key);
  for (auto _ : state) {
    Result<Appraisal> a = f.verifier->Appraise(f.evidence, kMediaType, f.nonce);
    if (!a.ok() || !a->is_valid) {
      state.SkipWithError("appraisal did not pass");
      break;
    }
    benchmark::DoNotOptimize(a);
  }
}

// Keylime vector B (the quote scripts/bench.sh posts to verify/evidence),
// appraised as VerifyService does: quote parts, the AK and tpm_policy given
// by the caller, the nonce as sent (base64) or decoded. The floor that
// route's CPU per request is compared with.
void VectorBGivenAppraisal(benchmark::State& state) {
  using testing::KeylimeVector;
  using testing::kVectorB;
  tpm::QuotePartsEvidence parts;
  parts.agent_id = "verify";
  parts.keylime_quote = testing::KeylimeQuoteString(KeylimeVector(kVectorB, "quote.out"),
                                                    KeylimeVector(kVectorB, "quotesig.out"),
                                                    KeylimeVector(kVectorB, "quotepcr.out"));
  parts.hash_alg = "sha256";
  std::string evidence = tpm::EncodeQuoteParts(parts);
  std::string nonce = KeylimeVector(kVectorB, "nonce.b64");
  while (!nonce.empty() && (nonce.back() == '\n' || nonce.back() == '\r')) nonce.pop_back();
  std::string decoded = *Base64DecodeStd(nonce);
  Attester given{KeylimeVector(kVectorB, "ak.pub"),
                 R"({"15":[")" + std::string(64, '0') + R"("],"22":[")" + std::string(64, 'f') +
                     R"("],"mask":"0x408000"})",
                 true, std::nullopt};
  tpm::TpmQuoteVerifier verifier(nullptr);
  for (auto _ : state) {
    AppraisalRequest request{tpm::kQuotePartsType, evidence, nonce, &given};
    request.alternate_nonce = decoded;
    Result<Appraisal> a = verifier.Appraise(request);
    if (!a.ok() || !a->is_valid) {
      state.SkipWithError("vector B did not pass");
      break;
    }
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(VectorBGivenAppraisal);

BENCHMARK_CAPTURE(BareVerify, rsa2048_rsassa, std::string("rsa"));
BENCHMARK_CAPTURE(FullAppraisal, rsa2048_rsassa, std::string("rsa"));
BENCHMARK_CAPTURE(BareVerify, ecc_p256_ecdsa, std::string("ecc"));
BENCHMARK_CAPTURE(FullAppraisal, ecc_p256_ecdsa, std::string("ecc"));
BENCHMARK_CAPTURE(BareVerify, rsa2048_rsapss, std::string("rsapss"));
BENCHMARK_CAPTURE(FullAppraisal, rsa2048_rsapss, std::string("rsapss"));

}  // namespace
}  // namespace attestd

BENCHMARK_MAIN();
