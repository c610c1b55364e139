#include "api/keylime/verifier_routes.h"

#include "api/appraisal_json.h"
#include "api/keylime/keylime_api.h"
#include "common/base64.h"
#include "common/failure_list.h"
#include "common/json_writer.h"
#include "common/time_util.h"
#include "common/value_json.h"
#include "service/keylime/keylime_rules.h"

namespace attestd::api {

namespace {

using keylime::Envelope;
using keylime::EnvelopeError;
using keylime::EnvelopeFromStatus;
using keylime::JsonBody;
using keylime::Versions;

void StringOrNull(JsonWriter& w, std::string_view key, std::string_view value) {
  w.Key(key);
  value.empty() ? w.Null() : w.String(value);
}

// Decoders that stop at the first bad field; each sets one member.
struct AgentDecoder {
  const JsonBody& body;
  VerifierAgent& agent;
  Status status;

  void Str(std::string_view key, std::string* out, bool required = false) {
    if (!status.ok()) return;
    auto v = body.OptionalString(key);
    if (!v.ok())
      status = v.status();
    else if (*v)
      *out = std::move(**v);
    else if (required)
      status = InvalidArgument(std::string(key) + " is required");
  }
  void Json(std::string_view key, std::string* out, bool required = false) {
    if (!status.ok()) return;
    auto v = body.OptionalJsonText(key);
    if (!v.ok())
      status = v.status();
    else if (*v)
      *out = std::move(**v);
    else if (required)
      status = InvalidArgument(std::string(key) + " is required");
  }
  void List(std::string_view key, std::vector<std::string>* out) {
    if (!status.ok()) return;
    auto v = body.OptionalStringList(key);
    if (!v.ok())
      status = v.status();
    else if (*v)
      *out = std::move(**v);
    else
      status = InvalidArgument(std::string(key) + " is required");
  }
  void Bytes(std::string_view key, std::string* out) {
    std::string text;
    Str(key, &text, true);
    if (!status.ok()) return;
    auto bytes = Base64DecodeAny(text);
    if (!bytes || bytes->empty())
      status = InvalidArgument(std::string(key) + " is not base64");
    else
      *out = std::move(*bytes);
  }
  void Port(std::string_view key, int* out) {
    if (!status.ok()) return;
    auto v = body.OptionalPort(key);
    if (!v.ok())
      status = v.status();
    else
      *out = v->value_or(0);
  }
};

// A JSON document (any value); `field` names it in the message.
Status ValidateJson(std::string_view text, const std::string& field) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (parser.parse(text.data(), text.size()).get(e) != simdjson::SUCCESS) {
    return InvalidArgument(field + " is not valid JSON");
  }
  return Status::Ok();
}

// The wire forms of an enrolment: JSON texts and base64 (the service checks
// what they mean).
Status ValidateWireForms(const VerifierAgent& a) {
  if (Status st = ValidateJson(a.metadata, "metadata"); !st.ok()) return st;
  if (!a.mb_policy.empty()) {
    if (Status st = ValidateJson(a.mb_policy, "mb_policy"); !st.ok()) return st;
  }
  if (!a.runtime_policy.empty() && !Base64DecodeStd(a.runtime_policy)) {
    return InvalidArgument("runtime_policy is not base64");
  }
  return Status::Ok();
}

Result<VerifierAgent> DecodeAgent(const HttpRequest& req) {
  JsonBody body;
  if (Status st = body.Parse(req.body); !st.ok()) return st;
  VerifierAgent a;
  a.agent_id = req.params.at("id");
  AgentDecoder d{body, a, Status::Ok()};
  d.Json("tpm_policy", &a.tpm_policy, true);
  d.Bytes("ak_tpm", &a.ak_tpm);
  d.Str("mtls_cert", &a.mtls_cert);
  d.Str("cloudagent_ip", &a.ip);
  d.Port("cloudagent_port", &a.port);
  d.Str("v", &a.v);
  d.Str("runtime_policy", &a.runtime_policy);
  d.Str("runtime_policy_name", &a.runtime_policy_name);
  d.Json("mb_policy", &a.mb_policy);
  d.Str("mb_policy_name", &a.mb_policy_name);
  d.Json("metadata", &a.metadata);
  d.Json("ima_sign_verification_keys", &a.ima_sign_verification_keys);
  d.Str("revocation_key", &a.revocation_key);
  d.List("accept_tpm_hash_algs", &a.accept_tpm_hash_algs);
  d.List("accept_tpm_encryption_algs", &a.accept_tpm_encryption_algs);
  d.List("accept_tpm_signing_algs", &a.accept_tpm_signing_algs);
  d.Str("supported_version", &a.supported_version);
  if (!d.status.ok()) return d.status;
  // Push or pull is the verifier's mode, not the presence of an address:
  // Keylime's tenant always copies the registered ip and port.
  if (a.ip.empty() != (a.port == 0)) {
    return InvalidArgument("cloudagent_ip and cloudagent_port go together");
  }
  if (!attestd::keylime::ValidName(a.agent_id)) {
    return InvalidArgument("agent id must be 1 to 255 of [A-Za-z0-9._-]");
  }
  if (Status st = ValidateWireForms(a); !st.ok()) return st;
  return a;
}

void WriteAppraisalFailures(JsonWriter& w, const Appraisal& a) {
  w.Key("failures");
  WriteFailureList(w, a.failures);
}

void WriteValid(JsonWriter& w, bool valid, bool boolean) {
  w.Key("valid");
  boolean ? w.Bool(valid) : w.Int(valid ? 1 : 0);
}

class VerifierApi {
 public:
  VerifierApi(KeylimeServices services, std::shared_ptr<const ListenerAddress> address)
      : s_(std::move(services)), address_(std::move(address)) {}

