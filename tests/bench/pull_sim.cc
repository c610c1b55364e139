// pull_sim: N simulated Keylime pull agents in one process, for
// pull_bench. Each agent has its own address (127.1.x.y) and its own
// software ECC P-256 AK, and answers every quote request with a real TPM2
// quote built and signed in software (the structures a TPM makes, marshalled
// with libtss2-mu), so the benchmark measures attestd rather than a TPM
// simulator: a request costs one ECDSA signature here.
//   pull_sim --agents N --client-ca FILE --dir DIR [--threads T]
// One mTLS listener on 0.0.0.0 serves them all (every 127.* destination
// reaches it); the agent is the request's Host header, as attestd's client
// sends the agent's IP there. Before serving it writes into DIR:
//   agents.tsv    agent_id <TAB> ip <TAB> base64(TPM2B_PUBLIC of the AK)
//   mtls_cert.pem the server certificate every agent registers
//   port          the listener's port
// then prints "ready <port>". SIGUSR1 opens a measurement window, SIGUSR2
// closes it: the simulator then prints each agent's longest gap between two
// quote requests within it (what "attested within its interval" means,
// seen from the agent, to the millisecond). SIGTERM/SIGINT: prints its
// counters and CPU seconds and exits.
//
// Routes (Keylime's agent API): GET /version, GET /:v/quotes/integrity,
// POST /:v/keys/vkey. The quote covers the mask's PCRs plus PCR 16; every
// PCR is zero except PCR 16, which holds the data-PCR value of the shared
// RSA "NK" public key the answers carry (the binding attestd checks).
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <sys/resource.h>
#include <tss2/tss2_mu.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/http_server.h"
#include "api/router.h"
#include "common/base64.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "common/openssl_ptr.h"
#include "server/tls_material.h"
#include "service/keylime/pull_crypto.h"
#include "tests/support/pull_agent.h"
#include "verifiers/tpm/ak.h"
#include "verifiers/tpm/pcrblob.h"
#include "verifiers/tpm/public_key.h"
#include "verifiers/tpm/tpm_structures.h"

using namespace attestd;

namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>>;

struct Options {
  int agents = 0;
  int threads = 1;
  std::string client_ca, dir;
};

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--agents")
      o->agents = std::atoi(argv[i + 1]);
    else if (a == "--threads")
      o->threads = std::atoi(argv[i + 1]);
    else if (a == "--client-ca")
      o->client_ca = argv[i + 1];
    else if (a == "--dir")
      o->dir = argv[i + 1];
    else
      return false;
  }
  // 250 addresses in each of 127.1.0-249.*: AgentIp's range.
  return o->agents > 0 && o->agents <= 250 * 250 && o->threads > 0 && !o->client_ca.empty() &&
         !o->dir.empty();
}

// attestd keeps a connection per agent: 10k agents need 10k descriptors.
void RaiseFileLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

// Agent i's address: 250 per /24 so no octet is 0 or 255; the third octet
// stays under 250 (ParseOptions caps the count).
std::string AgentIp(int i) {
  return "127.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}

uint64_t MonotonicMillis() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000 + static_cast<uint64_t>(t.tv_nsec) / 1000000;
}

struct Agent {
  std::string id, ip;
  PkeyPtr key;
  std::string tpm2b_public;  // the AK as attestd enrols it
  std::string name;          // nameAlg ‖ SHA-256(TPMT_PUBLIC): the quote's qualifiedSigner
  std::atomic<uint64_t> clock{0};
  // Quote requests (monotonic ms), for the gaps between them.
  std::atomic<int64_t> last_request{0}, max_gap{0};

  // The TPM clock goes forward between two quotes, as attestd checks.
  uint64_t NextClock() {
    uint64_t now = MonotonicMillis(), last = clock.load();
    uint64_t next = std::max(now, last + 1);
    while (!clock.compare_exchange_weak(last, next)) next = std::max(now, last + 1);
    return next;
  }
};

