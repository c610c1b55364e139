#include "store/agent_store.h"

#include <simdjson.h>

#include "common/base64.h"
#include "common/failure_list.h"
#include "common/json_writer.h"
#include "common/value_json.h"
#include "store/policy_store.h"

namespace attestd {

const char* PolicyKindName(PolicyKind kind) {
  return kind == PolicyKind::kRuntime ? "runtime" : "mb";
}

namespace {

void WriteAttestation(JsonWriter& w, const PushAttestation& a) {
  w.BeginObject();
  w.Key("index").Int(a.index);
  w.Key("session_id").String(a.session_id);
  w.Key("stage").String(a.stage);
  w.Key("evaluation").String(a.evaluation);
  w.Key("failure_reason").String(a.failure_reason);
  w.Key("failures");
  WriteFailureList(w, a.failures);
  w.Key("hash_algorithm").String(a.hash_algorithm);
  w.Key("signature_scheme").String(a.signature_scheme);
  w.Key("selected_pcrs").BeginArray();
  for (int p : a.selected_pcrs) w.Int(p);
  w.EndArray();
  const CertificationKey& k = a.certification_key;
  w.Key("certification_key").BeginObject();
  w.Key("key_class").String(k.key_class).Key("key_algorithm").String(k.key_algorithm);
  w.Key("key_size").Int(k.key_size).Key("server_identifier").String(k.server_identifier);
  w.Key("local_identifier").String(k.local_identifier);
  w.Key("public").String(Base64Encode(k.public_tpm2b));
  w.Key("allowable_hash_algorithms").StringArray(k.allowable_hash_algorithms);
  w.Key("allowable_signature_schemes").StringArray(k.allowable_signature_schemes);
  w.EndObject();
  w.Key("challenge").String(a.challenge);
  w.Key("capabilities_received_at").Int(a.capabilities_received_at_ms);
  w.Key("challenges_expire_at").Int(a.challenges_expire_at_ms);
  w.Key("evidence_received_at").Int(a.evidence_received_at_ms);
  w.Key("verification_completed_at").Int(a.verification_completed_at_ms);
  w.EndObject();
}

// Field readers that leave the target untouched when the member is absent
// (records written by an older attestd).
struct Reader {
  simdjson::dom::object obj;
  bool ok = true;