  HttpResponse Enrol(const HttpRequest& req) const {
    auto agent = DecodeAgent(req);
    if (!agent.ok()) return EnvelopeFromStatus(agent.status());
    auto enrolled = s_.agents->Enrol(std::move(*agent));
    if (!enrolled.ok()) return EnvelopeFromStatus(enrolled.status());
    return Envelope(200, "Success");
  }

  HttpResponse Get(const HttpRequest& req) const {
    // The tenant's status view: record push outcomes another process saw.
    auto agent = s_.attestations->Reconciled(req.params.at("id"));
    if (!agent.ok()) return EnvelopeFromStatus(agent.status());
    return Envelope(200, "Success", AgentStatus(*agent));
  }

  // Keylime's list: {"uuids": [[id], …]}, or with ?bulk every agent's
  // status keyed by id; ?verifier=<id> keeps the agents of that verifier.
  HttpResponse List(const HttpRequest& req) const {
    auto ids = s_.agents->List();
    if (!ids.ok()) return EnvelopeFromStatus(ids.status());
    std::string_view verifier = req.query_param("verifier").value_or("");
    bool bulk = req.query_param("bulk").has_value();
    JsonWriter w;
    w.BeginObject();
    if (!bulk) w.Key("uuids").BeginArray();
    for (const std::string& id : *ids) {
      if (!bulk) {
        if (verifier.empty() || verifier == s_.options.verifier_id)
          w.BeginArray().String(id).EndArray();
        continue;
      }
      auto agent = s_.attestations->Reconciled(id);
      if (!agent.ok() && agent.status().code() == StatusCode::kNotFound)
        continue;  // deleted meanwhile
      if (!agent.ok()) return EnvelopeFromStatus(agent.status());
      if (!verifier.empty() && verifier != s_.options.verifier_id) continue;
      w.Key(id).Raw(AgentStatus(*agent));
    }
    if (!bulk) w.EndArray();
    w.EndObject();
    return Envelope(200, "Success", w.str());
  }

  HttpResponse Delete(const HttpRequest& req) const {
    return Done(s_.agents->Delete(req.params.at("id")));
  }
  HttpResponse Reactivate(const HttpRequest& req) const {
    return Done(s_.agents->Reactivate(req.params.at("id")));
  }
  HttpResponse Stop(const HttpRequest& req) const {
    return Done(s_.agents->Stop(req.params.at("id")));
  }

