// The verifier's v3 push-model routes (JSON:API):
//   POST  /v3/sessions                             {agent_id} → PoP challenge (200)
//   PATCH /v3/sessions/{id}                        TPM2_Certify of the AK → pass + token (200),
//   fail (200; 401 bad proof)
// and, with `Authorization: Bearer <token>` (401 without a valid one):
//   POST  /v3/agents/{id}/attestations             capabilities → challenge (201)
//   PATCH /v3/agents/{id}/attestations/latest|{n}  evidence → 202
//   GET   /v3/agents/{id}/attestations[/latest|/{n}]
#include <simdjson.h>

#include <charconv>
#include <tuple>

#include "api/keylime/keylime_api.h"
#include "api/keylime/verifier_routes.h"
#include "api/problem.h"
#include "common/base64.h"
#include "common/failure_list.h"
#include "common/json_writer.h"
#include "common/time_util.h"

namespace attestd::api {

namespace {

constexpr char kJsonApi[] = "application/vnd.api+json";

HttpResponse JsonApi(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = kJsonApi;
  r.body = std::move(body);
  return r;
}

HttpResponse JsonApiError(int status, std::string_view detail) {
  JsonWriter w;
  w.BeginObject().Key("errors").BeginArray().BeginObject();
  w.Key("status").String(std::to_string(status)).Key("title").String(ReasonPhrase(status));
  w.Key("detail").String(detail).EndObject().EndArray().EndObject();
  return JsonApi(status, w.Take());
}

HttpResponse JsonApiError(const Status& st) {
  PublicError e = ToPublicError(st);  // no store internals, Retry-After on 503
  return WithRetryAfter(JsonApiError(e.status, e.detail), e);
}

// "latest" → nullopt; a decimal index; kNotFound otherwise.
Result<std::optional<int64_t>> ParseIndex(const HttpRequest& req) {
  auto p = req.param("index");
  if (!p || *p == "latest") return std::optional<int64_t>();
  int64_t n = 0;
  auto [end, ec] = std::from_chars(p->data(), p->data() + p->size(), n);
  if (ec != std::errc() || end != p->data() + p->size() || n < 0)
    return NotFound("no such attestation");
  return std::optional<int64_t>(n);
}

Status Bad(std::string m) { return InvalidArgument(std::move(m)); }

Result<std::vector<std::string>> Strings(simdjson::dom::object obj, std::string_view key) {
  simdjson::dom::array arr;
  if (obj.at_key(key).get_array().get(arr) != simdjson::SUCCESS)
    return Bad(std::string(key) + " must be a list");
  std::vector<std::string> out;
  for (simdjson::dom::element e : arr) {
    std::string_view s;
    if (e.get_string().get(s) != simdjson::SUCCESS)
      return Bad(std::string(key) + " must be a list of strings");
    out.emplace_back(s);
  }
  return out;
}

// data.attributes.<list> of a JSON:API document: the entry whose
// evidence_type is tpm_quote, and whether others named `also` are present.
Result<simdjson::dom::object> TpmQuoteItem(const simdjson::dom::element& doc, std::string_view list,
                                           std::vector<std::string>* other_types) {
  simdjson::dom::array items;
  if (doc.at_pointer("/data/attributes/" + std::string(list)).get_array().get(items) !=
      simdjson::SUCCESS) {
    return Bad("data.attributes." + std::string(list) +
               " must be a list (JSON:API document expected)");
  }
  std::optional<simdjson::dom::object> quote;
  for (simdjson::dom::element item : items) {
    std::string_view type;
    if (item.at_key("evidence_type").get_string().get(type) != simdjson::SUCCESS) {
      return Bad(std::string(list) + " entries need an evidence_type");
    }
    if (type == "tpm_quote") {
      simdjson::dom::object o;
      if (item.get_object().get(o) != simdjson::SUCCESS)
        return Bad("tpm_quote entry must be an object");
      quote = o;
    } else if (other_types) {
      other_types->emplace_back(type);
    }
  }
  if (!quote) return Bad(std::string(list) + " has no tpm_quote entry");
  return *quote;
}

// One of certification_keys: `public` is required, the rest as offered.
Result<CertificationKey> DecodeCertificationKey(simdjson::dom::element k) {
  CertificationKey key;
  std::string_view pub;
  if (k.at_key("public").get_string().get(pub) != simdjson::SUCCESS) {
    return Bad("each certification key needs `public` (base64 TPM2B_PUBLIC)");
  }
  auto bytes = Base64DecodeAny(pub);
  if (!bytes || bytes->empty()) return Bad("certification key `public` is not base64");
  key.public_tpm2b = std::move(*bytes);
  key.key_class.clear();
  std::string_view text;
  for (auto [name, out] : {std::pair{"key_class", &key.key_class},
                           {"key_algorithm", &key.key_algorithm},
                           {"server_identifier", &key.server_identifier},
                           {"local_identifier", &key.local_identifier}}) {
    if (k.at_key(name).get_string().get(text) == simdjson::SUCCESS) *out = std::string(text);
  }
  int64_t size = 0;
  if (k.at_key("key_size").get_int64().get(size) == simdjson::SUCCESS) key.key_size = size;
  for (auto [name, out] : {std::pair{"allowable_hash_algorithms", &key.allowable_hash_algorithms},
                           {"allowable_signature_schemes", &key.allowable_signature_schemes}}) {
    simdjson::dom::object obj;
    if (k.get_object().get(obj) != simdjson::SUCCESS || !obj.at_key(name).is_array()) continue;
    auto list = Strings(obj, name);
    if (!list.ok()) return list.status();
    *out = std::move(*list);
  }
  return key;
}

// The chosen key named back to the agent, with the fields it offered; the
// six the Rust agent requires are always present.
void WriteCertificationKey(JsonWriter& w, const CertificationKey& k) {
  w.BeginObject();
  w.Key("key_class").String(k.key_class);
  w.Key("key_algorithm").String(k.key_algorithm);
  w.Key("key_size").Int(k.key_size);
  w.Key("server_identifier").String(k.server_identifier);
  w.Key("local_identifier").String(k.local_identifier);
  w.Key("public").String(Base64Encode(k.public_tpm2b));
  if (!k.allowable_hash_algorithms.empty()) {
    w.Key("allowable_hash_algorithms").StringArray(k.allowable_hash_algorithms);
  }
  if (!k.allowable_signature_schemes.empty()) {
    w.Key("allowable_signature_schemes").StringArray(k.allowable_signature_schemes);
  }
  w.EndObject();
}

Result<TpmCapabilities> DecodeCapabilities(const simdjson::dom::element& doc) {
  auto item = TpmQuoteItem(doc, "evidence_supported", nullptr);
  if (!item.ok()) return item.status();
  simdjson::dom::object caps;
  if (item->at_key("capabilities").get_object().get(caps) != simdjson::SUCCESS) {
    return Bad("tpm_quote capabilities must be an object");
  }
  TpmCapabilities c;
  std::string_view version;
  if (caps.at_key("component_version").get_string().get(version) != simdjson::SUCCESS) {
    return Bad("capabilities.component_version must be a string");
  }
  c.component_version = std::string(version);
  auto schemes = Strings(caps, "signature_schemes");
  if (!schemes.ok()) return schemes.status();
  c.signature_schemes = std::move(*schemes);
  auto hashes = Strings(caps, "hash_algorithms");
  if (!hashes.ok()) return hashes.status();
  c.hash_algorithms = std::move(*hashes);
  simdjson::dom::object subjects;
  if (caps.at_key("available_subjects").get_object().get(subjects) != simdjson::SUCCESS) {
    return Bad("capabilities.available_subjects must be an object of bank → PCR list");
  }
  for (auto [bank, list] : subjects) {
    simdjson::dom::array arr;
    if (list.get_array().get(arr) != simdjson::SUCCESS)
      return Bad("available_subjects values must be PCR lists");
    std::vector<int>& pcrs = c.available_subjects[std::string(bank)];
    for (simdjson::dom::element e : arr) {
      int64_t n = 0;
      if (e.get_int64().get(n) != simdjson::SUCCESS || n < 0 || n > 23) {
        return Bad("available_subjects PCRs must be numbers 0..23");
      }
      pcrs.push_back(static_cast<int>(n));
    }
  }
  simdjson::dom::array keys;
  if (caps.at_key("certification_keys").get_array().get(keys) != simdjson::SUCCESS) {
    return Bad("capabilities.certification_keys must be a list");
  }
  for (simdjson::dom::element k : keys) {
    auto key = DecodeCertificationKey(k);
    if (!key.ok()) return key.status();
    c.certification_keys.push_back(std::move(*key));
  }
  return c;
}

// The log items of evidence_collected: `data.entries` is the IMA list as
// text (from chosen_parameters.starting_offset on, when given) or the UEFI
// log as base64.
Status DecodeLogItems(const simdjson::dom::element& doc, QuoteSubmission* q) {
  simdjson::dom::array items;
  if (doc.at_pointer("/data/attributes/evidence_collected").get_array().get(items) !=
      simdjson::SUCCESS) {
    return Status::Ok();
  }
  for (simdjson::dom::element item : items) {
    std::string_view type, entries;
    if (item.at_key("evidence_type").get_string().get(type) != simdjson::SUCCESS) continue;
    if (type != "ima_log" && type != "uefi_log") continue;
    if (item.at_pointer("/data/entries").get_string().get(entries) != simdjson::SUCCESS) {
      return Bad(std::string(type) + " data.entries is required (a string)");
    }
    if (type == "ima_log") {
      q->ima_log = std::string(entries);
      uint64_t offset = 0;
      if (item.at_pointer("/chosen_parameters/starting_offset").get_uint64().get(offset) ==
          simdjson::SUCCESS) {
        q->ima_offset = offset;
      }
    } else {
      auto bytes = Base64DecodeAny(entries);
      if (!bytes) return Bad("uefi_log data.entries is not base64");
      q->uefi_log = std::move(*bytes);
    }
  }
  return Status::Ok();
}

Result<QuoteSubmission> DecodeSubmission(const simdjson::dom::element& doc) {
  std::vector<std::string> others;
  auto item = TpmQuoteItem(doc, "evidence_collected", &others);
  if (!item.ok()) return item.status();
  QuoteSubmission q;
  for (auto [name, out] : {std::pair{"message", &q.message},
                           {"signature", &q.signature},
                           {"subject_data", &q.subject_data}}) {
    std::string_view text;
    if (item->at_pointer(std::string("/data/") + name).get_string().get(text) !=
        simdjson::SUCCESS) {
      return Bad(std::string("tpm_quote data.") + name + " is required (base64)");
    }
    auto bytes = Base64DecodeAny(text);
    if (!bytes || bytes->empty())
      return Bad(std::string("tpm_quote data.") + name + " is not base64");
    *out = std::move(*bytes);
  }
  for (const std::string& t : others) {
    q.has_ima_log = q.has_ima_log || t == "ima_log";
    q.has_uefi_log = q.has_uefi_log || t == "uefi_log";
  }
  if (Status st = DecodeLogItems(doc, &q); !st.ok()) return st;
  return q;
}

std::string Time(int64_t ms) { return ms == 0 ? "" : FormatRfc3339Millis(ms); }

// The tpm_quote item as Keylime lists it under `evidence`: what was
// offered (here: what was chosen from it), chosen and received.
void WriteEvidenceItem(JsonWriter& w, const PushAttestation& a, const QuoteSubmission& q) {
  w.BeginObject();
  w.Key("evidence_class").String("certification").Key("evidence_type").String("tpm_quote");
  w.Key("capabilities").BeginObject().Key("component_version").String("2.0");
  w.Key("hash_algorithms").BeginArray().String(a.hash_algorithm).EndArray();
  w.Key("signature_schemes").BeginArray().String(a.signature_scheme).EndArray();
  w.Key("available_subjects").BeginObject().Key(a.hash_algorithm).BeginArray();
  for (int p : a.selected_pcrs) w.Int(p);
  w.EndArray().EndObject();
  w.Key("certification_keys").BeginArray();
  WriteCertificationKey(w, a.certification_key);
  w.EndArray().EndObject();
  w.Key("chosen_parameters").BeginObject().Key("challenge").String(a.challenge);
  w.Key("signature_scheme").String(a.signature_scheme);
  w.Key("hash_algorithm").String(a.hash_algorithm);
  w.Key("selected_subjects").BeginObject().Key(a.hash_algorithm).BeginArray();
  for (int p : a.selected_pcrs) w.Int(p);
  w.EndArray().EndObject();
  w.Key("certification_key");
  WriteCertificationKey(w, a.certification_key);
  w.EndObject();
  w.Key("data").BeginObject().Key("subject_data").String(Base64Encode(q.subject_data));
  w.Key("message").String(Base64Encode(q.message));
  w.Key("signature").String(Base64Encode(q.signature)).EndObject();
  w.EndObject();
}

void WriteAttestation(JsonWriter& w, std::string_view agent_id, const PushAttestation& a,
                      const QuoteSubmission* received = nullptr) {
  w.BeginObject();
  w.Key("type").String("attestation").Key("id").String(std::to_string(a.index));
  w.Key("attributes").BeginObject();
  w.Key("agent_id").String(agent_id);
  w.Key("stage").String(a.stage);
  w.Key("evaluation").String(a.evaluation);
  w.Key("failure_reason");
  a.failure_reason.empty() ? w.Null() : w.String(a.failure_reason);
  w.Key("failures");
  WriteFailureList(w, a.failures);
  w.Key("evidence_requested").BeginArray().BeginObject();
  w.Key("evidence_class").String("certification").Key("evidence_type").String("tpm_quote");
  w.Key("chosen_parameters").BeginObject();
  w.Key("challenge").String(a.challenge);
  w.Key("signature_scheme").String(a.signature_scheme);
  w.Key("hash_algorithm").String(a.hash_algorithm);
  w.Key("selected_subjects").BeginObject().Key(a.hash_algorithm).BeginArray();
  for (int p : a.selected_pcrs) w.Int(p);
  w.EndArray().EndObject();
  w.Key("certification_key");
  WriteCertificationKey(w, a.certification_key);
  w.EndObject().EndObject().EndArray();
  // What the agent sent, as Keylime's 202 carries it (the Rust agent
  // requires the list); attestd keeps no evidence after appraisal, so
  // later reads list none.
  w.Key("evidence").BeginArray();
  if (received) WriteEvidenceItem(w, a, *received);
  w.EndArray();
  for (auto [key, ms] : {std::pair{"capabilities_received_at", a.capabilities_received_at_ms},
                         {"challenges_expire_at", a.challenges_expire_at_ms},
                         {"evidence_received_at", a.evidence_received_at_ms},
                         {"verification_completed_at", a.verification_completed_at_ms}}) {
    w.Key(key);
    ms == 0 ? w.Null() : w.String(Time(ms));
  }
  w.EndObject();
  w.Key("links").BeginObject().Key("self").String("/v3.0/agents/" + std::string(agent_id) +
                                                  "/attestations/" + std::to_string(a.index));
  w.EndObject().EndObject();
}

std::string Document(std::string_view agent_id, const PushAttestation& a,
                     std::optional<int64_t> next_s, const QuoteSubmission* received = nullptr) {
  JsonWriter w;
  w.BeginObject().Key("data");
  WriteAttestation(w, agent_id, a, received);
  if (next_s)
    w.Key("meta").BeginObject().Key("seconds_to_next_attestation").Int(*next_s).EndObject();
  return w.EndObject().Take();
}

// data.attributes.agent_id of a JSON:API document.
Result<std::string> AgentIdOf(const simdjson::dom::element& doc) {
  std::string_view id;
  if (doc.at_pointer("/data/attributes/agent_id").get_string().get(id) != simdjson::SUCCESS) {
    return Bad("data.attributes.agent_id is required");
  }
  return std::string(id);
}

// Whether data.attributes.authentication_supported names tpm_pop.
bool OffersTpmPop(const simdjson::dom::element& doc) {
  simdjson::dom::array methods;
  if (doc.at_pointer("/data/attributes/authentication_supported").get_array().get(methods) !=
      simdjson::SUCCESS) {
    return false;
  }
  for (simdjson::dom::element m : methods) {
    std::string_view type;
    if (m.at_key("authentication_type").get_string().get(type) == simdjson::SUCCESS &&
        type == "tpm_pop") {
      return true;
    }
  }
  return false;
}

void WritePopMethod(JsonWriter& w) {
  w.Key("authentication_class").String("pop").Key("authentication_type").String("tpm_pop");
}

std::string_view BearerToken(const HttpRequest& req) {
  std::string_view h = req.header("authorization").value_or("");
  constexpr std::string_view kBearer = "Bearer ";
  if (h.size() <= kBearer.size() || h.substr(0, kBearer.size()) != kBearer) return {};
  return h.substr(kBearer.size());
}

// The request's JSON document (`parser` owns it); false if it is not JSON.
bool ParseBody(const HttpRequest& req, simdjson::dom::parser& parser, simdjson::dom::element* doc) {
  return parser.parse(req.body).get(*doc) == simdjson::SUCCESS;
}

class PushApi {
 public:
  explicit PushApi(KeylimeServices services) : s_(std::move(services)) {}

