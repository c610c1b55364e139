// A Keylime pull agent of the test's own, speaking the 6.7.0 Python agent's
// and rust-keylime's wire format over mTLS, with quotes from a real swtpm:
//   GET  /version                         {"supported_version": …}
//   GET  /v{api}/quotes/integrity         a real quote over the nonce, the
//        mask's PCRs plus the data PCR 16 (reset, then extended with the
//        digest of the agent's RSA public key), with "pubkey" unless partial=1
//   POST /v{api}/keys/ukey, /keys/vkey    {"encrypted_key": b64 RSA-OAEP}
//   GET  /v{api}/keys/verify?challenge=c  {"hmac": HMAC-SHA384(K, c)} once
//        U xor V = K and K's HMAC of the agent id matched the auth_tag
//   POST /v{api}/notifications/revocation (kept for the test to read)
// Quotes carry the logs the test set (Change), as Keylime's agents do: the
// IMA ASCII list when the mask has PCR 10, from entry `ima_ml_entry` on
// (the whole list, entry 0, when that is past its end), and the UEFI boot
// log (base64 `mb_measurement_list`) when the mask has PCR 0.
// Its server certificate is what the agent registers as mtls_cert; it asks
// for a client certificate issued by `client_ca` (the verifier's CA).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "api/router.h"
#include "tests/support/processes.h"
#include "tests/support/swtpm.h"

namespace attestd::testing {

class EsapiQuoter;

class PullAgent {
 public:
  // `tpm` may be shared by several agents (quotes are serialized).
  PullAgent(std::string agent_id, Swtpm* tpm, const std::string& client_ca,
            std::string api_version = "2.1");
  ~PullAgent();

  bool Start();  // on the same port as before after a Stop
  void Stop();

  int port() const { return port_; }
  const std::string& agent_id() const { return agent_id_; }
  const std::string& mtls_cert() const { return mtls_cert_; }  // PEM
  const std::string& ca_file() const { return ca_file_; }      // issued mtls_cert
  const std::string& pubkey() const { return pubkey_; }        // PEM

  // U: encrypted to the agent's key as the tenant does, with its auth_tag.
  std::string UKeyBody(const std::string& u, const std::string& k) const;

  int quotes() const { return quotes_.load(); }
  int v_received() const { return v_received_.load(); }
  std::vector<std::string> revocations() const;  // bodies as received
  std::vector<int64_t> quote_times_ms() const;   // when each quote request came
  bool has_key() const;
  // Quotes through `quoter` (ESAPI, no tpm2-tools process) when set.
  // Several enrolled agent ids may share one PullAgent (simulated agents:
  // one address, one key, a real quote per request).
  void set_quoter(EsapiQuoter* quoter) { quoter_ = quoter; }
  // What the agent's quotes carry (none unless set).
  struct Logs {
    std::optional<std::string> ima_list;  // ASCII, one entry a line
    std::optional<std::string> boot_log;  // raw bytes
  };
  // Runs `change` while no quote is taken, so a test extends PCRs and
  // changes the logs the agent serves in one step.
  void Change(const std::function<void(Logs&)>& change);
  // The ima_ml_entry of every quote request, in order.
  std::vector<int64_t> ima_ml_entries() const;
  // Refuses quotes with 400 "API version not supported" below this version.
  void set_min_version(std::string v) { min_version_ = std::move(v); }
  // Answers every quote request `ms` late (a slow agent: polls stay under
  // way that long), concurrently on up to `threads` connections (before Start).
  void set_quote_delay(int64_t ms) { quote_delay_ms_ = ms; }
  void set_threads(int threads) { threads_ = threads; }

 private:
  api::HttpResponse Quote(const api::HttpRequest& req);
  api::HttpResponse Key(const api::HttpRequest& req, bool u);
  api::HttpResponse Verify(const api::HttpRequest& req);
  void TryDerive();  // caller holds mu_

  std::string agent_id_;
  Swtpm* tpm_;
  EsapiQuoter* quoter_ = nullptr;
  std::string api_version_;
  std::string min_version_;
  TempDir dir_;
  std::string cert_file_, key_file_, ca_file_, client_ca_;
  std::string mtls_cert_, pubkey_, privkey_;
  int port_ = 0;
  std::unique_ptr<api::HttpServer> server_;
  std::shared_ptr<api::Router> router_;
  mutable std::mutex mu_;
  std::string u_, v_, k_, auth_tag_;
  std::vector<std::string> revocations_;
  std::vector<int64_t> quote_times_;
  std::vector<int64_t> ima_ml_entries_;
  std::mutex quote_mu_;  // held for a whole quote, and by Change
  Logs logs_;            // under quote_mu_
  std::atomic<int> quotes_{0}, v_received_{0};
  std::atomic<int64_t> quote_delay_ms_{0};
  int threads_ = 2;
};

// RSA-OAEP-SHA1 encryption to a PEM public key (the tenant's U), and
// HMAC-SHA384 hex (Keylime's do_hmac); empty on error.
std::string RsaOaepEncrypt(const std::string& pubkey_pem, const std::string& plaintext);
std::string HmacSha384Hex(const std::string& key, const std::string& message);
// RSA-PSS-SHA256 (max salt) check of a base64 signature with a PEM public key.
bool RsaPssVerify(const std::string& pubkey_pem, const std::string& message,
                  const std::string& signature_b64);
// The agents' answer envelope: {"code": …, "status": …, "results": …}
// (`results` a JSON object's text).
api::HttpResponse AgentEnvelope(int code, const std::string& status,
                                const std::string& results = "{}");
// A fresh RSA-2048 key pair as PEM (private, public).
std::pair<std::string, std::string> NewRsaKey();

}  // namespace attestd::testing