  HttpResponse PutPolicy(PolicyKind kind, bool replace, const HttpRequest& req) const {
    JsonBody body;
    if (Status st = body.Parse(req.body); !st.ok()) return EnvelopeFromStatus(st);
    NamedPolicy p;
    p.name = req.params.at("name");
    Result<std::optional<std::string>> text = kind == PolicyKind::kRuntime
                                                  ? body.OptionalString("runtime_policy")
                                                  : body.OptionalJsonText("mb_policy");
    if (!text.ok()) return EnvelopeFromStatus(text.status());
    p.body = text->value_or("");
    if (kind == PolicyKind::kRuntime && !p.body.empty()) {
      auto decoded = Base64DecodeStd(p.body);
      if (!decoded) return EnvelopeFromStatus(InvalidArgument("runtime_policy is not base64"));
      if (Status st = ValidateJson(*decoded, "runtime_policy (decoded)"); !st.ok()) {
        return EnvelopeFromStatus(st);
      }
    } else if (!p.body.empty()) {
      if (Status st = ValidateJson(p.body, "mb_policy"); !st.ok()) return EnvelopeFromStatus(st);
    }
    if (kind == PolicyKind::kRuntime) {
      auto tpm_policy = body.OptionalJsonText("tpm_policy");
      if (!tpm_policy.ok()) return EnvelopeFromStatus(tpm_policy.status());
      p.tpm_policy = tpm_policy->value_or("");
    }
    Status st = s_.policies->Put(kind, p, replace);
    return st.ok() ? Envelope(201, "Created") : EnvelopeFromStatus(st);
  }

  HttpResponse GetPolicy(PolicyKind kind, const HttpRequest& req) const {
    auto p = s_.policies->Get(kind, req.params.at("name"));
    if (!p.ok()) return EnvelopeFromStatus(p.status());
    JsonWriter w;
    w.BeginObject().Key("name").String(p->name);
    if (kind == PolicyKind::kRuntime) {
      StringOrNull(w, "tpm_policy", p->tpm_policy);
      w.Key("runtime_policy").String(p->body);
    } else {
      w.Key("mb_policy").String(p->body);
    }
    w.EndObject();
    return Envelope(200, "Success", w.str());
  }

  HttpResponse ListPolicies(PolicyKind kind, const HttpRequest&) const {
    auto names = s_.policies->List(kind);
    if (!names.ok()) return EnvelopeFromStatus(names.status());
    JsonWriter w;
    w.BeginObject();
    w.Key(kind == PolicyKind::kRuntime ? "runtimepolicy names" : "mbpolicy names")
        .StringArray(*names);
    w.EndObject();
    return Envelope(200, "Success", w.str());
  }

  HttpResponse DeletePolicy(PolicyKind kind, const HttpRequest& req) const {
    Status st = s_.policies->Delete(kind, req.params.at("name"));
    if (!st.ok()) return EnvelopeFromStatus(st);
    HttpResponse r;
    r.status = 204;  // no body, so no envelope
    return r;
  }

  HttpResponse VerifyIdentity(const HttpRequest& req) const {
    IdentityCheck check;
    for (auto [name, out] : {std::pair{"agent_uuid", &check.agent_id},
                             {"quote", &check.quote},
                             {"nonce", &check.nonce}}) {
      auto v = req.query_param(name);
      if (!v || v->empty())
        return EnvelopeError(400, std::string("query parameter ") + name + " is required");
      *out = std::string(*v);
    }
    check.hash_alg = std::string(req.query_param("hash_alg").value_or(""));
    auto appraisal = s_.verify->VerifyIdentity(check);
    if (!appraisal.ok()) return EnvelopeFromStatus(appraisal.status());
    JsonWriter w;
    w.BeginObject();
    // Keylime's identity controller answers 1/0, whatever the version.
    WriteValid(w, appraisal->is_valid, false);
    if (!appraisal->is_valid) {
      std::string reason;
      for (const Failure& f : appraisal->failures) reason += (reason.empty() ? "" : ", ") + f.type;
      w.Key("reason").String(reason);
      WriteAppraisalFailures(w, *appraisal);
    }
    w.EndObject();
    return Envelope(200, "Success", w.str());
  }

  HttpResponse VerifyEvidence(const HttpRequest& req) const {
    auto check = DecodeEvidence(req);
    if (!check.ok()) return EnvelopeFromStatus(check.status());
    auto appraisal = s_.verify->VerifyEvidence(*check);
    if (!appraisal.ok()) return EnvelopeFromStatus(appraisal.status());
    JsonWriter w;
    w.BeginObject();
    // Keylime's evidence controller answers a boolean, whatever the version.
    WriteValid(w, appraisal->is_valid, true);
    w.Key("claims");
    WriteValue(w, appraisal->claims);
    WriteAppraisalFailures(w, *appraisal);
    w.EndObject();
    return Envelope(200, "Success", w.str());
  }

 private:
  static HttpResponse Done(const Status& st) {
    return st.ok() ? Envelope(200, "Success") : EnvelopeFromStatus(st);
  }