  HttpResponse BeginPop(const HttpRequest& req) const {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (!ParseBody(req, parser, &doc)) return JsonApiError(400, "the body is not valid JSON");
    auto id = AgentIdOf(doc);
    if (!id.ok()) return JsonApiError(id.status());
    if (!OffersTpmPop(doc)) {
      return JsonApiError(400, "authentication_supported must include tpm_pop authentication type");
    }
    auto pop = s_.pop->Begin(*id);
    if (!pop.ok()) return JsonApiError(pop.status());
    JsonWriter w;
    w.BeginObject().Key("data").BeginObject().Key("type").String("session").Key("id").String(
        pop->session_id);
    w.Key("attributes").BeginObject().Key("agent_id").String(*id);
    w.Key("authentication_requested").BeginArray().BeginObject();
    WritePopMethod(w);
    w.Key("chosen_parameters").BeginObject();
    w.Key("challenge").String(Base64Encode(pop->challenge)).EndObject().EndObject().EndArray();
    w.Key("created_at").String(Time(pop->created_at_ms));
    w.Key("challenges_expire_at").String(Time(pop->expires_at_ms));
    w.EndObject().EndObject().EndObject();
    // 200 as Keylime's session controller answers (not 201).
    HttpResponse r = JsonApi(200, w.Take());
    r.AddHeader("Location", "/v3.0/sessions/" + pop->session_id);
    return r;
  }

