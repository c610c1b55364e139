#include "tests/support/pull_agent.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "common/base64.h"
#include "common/json_writer.h"
#include "common/time_util.h"
#include "server/tls_material.h"
#include "tests/support/esapi_quoter.h"
#include "tests/support/json.h"
#include "verifiers/tpm/tpm_structures.h"

namespace attestd::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

EVP_PKEY* ReadKey(const std::string& pem, bool priv) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = priv ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr)
                     : PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return k;
}

std::string RsaOaepDecrypt(const std::string& priv_pem, const std::string& ciphertext) {
  EVP_PKEY* key = ReadKey(priv_pem, true);
  if (!key) return "";
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  std::string out(512, '\0');
  size_t size = out.size();
  bool ok = EVP_PKEY_decrypt_init(ctx) > 0 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
            EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) > 0 &&
            EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) > 0 &&
            EVP_PKEY_decrypt(ctx, reinterpret_cast<unsigned char*>(out.data()), &size,
                             reinterpret_cast<const unsigned char*>(ciphertext.data()),
                             ciphertext.size()) > 0;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!ok) return "";
  out.resize(size);
  return out;
}

// The list from entry `first` on, and the entry it starts with: the whole
// list (entry 0) when `first` is past its end, as Keylime's agents answer.
std::pair<std::string, int64_t> ImaEntriesFrom(const std::string& list, int64_t first) {
  size_t at = 0;
  for (int64_t i = 0; i < first; ++i) {
    size_t nl = list.find('\n', at);
    if (nl == std::string::npos) return {list, 0};
    at = nl + 1;
  }
  return {list.substr(at), first};
}

}  // namespace

api::HttpResponse AgentEnvelope(int code, const std::string& status, const std::string& results) {
  api::HttpResponse r;
  r.status = code;
  r.content_type = "application/json";
  r.body = "{\"code\": " + std::to_string(code) + ", \"status\": \"" + status +
           "\", \"results\": " + results + "}";
  return r;
}

std::pair<std::string, std::string> NewRsaKey() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_PUBKEY(pub, key);
  auto text = [](BIO* b) {
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    return std::string(data, static_cast<size_t>(n));
  };
  std::pair<std::string, std::string> out{text(priv), text(pub)};
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(key);
  return out;
}

std::string RsaOaepEncrypt(const std::string& pubkey_pem, const std::string& plaintext) {
  EVP_PKEY* key = ReadKey(pubkey_pem, false);
  if (!key) return "";
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  std::string out(512, '\0');
  size_t size = out.size();
  bool ok = EVP_PKEY_encrypt_init(ctx) > 0 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
            EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) > 0 &&
            EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) > 0 &&
            EVP_PKEY_encrypt(ctx, reinterpret_cast<unsigned char*>(out.data()), &size,
                             reinterpret_cast<const unsigned char*>(plaintext.data()),
                             plaintext.size()) > 0;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!ok) return "";
  out.resize(size);
  return out;
}

std::string HmacSha384Hex(const std::string& key, const std::string& message) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha384(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), md, &len);
  return HexEncode(std::string(reinterpret_cast<char*>(md), len));
}

bool RsaPssVerify(const std::string& pubkey_pem, const std::string& message,
                  const std::string& signature_b64) {
  auto sig = Base64DecodeStd(signature_b64);
  EVP_PKEY* key = ReadKey(pubkey_pem, false);
  if (!sig || !key) {
    EVP_PKEY_free(key);
    return false;
  }
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok =
      EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), nullptr, key) > 0 &&
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) > 0 &&
      EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(key);
  return ok;
}