  static Result<EvidenceCheck> DecodeEvidence(const HttpRequest& req) {
    JsonBody body;
    if (Status st = body.Parse(req.body); !st.ok()) return st;
    auto type = body.RequiredString("type");
    if (!type.ok()) return type.status();
    if (*type != "tpm") return InvalidArgument("type '" + *type + "' is not supported (only tpm)");
    // Read in place: no minified copy of `data` parsed a second time.
    JsonBody data;
    if (Status st = data.ParseMember(body, "data"); !st.ok()) {
      if (st.code() == StatusCode::kNotFound) return InvalidArgument("data is required");
      return InvalidArgument("data must be a JSON object");
    }
    EvidenceCheck c;
    for (auto [name, out] :
         {std::pair{"quote", &c.quote}, {"nonce", &c.nonce}, {"hash_alg", &c.hash_alg}}) {
      auto v = data.RequiredString(name);
      if (!v.ok()) return v.status();
      *out = std::move(*v);
    }
    auto ak = data.RequiredString("tpm_ak");
    if (!ak.ok()) return ak.status();
    if (ak->rfind("-----BEGIN", 0) == 0) {
      c.ak_pem = *ak;
    } else {
      auto bytes = Base64DecodeAny(*ak);
      if (!bytes || bytes->empty()) return InvalidArgument("tpm_ak is neither base64 nor PEM");
      c.ak_tpm = std::move(*bytes);
    }
    auto tpm_policy = data.OptionalJsonText("tpm_policy");
    if (!tpm_policy.ok()) return tpm_policy.status();
    c.tpm_policy = tpm_policy->value_or("");
    for (auto [name, out] :
         {std::pair{"runtime_policy", &c.runtime_policy}, {"mb_policy", &c.mb_policy}}) {
      auto text = data.OptionalJsonText(name);
      if (!text.ok()) return text.status();
      *out = text->value_or("");
    }
    if (c.mb_policy.empty()) {  // Keylime's older name for it
      auto text = data.OptionalJsonText("mb_refstate");
      if (!text.ok()) return text.status();
      c.mb_policy = text->value_or("");
    }
    auto ima = data.OptionalString("ima_measurement_list");
    if (!ima.ok()) return ima.status();
    if (*ima && !(*ima)->empty()) c.ima_measurement_list = std::move(**ima);
    auto mb_log = data.OptionalString("mb_log");
    if (!mb_log.ok()) return mb_log.status();
    if (*mb_log && !(*mb_log)->empty()) {
      auto bytes = Base64DecodeAny(**mb_log);
      if (!bytes) return InvalidArgument("mb_log is not base64");
      c.mb_log = std::move(*bytes);
    }
    return c;
  }

  // Keylime's process_get_status, plus the push model's counters.
  std::string AgentStatus(const VerifierAgent& a) const {
    JsonWriter w;
    w.BeginObject();
    w.Key("agent_id").String(a.agent_id);
    w.Key("operational_state").Int(static_cast<int>(a.operational_state));
    StringOrNull(w, "v", a.v);
    StringOrNull(w, "ip", a.ip);
    w.Key("port");
    a.port == 0 ? w.Null() : w.Int(a.port);
    w.Key("tpm_policy").String(a.tpm_policy);
    w.Key("meta_data").String(a.metadata);
    w.Key("has_mb_refstate").Int(a.mb_policy.empty() ? 0 : 1);
    w.Key("has_runtime_policy").Int(a.runtime_policy.empty() ? 0 : 1);
    w.Key("accept_tpm_hash_algs").StringArray(a.accept_tpm_hash_algs);
    w.Key("accept_tpm_encryption_algs").StringArray(a.accept_tpm_encryption_algs);
    w.Key("accept_tpm_signing_algs").StringArray(a.accept_tpm_signing_algs);
    w.Key("hash_alg").String(a.hash_alg);
    w.Key("enc_alg").String(a.enc_alg);
    w.Key("sign_alg").String(a.sign_alg);
    // Pull agents: the instance that polls it (holds its lease).
    w.Key("verifier_id")
        .String(a.pull.verifier_id.empty() ? s_.options.verifier_id : a.pull.verifier_id);
    w.Key("verifier_ip").String(address_->ip());
    w.Key("verifier_port").Int(address_->port());
    w.Key("severity_level");
    a.severity_level ? w.Int(*a.severity_level) : w.Null();
    StringOrNull(w, "last_event_id", a.last_event_id);
    w.Key("attestation_count").Int(a.attestation_count);
    w.Key("last_received_quote").Int(a.last_received_quote_s);
    w.Key("last_successful_attestation").Int(a.last_successful_attestation_s);
    w.Key("attestation_status").String(s_.attestations->AttestationStatus(a, NowMillis()));
    // Keylime's forms: "2s", "10s".
    w.Key("attestation_period")
        .String(std::to_string(s_.options.attestation.quote_interval_s) + "s");
    w.Key("maximum_attestation_interval")
        .String(std::to_string(s_.attestations->MaximumAttestationIntervalS()) + "s");
    StringOrNull(w, "runtime_policy_name", a.runtime_policy_name);
    StringOrNull(w, "mb_policy_name", a.mb_policy_name);
    w.Key("push_model").Bool(a.push_model);
    w.EndObject();
    return w.Take();
  }

