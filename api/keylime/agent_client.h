// HttpsAgentClient: the AgentClient of the Keylime pull model over HTTPS
// (Boost.Beast), with Keylime's wire format: the agent's JSON envelope
// {"code","status","results"}, query parameters, and the revocation message.
//
// Promises (beyond AgentClient's):
// - mTLS as Keylime's verifier does it: the client certificate is the
//   verifier's; the agent's server certificate must be the one it
//   registered (`mtls_cert`, trusted as the only anchor, no hostname
//   check). An empty mtls_cert means plain HTTP (Keylime's "disabled").
// - Connections are kept alive per agent between polls (https_pool.h);
//   every step of one call (resolve, connect, TLS, write, read) shares one
//   deadline, `timeout_ms`.
// - Answers over `max_body` bytes are refused (kInvalidArgument).
// - Webhook URLs are http:// or https:// (server checked against the
//   system's CAs and the URL's host name).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "service/keylime/agent_client.h"

namespace attestd::api::keylime {

struct AgentClientOptions {
  std::string client_cert;  // PEM file: the verifier's client certificate
  std::string client_key;   // PEM file
  int64_t timeout_ms = 10000;
  size_t max_body = 64 * 1024 * 1024;  // an IMA log may be large
  // How long an idle connection to an agent is kept (0: none is), and how
  // many are kept in all.
  int64_t idle_timeout_ms = 60000;
  size_t max_idle = 16384;
};

// The revocation message body Keylime sends: {"msg": <JSON text of the
// message>, "signature": <base64 RSA-PSS signature of msg, "" unsigned>}.
Result<std::string> RevocationBody(const Revocation& revocation);

// The agent's answers to GET /version and GET …/quotes/integrity (the
// whole 200 envelope). Any bytes; kInvalidArgument unless the documented
// shape: results.supported_versions (list) or results.supported_version;
// results.quote/hash_alg/enc_alg/sign_alg strings, optional pubkey,
// ima_measurement_list, mb_measurement_list (strings),
// ima_measurement_list_entry, boottime (integers).
Result<std::vector<std::string>> ParseVersionAnswer(std::string_view body);
Result<AgentQuote> ParseQuoteAnswer(std::string_view body);

// kInvalidArgument when the client certificate or key cannot be read.
Result<std::shared_ptr<AgentClient>> MakeHttpsAgentClient(const AgentClientOptions& options);

}  // namespace attestd::api::keylime