  // A session document carrying the proof back, as Keylime answers every
  // PATCH: pass with its token, or fail (401 when the proof did not hold).
  HttpResponse CompletePop(const HttpRequest& req) const {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (!ParseBody(req, parser, &doc)) return JsonApiError(400, "the body is not valid JSON");
    auto id = AgentIdOf(doc);
    if (!id.ok()) return JsonApiError(id.status());
    std::string_view message_b64, signature_b64;
    std::string message, signature;
    for (auto [name, text, out] : {std::tuple{"message", &message_b64, &message},
                                   {"signature", &signature_b64, &signature}}) {
      if (doc.at_pointer(std::string("/data/attributes/authentication_provided/0/data/") + name)
              .get_string()
              .get(*text) != simdjson::SUCCESS) {
        return JsonApiError(400, std::string("data.attributes.authentication_provided[0].data.") +
                                     name + " is required (base64)");
      }
      auto bytes = Base64DecodeAny(*text);
      if (!bytes || bytes->empty()) return JsonApiError(400, std::string(name) + " is not base64");
      *out = std::move(*bytes);
    }
    const std::string& session_id = req.params.at("session");
    auto outcome = s_.pop->Complete(session_id, *id, message, signature);
    if (!outcome.ok()) return JsonApiError(outcome.status());
    const PopOutcome& o = *outcome;
    JsonWriter w;
    w.BeginObject().Key("data").BeginObject().Key("type").String("session").Key("id").String(
        session_id);
    w.Key("attributes").BeginObject().Key("agent_id").String(*id);
    w.Key("evaluation").String(o.pass ? "pass" : "fail");
    if (o.pass) w.Key("token").String(o.token.token);
    w.Key("authentication").BeginArray().BeginObject();
    WritePopMethod(w);
    w.Key("chosen_parameters").BeginObject().Key("challenge").String(Base64Encode(o.challenge));
    w.EndObject().Key("data").BeginObject().Key("message").String(message_b64);
    w.Key("signature").String(signature_b64).EndObject().EndObject().EndArray();
    w.Key("created_at").String(Time(o.created_at_ms));
    w.Key("challenges_expire_at").String(Time(o.expires_at_ms));
    w.Key("response_received_at").String(Time(o.response_received_at_ms));
    if (o.pass) w.Key("token_expires_at").String(Time(o.token.expires_at_ms));
    w.EndObject().EndObject().EndObject();
    return JsonApi(o.proof_rejected ? 401 : 200, w.Take());
  }