PullAgent::PullAgent(std::string agent_id, Swtpm* tpm, const std::string& client_ca,
                     std::string api_version)
    : agent_id_(std::move(agent_id)),
      tpm_(tpm),
      api_version_(std::move(api_version)),
      client_ca_(client_ca) {
  auto tls = EnsureTlsMaterial(dir_.path(), "agent", {"127.0.0.1"});
  if (tls.ok()) {
    cert_file_ = tls->server_cert;
    key_file_ = tls->server_key;
    ca_file_ = tls->ca_cert;
    mtls_cert_ = Slurp(cert_file_);
  }
  auto [priv, pub] = NewRsaKey();
  privkey_ = priv;
  pubkey_ = pub;
  router_ = std::make_shared<api::Router>([](int status, std::string_view detail) {
    return AgentEnvelope(status, std::string(detail));
  });
  router_->set_ignore_trailing_slash(true);
  router_->Add("GET", "/version", [this](const api::HttpRequest&) {
    return AgentEnvelope(200, "Success", "{\"supported_version\": \"" + api_version_ + "\"}");
  });
  router_->Add("GET", "/:v/quotes/integrity",
               [this](const api::HttpRequest& r) { return Quote(r); });
  router_->Add("POST", "/:v/keys/ukey", [this](const api::HttpRequest& r) { return Key(r, true); });
  router_->Add("POST", "/:v/keys/vkey",
               [this](const api::HttpRequest& r) { return Key(r, false); });
  router_->Add("GET", "/:v/keys/verify", [this](const api::HttpRequest& r) { return Verify(r); });
  router_->Add("POST", "/:v/notifications/revocation", [this](const api::HttpRequest& r) {
    std::lock_guard<std::mutex> lock(mu_);
    revocations_.push_back(r.body);
    return AgentEnvelope(200, "Success");
  });
}

PullAgent::~PullAgent() { Stop(); }

bool PullAgent::Start() {
  api::ListenerOptions lo;
  lo.name = "test-agent";
  lo.address = "127.0.0.1:" + std::to_string(port_);
  lo.threads = threads_;
  lo.tls_cert = cert_file_;
  lo.tls_key = key_file_;
  lo.tls_ca = client_ca_;
  server_ = std::make_unique<api::HttpServer>(lo, router_);
  if (!server_->Start().ok()) return false;
  port_ = server_->port();
  return true;
}

void PullAgent::Stop() {
  if (!server_) return;
  server_->Stop();
  server_.reset();
}

std::string PullAgent::UKeyBody(const std::string& u, const std::string& k) const {
  JsonWriter w;
  w.BeginObject()
      .Key("encrypted_key")
      .String(Base64Encode(RsaOaepEncrypt(pubkey_, u)))
      .Key("auth_tag")
      .String(HmacSha384Hex(k, agent_id_))
      .EndObject();
  return w.Take();
}

std::vector<std::string> PullAgent::revocations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return revocations_;
}

std::vector<int64_t> PullAgent::quote_times_ms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return quote_times_;
}

void PullAgent::Change(const std::function<void(Logs&)>& change) {
  std::lock_guard<std::mutex> lock(quote_mu_);
  change(logs_);
}

std::vector<int64_t> PullAgent::ima_ml_entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ima_ml_entries_;
}

bool PullAgent::has_key() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !k_.empty();
}