  void Str(std::string_view key, std::string* out) {
    simdjson::dom::element e;
    if (obj.at_key(key).get(e) != simdjson::SUCCESS) return;
    std::string_view s;
    if (e.get_string().get(s) != simdjson::SUCCESS) {
      ok = false;
      return;
    }
    *out = std::string(s);
  }
  void Bytes(std::string_view key, std::string* out) {
    std::string text;
    Str(key, &text);
    if (text.empty()) return;
    auto bytes = Base64DecodeStd(text);
    if (!bytes) {
      ok = false;
      return;
    }
    *out = std::move(*bytes);
  }
  void Int(std::string_view key, int64_t* out) {
    simdjson::dom::element e;
    if (obj.at_key(key).get(e) != simdjson::SUCCESS) return;
    if (e.get_int64().get(*out) != simdjson::SUCCESS) ok = false;
  }
  void Bool(std::string_view key, bool* out) {
    simdjson::dom::element e;
    if (obj.at_key(key).get(e) != simdjson::SUCCESS) return;
    if (e.get_bool().get(*out) != simdjson::SUCCESS) ok = false;
  }
  void Ints(std::string_view key, std::vector<int>* out) {
    simdjson::dom::array arr;
    if (obj.at_key(key).get_array().get(arr) != simdjson::SUCCESS) return;
    for (simdjson::dom::element e : arr) {
      int64_t n = 0;
      if (e.get_int64().get(n) != simdjson::SUCCESS) {
        ok = false;
        return;
      }
      out->push_back(static_cast<int>(n));
    }
  }
  void Failures(std::string_view key, std::vector<Failure>* out) {
    simdjson::dom::array arr;
    if (obj.at_key(key).get_array().get(arr) != simdjson::SUCCESS) return;
    auto list = ParseValueJson(simdjson::minify(arr));
    if (!list.ok()) {
      ok = false;
      return;
    }
    *out = FailureListFromValue(*list);
  }
  void List(std::string_view key, std::vector<std::string>* out) {
    simdjson::dom::array arr;
    if (obj.at_key(key).get_array().get(arr) != simdjson::SUCCESS) return;
    out->clear();
    for (simdjson::dom::element e : arr) {
      std::string_view s;
      if (e.get_string().get(s) != simdjson::SUCCESS) {
        ok = false;
        return;
      }
      out->emplace_back(s);
    }
  }
};

}  // namespace

std::string EncodeAgent(const VerifierAgent& a) {
  JsonWriter w;
  w.BeginObject();
  w.Key("agent_id").String(a.agent_id);
  w.Key("operational_state").Int(static_cast<int>(a.operational_state));
  w.Key("push_model").Bool(a.push_model);
  w.Key("v").String(a.v);
  w.Key("ip").String(a.ip);
  w.Key("port").Int(a.port);
  w.Key("tpm_policy").String(a.tpm_policy);
  w.Key("ak_tpm").String(Base64Encode(a.ak_tpm));
  w.Key("mtls_cert").String(a.mtls_cert);
  w.Key("runtime_policy").String(a.runtime_policy);
  w.Key("runtime_policy_name").String(a.runtime_policy_name);
  w.Key("mb_policy").String(a.mb_policy);
  w.Key("mb_policy_name").String(a.mb_policy_name);
  w.Key("metadata").String(a.metadata);
  w.Key("ima_sign_verification_keys").String(a.ima_sign_verification_keys);
  w.Key("revocation_key").String(a.revocation_key);
  w.Key("accept_tpm_hash_algs").StringArray(a.accept_tpm_hash_algs);
  w.Key("accept_tpm_encryption_algs").StringArray(a.accept_tpm_encryption_algs);
  w.Key("accept_tpm_signing_algs").StringArray(a.accept_tpm_signing_algs);
  w.Key("supported_version").String(a.supported_version);
  w.Key("hash_alg").String(a.hash_alg);
  w.Key("enc_alg").String(a.enc_alg);
  w.Key("sign_alg").String(a.sign_alg);
  w.Key("severity_level").Int(a.severity_level.value_or(-1));
  w.Key("last_event_id").String(a.last_event_id);
  w.Key("attestation_count").Int(a.attestation_count);
  w.Key("last_received_quote").Int(a.last_received_quote_s);
  w.Key("last_successful_attestation").Int(a.last_successful_attestation_s);
  w.Key("attestation_status").String(a.attestation_status);
  w.Key("created_at").Int(a.created_at_ms);
  w.Key("pop_session_id").String(a.pop_session_id);
  w.Key("pop_challenge").String(Base64Encode(a.pop_challenge));
  w.Key("pop_expires_at").Int(a.pop_expires_at_ms);
  w.Key("token_hash").String(a.token_hash);
  w.Key("token_expires_at").Int(a.token_expires_at_ms);
  w.Key("next_attestation_index").Int(a.next_attestation_index);
  w.Key("pull_public_key").String(a.pull.public_key);
  w.Key("pull_v_delivered").Int(a.pull.v_delivered ? 1 : 0);
  w.Key("pull_retries").Int(a.pull.retries);
  w.Key("pull_verifier_id").String(a.pull.verifier_id);
  w.Key("ima_state").String(a.ima_state);
  w.Key("attestations").BeginArray();
  for (const PushAttestation& p : a.attestations) WriteAttestation(w, p);
  w.EndArray();
  w.EndObject();
  return w.Take();
}

namespace {

Status ReadCertificationKey(Reader& ar, CertificationKey* k) {
  Reader kr;
  if (ar.obj.at_key("certification_key").get_object().get(kr.obj) != simdjson::SUCCESS) {
    return Status::Ok();  // written by an older attestd
  }
  kr.Str("key_class", &k->key_class);
  kr.Str("key_algorithm", &k->key_algorithm);
  kr.Int("key_size", &k->key_size);
  kr.Str("server_identifier", &k->server_identifier);
  kr.Str("local_identifier", &k->local_identifier);
  kr.Bytes("public", &k->public_tpm2b);
  kr.List("allowable_hash_algorithms", &k->allowable_hash_algorithms);
  kr.List("allowable_signature_schemes", &k->allowable_signature_schemes);
  return kr.ok ? Status::Ok() : Internal("stored certification key has a field of the wrong type");
}

Result<PushAttestation> ReadAttestation(simdjson::dom::element e) {
  Reader ar;
  if (e.get_object().get(ar.obj) != simdjson::SUCCESS) {
    return Internal("stored attestation is not an object");
  }
  PushAttestation p;
  ar.Int("index", &p.index);
  ar.Str("session_id", &p.session_id);
  ar.Str("stage", &p.stage);
  ar.Str("evaluation", &p.evaluation);
  ar.Str("failure_reason", &p.failure_reason);
  ar.Failures("failures", &p.failures);
  ar.Str("hash_algorithm", &p.hash_algorithm);
  ar.Str("signature_scheme", &p.signature_scheme);
  ar.Ints("selected_pcrs", &p.selected_pcrs);
  if (Status st = ReadCertificationKey(ar, &p.certification_key); !st.ok()) return st;
  ar.Str("challenge", &p.challenge);
  ar.Int("capabilities_received_at", &p.capabilities_received_at_ms);
  ar.Int("challenges_expire_at", &p.challenges_expire_at_ms);
  ar.Int("evidence_received_at", &p.evidence_received_at_ms);
  ar.Int("verification_completed_at", &p.verification_completed_at_ms);
  if (!ar.ok) return Internal("stored attestation has a field of the wrong type");
  return p;
}

// What the tenant enrolled.
void ReadEnrolment(Reader& r, VerifierAgent& a) {
  r.Str("agent_id", &a.agent_id);
  r.Bool("push_model", &a.push_model);
  r.Str("v", &a.v);
  r.Str("ip", &a.ip);
  int64_t port = 0;
  r.Int("port", &port);
  a.port = static_cast<int>(port);
  r.Str("tpm_policy", &a.tpm_policy);
  r.Bytes("ak_tpm", &a.ak_tpm);
  r.Str("mtls_cert", &a.mtls_cert);
  r.Str("runtime_policy", &a.runtime_policy);
  r.Str("runtime_policy_name", &a.runtime_policy_name);
  r.Str("mb_policy", &a.mb_policy);
  r.Str("mb_policy_name", &a.mb_policy_name);
  r.Str("metadata", &a.metadata);
  r.Str("ima_sign_verification_keys", &a.ima_sign_verification_keys);
  r.Str("revocation_key", &a.revocation_key);
  r.List("accept_tpm_hash_algs", &a.accept_tpm_hash_algs);
  r.List("accept_tpm_encryption_algs", &a.accept_tpm_encryption_algs);
  r.List("accept_tpm_signing_algs", &a.accept_tpm_signing_algs);
  r.Str("supported_version", &a.supported_version);
  r.Int("created_at", &a.created_at_ms);
}

// What attestd learned since: state, counters, proof of possession.
void ReadProgress(Reader& r, VerifierAgent& a) {
  int64_t n = static_cast<int>(a.operational_state);
  r.Int("operational_state", &n);
  a.operational_state = static_cast<AgentState>(n);
  r.Str("hash_alg", &a.hash_alg);
  r.Str("enc_alg", &a.enc_alg);
  r.Str("sign_alg", &a.sign_alg);
  n = -1;
  r.Int("severity_level", &n);
  if (n >= 0) a.severity_level = static_cast<int>(n);
  r.Str("last_event_id", &a.last_event_id);
  r.Int("attestation_count", &a.attestation_count);
  r.Int("last_received_quote", &a.last_received_quote_s);
  r.Int("last_successful_attestation", &a.last_successful_attestation_s);
  r.Str("attestation_status", &a.attestation_status);
  r.Str("pop_session_id", &a.pop_session_id);
  r.Bytes("pop_challenge", &a.pop_challenge);
  r.Int("pop_expires_at", &a.pop_expires_at_ms);
  r.Str("token_hash", &a.token_hash);
  r.Int("token_expires_at", &a.token_expires_at_ms);
  r.Int("next_attestation_index", &a.next_attestation_index);
  r.Str("pull_public_key", &a.pull.public_key);
  int64_t delivered = 0;
  r.Int("pull_v_delivered", &delivered);
  a.pull.v_delivered = delivered != 0;
  r.Int("pull_retries", &a.pull.retries);
  r.Str("pull_verifier_id", &a.pull.verifier_id);
  r.Str("ima_state", &a.ima_state);
}

}  // namespace

Result<VerifierAgent> DecodeAgent(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  Reader r;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS ||
      root.get_object().get(r.obj) != simdjson::SUCCESS) {
    return Internal("stored agent record is not a JSON object");
  }
  VerifierAgent a;
  ReadEnrolment(r, a);
  ReadProgress(r, a);
  simdjson::dom::array list;
  if (r.obj.at_key("attestations").get_array().get(list) == simdjson::SUCCESS) {
    for (simdjson::dom::element e : list) {
      auto p = ReadAttestation(e);
      if (!p.ok()) return p.status();
      a.attestations.push_back(std::move(*p));
    }
  }
  if (!r.ok) return Internal("stored agent record has a field of the wrong type");
  return a;
}

}  // namespace attestd