  // Every attestation route: the agent's bearer token first. Reads also
  // admit the tenant's verified client certificate instead, as Keylime's
  // authorization admits its mTLS identity for them.
  HttpResponse Authorized(const HttpRequest& req,
                          HttpResponse (PushApi::*route)(const HttpRequest&) const) const {
    if (req.method == "GET" && !req.client_cert_der.empty() && BearerToken(req).empty()) {
      return (this->*route)(req);
    }
    Status st = s_.pop->Authorize(req.params.at("id"), BearerToken(req));
    if (!st.ok()) {
      HttpResponse r = JsonApiError(st);
      r.AddHeader("WWW-Authenticate", "Bearer");
      return r;
    }
    return (this->*route)(req);
  }

  HttpResponse Begin(const HttpRequest& req) const {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (!ParseBody(req, parser, &doc)) return JsonApiError(400, "the body is not valid JSON");
    auto caps = DecodeCapabilities(doc);
    if (!caps.ok()) return JsonApiError(caps.status());
    const std::string& id = req.params.at("id");
    int64_t retry_after = 0;
    auto att = s_.attestations->Begin(id, *caps, &retry_after);
    if (!att.ok()) {
      HttpResponse r = JsonApiError(att.status());
      if (retry_after > 0) r.AddHeader("Retry-After", std::to_string(retry_after));
      return r;
    }
    HttpResponse r = JsonApi(201, Document(id, *att, std::nullopt));
    r.AddHeader("Location", "/v3.0/agents/" + id + "/attestations/" + std::to_string(att->index));
    return r;
  }