// The TPMT_PUBLIC a TPM gives an ECDSA-P256 attestation key, with the
// attributes attestd requires of an AK (restricted signing, fixedTPM…).
std::unique_ptr<Agent> MakeAgent(int i) {
  auto a = std::make_unique<Agent>();
  a->id = "sim-" + std::to_string(i);
  a->ip = AgentIp(i);
  a->key.reset(EVP_EC_gen("P-256"));
  if (!a->key) return nullptr;
  TPMT_PUBLIC pub{};
  pub.type = TPM2_ALG_ECC;
  pub.nameAlg = TPM2_ALG_SHA256;
  pub.objectAttributes = tpm::kAkRequiredAttributes;
  TPMS_ECC_PARMS& p = pub.parameters.eccDetail;
  p.symmetric.algorithm = TPM2_ALG_NULL;
  p.scheme.scheme = TPM2_ALG_ECDSA;
  p.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  p.curveID = TPM2_ECC_NIST_P256;
  p.kdf.scheme = TPM2_ALG_NULL;
  if (!tpm::FillTpmPublicKey(a->key.get(), &pub).ok()) return nullptr;
  auto area = tpm::MarshalPublicArea(pub);
  if (!area.ok()) return nullptr;
  a->tpm2b_public =
      std::string{static_cast<char>(area->size() >> 8), static_cast<char>(area->size() & 0xff)} +
      *area;
  a->name = std::string("\x00\x0b", 2) + tpm::Digest(*tpm::HashAlgByName("sha256"), *area);
  return a;
}

// What a quote over one PCR mask carries; the same for every agent, since
// all agents have the same PCR values.
struct PcrSet {
  TPML_PCR_SELECTION selection{};
  std::string digest;   // pcrDigest: SHA-256 of the selected values, ascending
  std::string pcrblob;  // tpm2-tools serialized form (the quote's third part)
};

PcrSet MakePcrSet(uint32_t mask, const std::string& pcr16) {
  PcrSet s;
  s.selection.count = 1;
  TPMS_PCR_SELECTION& sel = s.selection.pcrSelections[0];
  sel.hash = TPM2_ALG_SHA256;
  sel.sizeofSelect = 3;
  tpm::PcrBlob blob;
  tpm::PcrBankSelection bank;
  bank.hash = TPM2_ALG_SHA256;
  std::string values;
  for (int p = 0; p < 24; ++p) {
    if (!(mask & (1u << p))) continue;
    sel.pcrSelect[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
    bank.select[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
    std::string v = p == keylime::kDataPcr ? pcr16 : std::string(32, '\0');
    values += v;
    blob.values.push_back(tpm::PcrValue{TPM2_ALG_SHA256, p, v});
  }
  blob.selection.push_back(bank);
  s.digest = tpm::Digest(*tpm::HashAlgByName("sha256"), values);
  s.pcrblob = tpm::SerializePcrBlob(blob);
  return s;
}

template <typename T>
void SetTpm2b(T* b, const std::string& bytes) {
  b->size = static_cast<UINT16>(bytes.size());
  std::memcpy(b->buffer, bytes.data(), bytes.size());
}

// The marshalled TPMS_ATTEST of TPM2_Quote; empty if it does not fit.
std::string MarshalQuoteAttest(const std::string& signer, const std::string& nonce, uint64_t clock,
                               const PcrSet& pcrs) {
  TPMS_ATTEST a{};
  a.magic = TPM2_GENERATED_VALUE;
  a.type = TPM2_ST_ATTEST_QUOTE;
  a.qualifiedSigner.size = static_cast<UINT16>(signer.size());
  std::memcpy(a.qualifiedSigner.name, signer.data(), signer.size());
  SetTpm2b(&a.extraData, nonce);
  a.clockInfo.clock = clock;
  a.clockInfo.resetCount = 1;
  a.clockInfo.restartCount = 0;
  a.clockInfo.safe = 1;
  a.firmwareVersion = 0x2019102300160000;
  a.attested.quote.pcrSelect = pcrs.selection;
  SetTpm2b(&a.attested.quote.pcrDigest, pcrs.digest);
  uint8_t buf[sizeof(TPMS_ATTEST)];
  size_t off = 0;
  if (Tss2_MU_TPMS_ATTEST_Marshal(&a, buf, sizeof buf, &off) != TSS2_RC_SUCCESS) return "";
  return std::string(reinterpret_cast<char*>(buf), off);
}

// TPMT_SIGNATURE (ECDSA, SHA-256) over `message`, marshalled; empty on error.
std::string SignQuote(EVP_PKEY* key, const std::string& message) {
  std::unique_ptr<EVP_MD_CTX, OpenSslFree<EVP_MD_CTX_free>> md(EVP_MD_CTX_new());
  unsigned char der[80];
  size_t der_len = sizeof der;
  if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(md.get(), der, &der_len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return "";
  }
  const unsigned char* p = der;
  std::unique_ptr<ECDSA_SIG, OpenSslFree<ECDSA_SIG_free>> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  if (!sig) return "";
  TPMT_SIGNATURE t{};
  t.sigAlg = TPM2_ALG_ECDSA;
  t.signature.ecdsa.hash = TPM2_ALG_SHA256;
  t.signature.ecdsa.signatureR.size = 32;
  t.signature.ecdsa.signatureS.size = 32;
  BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), t.signature.ecdsa.signatureR.buffer, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), t.signature.ecdsa.signatureS.buffer, 32);
  uint8_t buf[sizeof(TPMT_SIGNATURE)];
  size_t off = 0;
  if (Tss2_MU_TPMT_SIGNATURE_Marshal(&t, buf, sizeof buf, &off) != TSS2_RC_SUCCESS) return "";
  return std::string(reinterpret_cast<char*>(buf), off);
}