  KeylimeServices s_;
  std::shared_ptr<const ListenerAddress> address_;
};

}  // namespace

void ListenerAddress::Set(std::string ip, int port) {
  std::lock_guard<std::mutex> lock(mu_);
  ip_ = std::move(ip);
  port_ = port;
}

std::string ListenerAddress::ip() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ip_;
}

int ListenerAddress::port() const {
  std::lock_guard<std::mutex> lock(mu_);
  return port_;
}

std::shared_ptr<Router> MakeVerifierRouter(const KeylimeServices& services,
                                           std::shared_ptr<const ListenerAddress> address) {
  auto api = std::make_shared<VerifierApi>(services, std::move(address));
  // In push mode /version(s) is gone, as on Keylime's verifier: the
  // tenant then keeps its own API version, v3 clients probe /v3.0/.
  auto router = keylime::MakeKeylimeRouter(services.options.mode != VerifierMode::kPush);
  keylime::UseJsonApiErrorsUnderV3(*router);  // the v3 routes are the push model's JSON:API
  // The tenant's admin routes need its client certificate, as Keylime's
  // requires_auth routes; verify/* and the push agent's routes do not.
  const RouteOptions admin{.client_cert = true};
  auto add = [&](const char* method, const char* suffix, auto member,
                 RouteOptions options = {.client_cert = true}) {
    keylime::AddVersionedRoute(
        *router, method, suffix, Versions::kV2,
        [api, member](const HttpRequest& r) { return ((*api).*member)(r); }, options);
  };
  add("POST", "/agents/:id", &VerifierApi::Enrol);
  add("GET", "/agents/:id", &VerifierApi::Get);
  add("GET", "/agents", &VerifierApi::List);
  add("DELETE", "/agents/:id", &VerifierApi::Delete);
  add("PUT", "/agents/:id/reactivate", &VerifierApi::Reactivate);
  add("PUT", "/agents/:id/stop", &VerifierApi::Stop);
  add("GET", "/verify/identity", &VerifierApi::VerifyIdentity, RouteOptions{});
  add("POST", "/verify/evidence", &VerifierApi::VerifyEvidence, RouteOptions{});
  for (auto [prefix, policy_kind] : {std::pair{"/allowlists", PolicyKind::kRuntime},
                                     {"/mbpolicies", PolicyKind::kMeasuredBoot}}) {
    PolicyKind kind = policy_kind;  // a lambda may not capture a structured binding (C++20, clang)
    auto on = [&](const char* method, const std::string& suffix, auto fn) {
      keylime::AddVersionedRoute(
          *router, method, suffix, Versions::kV2,
          [api, kind, fn](const HttpRequest& r) { return fn(*api, kind, r); }, admin);
    };
    std::string one = std::string(prefix) + "/:name";
    on("POST", one, [](const VerifierApi& a, PolicyKind k, const HttpRequest& r) {
      return a.PutPolicy(k, false, r);
    });
    on("PUT", one, [](const VerifierApi& a, PolicyKind k, const HttpRequest& r) {
      return a.PutPolicy(k, true, r);
    });
    on("GET", one,
       [](const VerifierApi& a, PolicyKind k, const HttpRequest& r) { return a.GetPolicy(k, r); });
    on("DELETE", one, [](const VerifierApi& a, PolicyKind k, const HttpRequest& r) {
      return a.DeletePolicy(k, r);
    });
    on("GET", prefix, [](const VerifierApi& a, PolicyKind k, const HttpRequest& r) {
      return a.ListPolicies(k, r);
    });
  }
  AddVerifierPushRoutes(*router, services);
  return router;
}

}  // namespace attestd::api
