// libFuzzer target: the verifier's v3 push-model documents (the PoP session
// POST and PATCH, the capabilities, the evidence) through the real routes
// of a memory-store verifier in push mode, with an enrolled agent and a
// valid bearer token, so every parser and the negotiation are reached.
// The first input byte picks the route; the rest is the body.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "api/keylime/verifier_routes.h"
#include "common/base64.h"
#include "common/log.h"
#include "service/keylime/keylime_services.h"
#include "store/stores.h"
#include "verifiers/builtin.h"
#include "verifiers/tpm/tpm_structures.h"

namespace {

using namespace attestd;

constexpr char kId[] = "fuzz-agent";
constexpr char kToken[] = "fuzz-token";

// Keylime vector B's AK (TPM2B_PUBLIC).
std::string VectorAk() {
  std::ifstream in(
      std::string(ATTESTD_TEST_DATA_DIR) + "/keylime/B_test-data_files_emulator/ak.pub",
      std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct FuzzVerifier {
  Stores stores;
  KeylimeServices services;
  std::shared_ptr<api::Router> router;

  FuzzVerifier() {
    SetLogLevel(LogLevel::kOff);
    stores = *OpenStores(StoreOptions{});
    auto registry = std::make_shared<Registry>();
    VerifierContext context;
    context.attesters = stores.attesters;
    (void)RegisterBuiltinVerifiers(*registry, context);
    auto sessions = std::make_shared<SessionService>(stores.sessions, stores.queue, registry,
                                                     SessionServiceOptions{});
    KeylimeOptions options;
    options.mode = VerifierMode::kPush;
    options.attestation.quote_interval_s = 0;
    services = MakeKeylimeServices(stores, sessions, registry, options);
    router = api::MakeVerifierRouter(services, std::make_shared<api::ListenerAddress>());
    VerifierAgent agent;
    agent.agent_id = kId;
    agent.ak_tpm = VectorAk();
    agent.tpm_policy =
        R"({"15":["0000000000000000000000000000000000000000000000000000000000000000"]})";
    agent.accept_tpm_hash_algs = {"sha256", "sha1"};
    agent.accept_tpm_encryption_algs = {"rsa"};
    agent.accept_tpm_signing_algs = {"rsassa"};
    (void)services.agents->Enrol(agent);
  }

  // Every input starts from the same agent: a fresh token, no attestation.
  void Reset() {
    std::string hash = HexEncode(tpm::Digest(*tpm::HashAlgByName("sha256"), kToken));
    (void)stores.agents->Update(kId, [&](VerifierAgent& a) {
      a.token_hash = hash;
      a.token_expires_at_ms = INT64_MAX / 2;
      a.attestations.clear();
      return Status::Ok();
    });
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FuzzVerifier* v = new FuzzVerifier();
  if (size == 0) return 0;
  v->Reset();
  static const std::pair<const char*, const char*> kRoutes[] = {
      {"POST", "/v3.0/sessions"},
      {"PATCH", "/v3.0/sessions/00000000-0000-4000-8000-000000000000"},
      {"POST", "/v3.0/agents/fuzz-agent/attestations"},
      {"PATCH", "/v3.0/agents/fuzz-agent/attestations/latest"},
  };
  const auto& [method, path] = kRoutes[data[0] % 4];
  api::HttpRequest req;
  req.method = method;
  req.path = path;
  req.headers["authorization"] = std::string("Bearer ") + kToken;
  req.body.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  auto outcome = v->router->Dispatch(req);
  if (outcome.response.status >= 500) __builtin_trap();  // bad input is a clean 4xx
  return 0;
}