class Simulator {
 public:
  bool Init(int agents);
  std::shared_ptr<api::Router> MakeRouter();
  bool WriteFiles(const std::string& dir, const std::string& cert_pem, int port) const;
  void PrintCounters() const;
  void OpenWindow();
  void CloseWindow();  // prints the gaps

 private:
  Agent* AgentOf(const api::HttpRequest& req);
  const PcrSet& PcrsFor(uint32_t mask);
  api::HttpResponse Quote(const api::HttpRequest& req);
  void NoteRequest(Agent& agent);

  std::vector<std::unique_ptr<Agent>> agents_;
  std::unordered_map<std::string, Agent*> by_ip_;  // read-only once serving
  std::string nk_pem_, pcr16_;
  std::shared_mutex pcr_mu_;
  std::map<uint32_t, std::unique_ptr<PcrSet>> pcr_sets_;  // by mask, under pcr_mu_
  std::atomic<int64_t> quotes_{0}, vkeys_{0}, unknown_{0}, errors_{0};
  std::atomic<int64_t> window_start_{INT64_MAX}, window_quotes_{0};
};

void Simulator::NoteRequest(Agent& agent) {
  int64_t now = static_cast<int64_t>(MonotonicMillis());
  int64_t prev = agent.last_request.exchange(now);
  // A gap that ends in the window counts whole (its start may precede it).
  if (now < window_start_.load() || prev == 0) return;
  ++window_quotes_;
  int64_t gap = now - prev, max = agent.max_gap.load();
  while (gap > max && !agent.max_gap.compare_exchange_weak(max, gap)) {
  }
}

void Simulator::OpenWindow() {
  for (auto& a : agents_) a->max_gap = 0;
  window_quotes_ = 0;
  window_start_ = static_cast<int64_t>(MonotonicMillis());
}

