// AgentClient: how the verifier reaches a Keylime pull agent and a
// revocation webhook. The domain (PullService, RevocationNotifier) speaks
// in these types; the wire (HTTPS, mTLS, JSON) is the api layer's
// implementation, injected at wiring.
//
// Promises of every implementation:
// - Calls block for at most the implementation's request timeout.
// - kUnavailable: no usable answer (connection refused or reset, TLS
//   failure, timeout) or HTTP 408/500/599 — Keylime retries these.
// - kConflict: the agent answered 400 "API version not supported"
//   (the caller renegotiates through Versions).
// - kInvalidArgument: any other answer that is not a success, or a body
//   that does not have the documented shape (the message says which).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/value.h"

namespace attestd {

// Where a pull agent listens and how to trust it.
struct AgentEndpoint {
  std::string ip;
  int port = 0;
  std::string mtls_cert;    // PEM the agent's server certificate must equal; empty: plain HTTP
  std::string api_version;  // "2.1": routes are under /v2.1/
};

// GET /v{api}/quotes/integrity parameters.
struct QuoteRequest {
  std::string nonce;    // alphanumeric
  std::string mask;     // "0x…"
  bool partial = true;  // false: the agent adds its public key
  int64_t ima_ml_entry = 0;
};

// The agent's answer (`results` of its envelope).
struct AgentQuote {
  std::string quote;  // Keylime quote string "r…:…:…"
  std::string hash_alg, enc_alg, sign_alg;
  std::string pubkey;  // PEM; empty when partial
  std::optional<std::string> ima_measurement_list;
  int64_t ima_measurement_list_entry = 0;
  std::optional<std::string> mb_measurement_list;  // base64
  int64_t boottime = 0;
};

// Keylime's revocation message (cloud_verifier_common.prepare_error), before
// it is put in JSON and signed.
struct Revocation {
  std::string type = "revocation";  // "revocation" | "comm_error"
  std::string agent_id;
  std::string ip;
  int port = 0;
  std::string tpm_policy;  // JSON text, as enrolled
  std::string meta_data;   // JSON text, as enrolled
  std::string event_time;  // asctime() form
  // The failure that caused it (absent for some comm_error messages).
  std::string event_id;        // e.g. "pcr_validation.invalid_pcr_23"
  std::string severity_label;  // e.g. "emergency"
  Value context;               // the failure's context
  // PEM RSA private key the message is signed with (the tenant's
  // revocation key); empty: sent unsigned.
  std::string signing_key;
};

class AgentClient {
 public:
  virtual ~AgentClient() = default;

  // GET /version: the API versions the agent supports.
  virtual Result<std::vector<std::string>> Versions(const AgentEndpoint& agent) = 0;
  virtual Result<AgentQuote> GetQuote(const AgentEndpoint& agent, const QuoteRequest& request) = 0;
  // POST /v{api}/keys/vkey {"encrypted_key": b64}.
  virtual Status PostVKey(const AgentEndpoint& agent, const std::string& encrypted_key) = 0;
  // POST /v{api}/notifications/revocation {"msg": …, "signature": …}.
  virtual Status PostRevocation(const AgentEndpoint& agent, const Revocation& revocation) = 0;
  // POST `url` with the same body (the revocation webhook).
  virtual Status PostWebhook(const std::string& url, const Revocation& revocation) = 0;

  // GetQuote and PostVKey without holding the calling thread while the
  // agent answers (a TPM quote takes tens to hundreds of ms): `done` runs
  // exactly once, on a thread of the client's or before the call returns,
  // and must not block. These defaults answer inline through the blocking
  // calls.
  using QuoteDone = std::function<void(Result<AgentQuote>)>;
  using StatusDone = std::function<void(Status)>;
  virtual void GetQuoteAsync(const AgentEndpoint& agent, const QuoteRequest& request,
                             QuoteDone done) {
    done(GetQuote(agent, request));
  }
  virtual void PostVKeyAsync(const AgentEndpoint& agent, const std::string& encrypted_key,
                             StatusDone done) {
    done(PostVKey(agent, encrypted_key));
  }
};

}  // namespace attestd