  HttpResponse Submit(const HttpRequest& req) const {
    auto index = ParseIndex(req);
    if (!index.ok()) return JsonApiError(index.status());
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (!ParseBody(req, parser, &doc)) return JsonApiError(400, "the body is not valid JSON");
    auto submission = DecodeSubmission(doc);
    if (!submission.ok()) return JsonApiError(submission.status());
    const std::string& id = req.params.at("id");
    auto att = s_.attestations->Submit(id, *index, *submission);
    if (!att.ok()) return JsonApiError(att.status());
    return JsonApi(202,
                   Document(id, *att, s_.attestations->SecondsToNextAttestation(id), &*submission));
  }

  HttpResponse List(const HttpRequest& req) const {
    const std::string& id = req.params.at("id");
    auto list = s_.attestations->List(id);
    if (!list.ok()) return JsonApiError(list.status());
    JsonWriter w;
    w.BeginObject().Key("data").BeginArray();
    for (const PushAttestation& a : *list) WriteAttestation(w, id, a);
    return JsonApi(200, w.EndArray().EndObject().Take());
  }

  HttpResponse One(const HttpRequest& req) const {
    auto index = ParseIndex(req);
    if (!index.ok()) return JsonApiError(index.status());
    const std::string& id = req.params.at("id");
    auto att = s_.attestations->Get(id, *index);
    if (!att.ok()) return JsonApiError(att.status());
    return JsonApi(200, Document(id, *att, std::nullopt));
  }