// An agent not asked since its last request counts the time up to now as a
// gap too (one never asked in the window: the whole window).
void Simulator::CloseWindow() {
  int64_t start = window_start_.exchange(INT64_MAX);
  int64_t now = static_cast<int64_t>(MonotonicMillis());
  std::vector<int64_t> gaps;
  for (auto& a : agents_) {
    int64_t open = now - std::max(start, a->last_request.load());
    gaps.push_back(std::max(a->max_gap.load(), open));
  }
  std::sort(gaps.begin(), gaps.end());
  std::printf("window_ms=%lld window_quotes=%lld max_gap_ms=%lld median_max_gap_ms=%lld\n",
              static_cast<long long>(now - start), static_cast<long long>(window_quotes_.load()),
              static_cast<long long>(gaps.back()), static_cast<long long>(gaps[gaps.size() / 2]));
  std::fflush(stdout);
}

bool Simulator::Init(int agents) {
  nk_pem_ = testing::NewRsaKey().second;
  auto pcr16 = keylime::DataPcrValue("sha256", nk_pem_);
  if (!pcr16.ok()) return false;
  pcr16_ = *pcr16;
  for (int i = 0; i < agents; ++i) {
    auto a = MakeAgent(i);
    if (!a) return false;
    by_ip_[a->ip] = a.get();
    agents_.push_back(std::move(a));
  }
  return true;
}

// The agent the request is for: its Host header, without a port.
Agent* Simulator::AgentOf(const api::HttpRequest& req) {
  std::string host(req.header("host").value_or(""));
  if (size_t colon = host.find(':'); colon != std::string::npos) host.resize(colon);
  auto it = by_ip_.find(host);
  if (it != by_ip_.end()) return it->second;
  ++unknown_;
  return nullptr;
}

const PcrSet& Simulator::PcrsFor(uint32_t mask) {
  {
    std::shared_lock<std::shared_mutex> lock(pcr_mu_);
    auto it = pcr_sets_.find(mask);
    if (it != pcr_sets_.end()) return *it->second;
  }
  std::unique_lock<std::shared_mutex> lock(pcr_mu_);
  auto& slot = pcr_sets_[mask];
  if (!slot) slot = std::make_unique<PcrSet>(MakePcrSet(mask, pcr16_));
  return *slot;
}

api::HttpResponse Simulator::Quote(const api::HttpRequest& req) {
  Agent* agent = AgentOf(req);
  if (!agent) return testing::AgentEnvelope(404, "Not Found");
  std::string nonce(req.query_param("nonce").value_or(""));
  if (nonce.empty() || nonce.size() > sizeof(TPM2B_DATA::buffer)) {
    ++errors_;
    return testing::AgentEnvelope(400, "nonce not provided as an HTTP parameter in request");
  }
  std::string mask_text(req.query_param("mask").value_or("0x0"));
  uint32_t mask = static_cast<uint32_t>(std::strtoul(mask_text.c_str(), nullptr, 16));
  const PcrSet& pcrs = PcrsFor((mask & 0xffffff) | (1u << keylime::kDataPcr));
  std::string attest = MarshalQuoteAttest(agent->name, nonce, agent->NextClock(), pcrs);
  std::string sig = attest.empty() ? "" : SignQuote(agent->key.get(), attest);
  if (sig.empty()) {
    ++errors_;
    return testing::AgentEnvelope(500, "TPM error");
  }
  ++quotes_;
  NoteRequest(*agent);
  JsonWriter w;
  w.BeginObject();
  w.Key("quote").String("r" + Base64Encode(attest) + ":" + Base64Encode(sig) + ":" +
                        Base64Encode(pcrs.pcrblob));
  w.Key("hash_alg").String("sha256");
  w.Key("enc_alg").String("rsa");
  w.Key("sign_alg").String("ecdsa");
  if (req.query_param("partial").value_or("1") == "0") w.Key("pubkey").String(nk_pem_);
  w.Key("boottime").Int(1700000000);
  w.EndObject();
  return testing::AgentEnvelope(200, "Success", w.Take());
}