api::HttpResponse PullAgent::Quote(const api::HttpRequest& req) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quote_times_.push_back(NowMillis());
  }
  std::string version = std::string(req.param("v").value_or("")).substr(1);
  if (!min_version_.empty() && version < min_version_) {
    return AgentEnvelope(400, "API version not supported");
  }
  std::string nonce(req.query_param("nonce").value_or(""));
  std::string mask(req.query_param("mask").value_or("0x0"));
  bool partial = req.query_param("partial").value_or("1") == "1";
  if (nonce.empty())
    return AgentEnvelope(400, "nonce not provided as an HTTP parameter in request");
  int64_t ima_ml_entry =
      std::strtoll(std::string(req.query_param("ima_ml_entry").value_or("0")).c_str(), nullptr, 10);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ima_ml_entries_.push_back(ima_ml_entry);
  }
  if (int64_t delay = quote_delay_ms_.load(); delay > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  }
  std::lock_guard<std::mutex> quoting(quote_mu_);
  uint32_t bits = static_cast<uint32_t>(std::stoul(mask, nullptr, 16)) | (1u << 16);
  std::string pcrs;
  std::vector<int> pcr_list;
  for (int p = 0; p < 24; ++p) {
    if (!(bits & (1u << p))) continue;
    pcrs += (pcrs.empty() ? "" : ",") + std::to_string(p);
    pcr_list.push_back(p);
  }
  // Keylime's binding: PCR 16 holds the digest of the agent's public key.
  const tpm::HashAlg* sha256 = tpm::HashAlgByName("sha256");
  std::string key_digest = tpm::Digest(*sha256, pubkey_);
  static std::mutex tpm_mu;  // one TPM, shared by the test's agents
  std::optional<TpmQuote> q;
  if (quoter_) {
    q = quoter_->Quote(nonce, pcr_list, key_digest);
  } else {
    std::lock_guard<std::mutex> lock(tpm_mu);
    if (tpm_->Run({"tpm2_pcrreset", "16"}) != 0 ||
        !tpm_->Extend(16, "sha256", HexEncode(key_digest))) {
      return AgentEnvelope(500, "TPM error");
    }
    q = tpm_->Quote("rsa", nonce, "sha256:" + pcrs, "sha256");
  }
  if (!q) return AgentEnvelope(500, "TPM error");
  ++quotes_;
  JsonWriter w;
  w.BeginObject();
  w.Key("quote").String(q->quote);
  w.Key("hash_alg").String("sha256");
  w.Key("enc_alg").String("rsa");
  w.Key("sign_alg").String("rsassa");
  if (!partial) w.Key("pubkey").String(pubkey_);
  w.Key("boottime").Int(1700000000);
  if (logs_.ima_list && (bits & (1u << 10))) {
    auto [list, first] = ImaEntriesFrom(*logs_.ima_list, ima_ml_entry);
    w.Key("ima_measurement_list").String(list);
    w.Key("ima_measurement_list_entry").Int(first);
  }
  if (logs_.boot_log && (bits & 1u))
    w.Key("mb_measurement_list").String(Base64Encode(*logs_.boot_log));
  w.EndObject();
  return AgentEnvelope(200, "Success", w.Take());
}

api::HttpResponse PullAgent::Key(const api::HttpRequest& req, bool u) {
  auto encrypted = JsonAt(req.body, "/encrypted_key");
  if (!encrypted) return AgentEnvelope(400, "content is invalid");
  auto raw = Base64DecodeStd(*encrypted);
  std::string key = raw ? RsaOaepDecrypt(privkey_, *raw) : "";
  if (key.empty()) return AgentEnvelope(400, "content is invalid");
  std::lock_guard<std::mutex> lock(mu_);
  if (u) {
    auto tag = JsonAt(req.body, "/auth_tag");
    if (!tag) return AgentEnvelope(400, "auth_tag is missing");
    u_ = key;
    auth_tag_ = *tag;
  } else {
    v_ = key;
    ++v_received_;
  }
  TryDerive();
  return AgentEnvelope(200, "Success");
}

void PullAgent::TryDerive() {
  if (u_.empty() || v_.empty() || u_.size() != v_.size()) return;
  std::string k(u_.size(), '\0');
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<char>(u_[i] ^ v_[i]);
  if (HmacSha384Hex(k, agent_id_) == auth_tag_) k_ = k;
}

api::HttpResponse PullAgent::Verify(const api::HttpRequest& req) {
  std::lock_guard<std::mutex> lock(mu_);
  if (k_.empty()) return AgentEnvelope(400, "Bootstrap key not yet available.");
  auto challenge = req.query_param("challenge");
  if (!challenge) return AgentEnvelope(400, "No challenge provided.");
  return AgentEnvelope(200, "Success",
                       "{\"hmac\": \"" + HmacSha384Hex(k_, std::string(*challenge)) + "\"}");
}

}  // namespace attestd::testing