 private:
  KeylimeServices s_;
};

}  // namespace

void AddVerifierPushRoutes(Router& router, const KeylimeServices& services) {
  auto api = std::make_shared<PushApi>(services);
  auto add = [&](const char* method, const char* suffix,
                 HttpResponse (PushApi::*member)(const HttpRequest&) const) {
    keylime::AddVersionedRoute(router, method, suffix, keylime::Versions::kV3,
                               [api, member](const HttpRequest& r) { return ((*api).*member)(r); });
  };
  auto add_authorized = [&](const char* method, const char* suffix,
                            HttpResponse (PushApi::*member)(const HttpRequest&) const) {
    keylime::AddVersionedRoute(
        router, method, suffix, keylime::Versions::kV3,
        [api, member](const HttpRequest& r) { return api->Authorized(r, member); });
  };
  add("POST", "/sessions", &PushApi::BeginPop);
  add("PATCH", "/sessions/:session", &PushApi::CompletePop);
  add_authorized("POST", "/agents/:id/attestations", &PushApi::Begin);
  add_authorized("GET", "/agents/:id/attestations", &PushApi::List);
  add_authorized("GET", "/agents/:id/attestations/:index", &PushApi::One);
  add_authorized("PATCH", "/agents/:id/attestations/:index", &PushApi::Submit);
}

}  // namespace attestd::api
