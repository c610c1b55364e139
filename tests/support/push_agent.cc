#include "tests/support/push_agent.h"

#include <cstdlib>
#include <sstream>

#include "common/base64.h"
#include "common/json_writer.h"
#include "tests/support/json.h"

namespace attestd::testing {

namespace {

constexpr char kJsonApi[] = "application/vnd.api+json";

std::string KeyAlgorithm(const std::string& key) { return key == "ecc" ? "ecc" : "rsa"; }
std::string KeyScheme(const std::string& key) {
  return key == "ecc" ? "ecdsa" : key == "rsapss" ? "rsapss" : "rsassa";
}

// "{"sha256":[0,23]}" → "sha256:0,23" (tpm2_quote's -l form).
std::string PcrList(const std::string& selected, const std::string& bank) {
  auto list = JsonAt(selected, "/" + bank);
  if (!list || list->size() < 2) return "";
  std::string inner = list->substr(1, list->size() - 2);
  return bank + ":" + inner;
}

}  // namespace

PushAgent::PushAgent(int verifier_port, const std::string& ca, Swtpm* tpm, std::string agent_id,
                     std::string key)
    : tpm_(tpm), agent_id_(std::move(agent_id)), key_(std::move(key)) {
  http_ = ca.empty() ? std::make_unique<HttpClient>(verifier_port)
                     : std::make_unique<HttpClient>(verifier_port, TlsClientOptions{ca, "", ""});
}

std::string PushAgent::AkWithoutPrefix() const {
  std::string tpm2b = tpm_->AkPublic(key_);
  return tpm2b.size() > 2 ? tpm2b.substr(2) : "";
}

HttpResponse PushAgent::Request(const std::string& method, const std::string& target,
                                const std::string& body) {
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", kJsonApi},
                                                              {"Accept", kJsonApi}};
  if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
  return http_->Request(method, target, headers, body);
}

HttpResponse PushAgent::Authenticate() {
  JsonWriter w;
  w.BeginObject().Key("data").BeginObject().Key("type").String("session");
  w.Key("attributes").BeginObject().Key("agent_id").String(agent_id_);
  w.Key("authentication_supported").BeginArray().BeginObject();
  w.Key("authentication_class").String("pop").Key("authentication_type").String("tpm_pop");
  w.EndObject().EndArray().EndObject().EndObject().EndObject();
  HttpResponse r = Request("POST", "/v3.0/sessions", w.Take());
  if (r.status != 200) return r;
  std::string id = JsonAt(r.body, "/data/id").value_or("");
  std::string challenge =
      Base64DecodeStd(
          JsonAt(r.body, "/data/attributes/authentication_requested/0/chosen_parameters/challenge")
              .value_or(""))
          .value_or("");
  auto cert = tpm_->Certify(key_, key_, challenge);
  if (!cert) return HttpResponse{};
  JsonWriter p;
  p.BeginObject().Key("data").BeginObject().Key("type").String("session").Key("id").String(id);
  p.Key("attributes").BeginObject().Key("agent_id").String(agent_id_);
  p.Key("authentication_provided").BeginArray().BeginObject();
  p.Key("authentication_class").String("pop").Key("authentication_type").String("tpm_pop");
  p.Key("data").BeginObject().Key("message").String(Base64Encode(cert->attest));
  p.Key("signature").String(Base64Encode(cert->signature)).EndObject();
  p.EndObject().EndArray().EndObject().EndObject().EndObject();
  HttpResponse done = Request("PATCH", "/v3.0/sessions/" + id, p.Take());
  if (done.status == 200 && JsonAt(done.body, "/data/attributes/evaluation") == "pass") {
    token_ = JsonAt(done.body, "/data/attributes/token").value_or("");
  }
  return done;
}

std::string PushAgent::Capabilities() const {
  JsonWriter w;
  w.BeginObject().Key("data").BeginObject().Key("type").String("attestation");
  w.Key("attributes").BeginObject().Key("evidence_supported").BeginArray();
  w.BeginObject().Key("evidence_class").String("certification");
  w.Key("evidence_type").String("tpm_quote").Key("capabilities").BeginObject();
  w.Key("component_version").String("2.0");
  w.Key("hash_algorithms").BeginArray().String("sha256").EndArray();
  w.Key("signature_schemes").BeginArray().String(KeyScheme(key_)).EndArray();
  w.Key("available_subjects").BeginObject().Key("sha256").BeginArray();
  for (int i = 0; i < 24; ++i) w.Int(i);
  w.EndArray().EndObject();
  w.Key("certification_keys").BeginArray().BeginObject();
  w.Key("key_class").String("asymmetric").Key("key_algorithm").String(KeyAlgorithm(key_));
  w.Key("key_size").Int(key_ == "ecc" ? 256 : 2048);
  w.Key("server_identifier").String("ak").Key("local_identifier").String("att_local_identifier");
  w.Key("public").String(Base64Encode(AkWithoutPrefix()));
  w.Key("allowable_hash_algorithms").BeginArray().String("sha256").EndArray();
  w.Key("allowable_signature_schemes").BeginArray().String(KeyScheme(key_)).EndArray();
  w.EndObject().EndArray().EndObject().EndObject();
  w.EndArray();
  w.Key("system_info").BeginObject().Key("boot_time").String("2026-12-06T12:00:00Z").EndObject();
  w.EndObject().EndObject().EndObject();
  return w.Take();
}

PushAgent::Round PushAgent::Attest() {
  Round round;
  round.negotiation =
      Request("POST", "/v3.0/agents/" + agent_id_ + "/attestations", Capabilities());
  if (round.negotiation.status != 201) return round;
  const std::string& body = round.negotiation.body;
  const std::string params = "/data/attributes/evidence_requested/0/chosen_parameters";
  std::string challenge =
      Base64DecodeStd(JsonAt(body, params + "/challenge").value_or("")).value_or("");
  round.hash_algorithm = JsonAt(body, params + "/hash_algorithm").value_or("");
  round.signature_scheme = JsonAt(body, params + "/signature_scheme").value_or("");
  std::string pcrs =
      PcrList(JsonAt(body, params + "/selected_subjects").value_or("{}"), round.hash_algorithm);
  auto q = tpm_->Quote(key_, challenge, pcrs, round.hash_algorithm, round.signature_scheme);
  if (!q) return round;
  JsonWriter w;
  w.BeginObject().Key("data").BeginObject().Key("type").String("attestation");
  w.Key("attributes").BeginObject().Key("evidence_collected").BeginArray().BeginObject();
  w.Key("evidence_class").String("certification").Key("evidence_type").String("tpm_quote");
  w.Key("data").BeginObject().Key("subject_data").String(Base64Encode(q->pcrblob));
  w.Key("message").String(Base64Encode(q->attest));
  w.Key("signature").String(Base64Encode(q->signature)).EndObject();
  w.EndObject().EndArray().EndObject().EndObject().EndObject();
  round.submission = Request("PATCH", round.negotiation.header("location"), w.Take());
  auto next = JsonAt(round.submission.body, "/meta/seconds_to_next_attestation");
  if (next) round.seconds_to_next = std::atoll(next->c_str());
  return round;
}

}  // namespace attestd::testing
