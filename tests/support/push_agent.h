// A Keylime push-model agent for tests, speaking rust-keylime's
// keylime-push-model-agent wire format field for field (its
// keylime/src/structures/{sessions,capabilities_negotiation,
// evidence_handling}.rs), with quotes from a real swtpm:
// - HTTPS without a client certificate (it authenticates with the PoP
//   bearer token only);
// - POST /v3.0/sessions {authentication_supported}, then PATCH with
//   authentication_provided[0].data {message, signature} of a TPM2_Certify
//   of the AK by itself over the challenge;
// - capabilities offering sha256 only, the AK's own scheme, every sha256
//   PCR, and the AK as the marshalled TPMT_PUBLIC: no TPM2B size prefix;
// - evidence PATCHed to the Location of the 201, as the Rust agent does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tests/support/http_client.h"
#include "tests/support/swtpm.h"

namespace attestd::testing {

class PushAgent {
 public:
  // `ca`: the verifier's CA (no client certificate is presented); empty:
  // plain HTTP. `key`: a Swtpm key name ("rsa", "ecc", …).
  PushAgent(int verifier_port, const std::string& ca, Swtpm* tpm, std::string agent_id,
            std::string key = "rsa");

  // The AK as the Rust agent offers it: TPMT_PUBLIC, no size prefix.
  std::string AkWithoutPrefix() const;
  // The capabilities document (POST …/attestations).
  std::string Capabilities() const;

  // Proof of possession; the PATCH's answer. Keeps the token on a pass.
  HttpResponse Authenticate();
  const std::string& token() const { return token_; }

  // One attestation round as the Rust agent's state machine runs it.
  struct Round {
    HttpResponse negotiation;  // the POST's answer (201 expected)
    HttpResponse submission;   // the PATCH's answer (202 expected); status 0 if not sent
    std::string hash_algorithm, signature_scheme;
    int64_t seconds_to_next = -1;  // meta.seconds_to_next_attestation; -1 absent
  };
  Round Attest();

  // The client, to send anything else with the agent's token.
  HttpResponse Request(const std::string& method, const std::string& target,
                       const std::string& body = "");

 private:
  Swtpm* tpm_;
  std::string agent_id_, key_;
  std::unique_ptr<HttpClient> http_;
  std::string token_;
};

}  // namespace attestd::testing