std::shared_ptr<api::Router> Simulator::MakeRouter() {
  auto router = std::make_shared<api::Router>([](int status, std::string_view detail) {
    return testing::AgentEnvelope(status, std::string(detail));
  });
  router->set_ignore_trailing_slash(true);
  router->Add("GET", "/version", [this](const api::HttpRequest& r) {
    if (!AgentOf(r)) return testing::AgentEnvelope(404, "Not Found");
    return testing::AgentEnvelope(200, "Success", "{\"supported_version\": \"2.1\"}");
  });
  router->Add("GET", "/:v/quotes/integrity",
              [this](const api::HttpRequest& r) { return Quote(r); });
  router->Add("POST", "/:v/keys/vkey", [this](const api::HttpRequest& r) {
    if (!AgentOf(r)) return testing::AgentEnvelope(404, "Not Found");
    ++vkeys_;
    return testing::AgentEnvelope(200, "Success");
  });
  return router;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

bool Simulator::WriteFiles(const std::string& dir, const std::string& cert_pem, int port) const {
  std::string tsv;
  for (const auto& a : agents_)
    tsv += a->id + "\t" + a->ip + "\t" + Base64Encode(a->tpm2b_public) + "\n";
  return WriteFile(dir + "/agents.tsv", tsv) && WriteFile(dir + "/mtls_cert.pem", cert_pem) &&
         WriteFile(dir + "/port", std::to_string(port) + "\n");
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void Simulator::PrintCounters() const {
  std::printf("quotes=%lld vkeys=%lld unknown_hosts=%lld errors=%lld cpu_s=%.2f\n",
              static_cast<long long>(quotes_.load()), static_cast<long long>(vkeys_.load()),
              static_cast<long long>(unknown_.load()), static_cast<long long>(errors_.load()),
              CpuSeconds());
  std::fflush(stdout);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The listener all agents share: mTLS with a certificate of its own,
// clients issued by `client_ca`; attestd may open a connection per agent
// at once, so the handshake caps are raised past the agent count.
std::unique_ptr<api::HttpServer> StartServer(const Options& o, const TlsMaterial& tls,
                                             std::shared_ptr<api::Router> router) {
  api::ListenerOptions lo;
  lo.name = "pull-sim";
  lo.address = "0.0.0.0:0";
  lo.threads = o.threads;
  lo.tls_cert = tls.server_cert;
  lo.tls_key = tls.server_key;
  lo.tls_ca = o.client_ca;
  lo.max_handshakes = std::max(1024, o.agents);
  lo.max_handshakes_per_address = lo.max_handshakes;
  auto server = std::make_unique<api::HttpServer>(lo, std::move(router));
  if (!server->Start().ok()) return nullptr;
  return server;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) {
    std::fprintf(stderr, "usage: pull_sim --agents N --client-ca FILE --dir DIR [--threads T]\n");
    return 2;
  }
  SetLogLevel(LogLevel::kOff);
  RaiseFileLimit();
  // Signals are taken with sigwait: blocked before the server's threads
  // start, so they inherit the mask and none of them is interrupted.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGUSR1);
  sigaddset(&stop, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  auto tls = EnsureTlsMaterial(o.dir, "agent", {"127.0.0.1"});
  Simulator sim;
  if (!tls.ok() || !sim.Init(o.agents)) {
    std::fprintf(stderr, "pull_sim: setup failed\n");
    return 1;
  }
  auto server = StartServer(o, *tls, sim.MakeRouter());
  if (!server || !sim.WriteFiles(o.dir, Slurp(tls->server_cert), server->port())) {
    std::fprintf(stderr, "pull_sim: cannot serve\n");
    return 1;
  }
  std::printf("ready %d\n", server->port());
  std::fflush(stdout);
  for (int sig = 0; sigwait(&stop, &sig) == 0 && sig != SIGTERM && sig != SIGINT;) {
    if (sig == SIGUSR1) sim.OpenWindow();
    if (sig == SIGUSR2) sim.CloseWindow();
  }
  server->Stop();
  sim.PrintCounters();
  return 0;
}
