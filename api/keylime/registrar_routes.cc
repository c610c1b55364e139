#include "api/keylime/registrar_routes.h"

#include "api/keylime/keylime_api.h"
#include "common/base64.h"
#include "common/json_writer.h"

namespace attestd::api {

namespace {

using keylime::Envelope;
using keylime::EnvelopeError;
using keylime::EnvelopeFromStatus;
using keylime::JsonBody;
using keylime::Versions;

// Base64 of a binary field; kInvalidArgument naming the field otherwise.
Result<std::string> DecodeField(std::string_view name, std::string_view text) {
  auto bytes = Base64DecodeAny(text);
  if (!bytes || bytes->empty()) return InvalidArgument(std::string(name) + " is not base64");
  return std::move(*bytes);
}

Result<Registration> DecodeRegistration(const HttpRequest& req) {
  JsonBody body;
  if (Status st = body.Parse(req.body); !st.ok()) return st;
  Registration r;
  auto body_id = body.OptionalString("agent_id");
  if (!body_id.ok()) return body_id.status();
  auto path_id = req.param("id");
  if (path_id) {
    if (*body_id && **body_id != *path_id)
      return InvalidArgument("agent_id in the body differs from the path");
    r.agent_id = std::string(*path_id);
  } else {
    if (!*body_id) return InvalidArgument("agent_id is required");
    r.agent_id = **body_id;
  }

  auto aik = body.RequiredString("aik_tpm");
  if (!aik.ok()) return aik.status();
  auto aik_bytes = DecodeField("aik_tpm", *aik);
  if (!aik_bytes.ok()) return aik_bytes.status();
  r.aik_tpm = std::move(*aik_bytes);

  auto ek = body.OptionalString("ek_tpm");
  if (!ek.ok()) return ek.status();
  if (*ek && !(*ek)->empty()) {
    auto bytes = DecodeField("ek_tpm", **ek);
    if (!bytes.ok()) return bytes.status();
    r.ek_tpm = std::move(*bytes);
  }

  // "emulator" (Keylime's Python agent on a TPM without an EK certificate),
  // null, "" and absence all mean: no certificate.
  auto ekcert = body.OptionalString("ekcert");
  if (!ekcert.ok()) return ekcert.status();
  if (*ekcert && !(*ekcert)->empty() && **ekcert != "emulator") {
    auto bytes = DecodeField("ekcert", **ekcert);
    if (!bytes.ok()) return bytes.status();
    r.ekcert = std::move(*bytes);
  }

  auto mtls = body.OptionalString("mtls_cert");
  if (!mtls.ok()) return mtls.status();
  r.mtls_cert = mtls->value_or("");
  auto ip = body.OptionalString("ip");
  if (!ip.ok()) return ip.status();
  r.ip = ip->value_or("");
  auto port = body.OptionalPort("port");
  if (!port.ok()) return port.status();
  r.port = port->value_or(0);
  return r;
}

class RegistrarApi {
 public:
  explicit RegistrarApi(std::shared_ptr<RegistrarService> service) : service_(std::move(service)) {}

  HttpResponse Register(const HttpRequest& req) const {
    auto registration = DecodeRegistration(req);
    if (!registration.ok()) return EnvelopeFromStatus(registration.status());
    auto blob = service_->Register(*registration);
    if (!blob.ok()) return EnvelopeFromStatus(blob.status());
    JsonWriter w;
    w.BeginObject().Key("blob").String(Base64Encode(*blob)).EndObject();
    return Envelope(200, "Success", w.str());
  }

  HttpResponse Activate(const HttpRequest& req) const {
    JsonBody body;
    if (Status st = body.Parse(req.body); !st.ok()) return EnvelopeFromStatus(st);
    auto tag = body.RequiredString("auth_tag");
    if (!tag.ok()) return EnvelopeFromStatus(tag.status());
    Status st = service_->Activate(req.params.at("id"), *tag);
    if (!st.ok()) return EnvelopeFromStatus(st);
    return Envelope(200, "Success");
  }

  HttpResponse List(const HttpRequest&) const {
    auto ids = service_->ListActive();
    if (!ids.ok()) return EnvelopeFromStatus(ids.status());
    JsonWriter w;
    w.BeginObject().Key("uuids").StringArray(*ids).EndObject();
    return Envelope(200, "Success", w.str());
  }

  HttpResponse Get(const HttpRequest& req) const {
    auto agent = service_->GetActive(req.params.at("id"));
    if (!agent.ok()) return EnvelopeFromStatus(agent.status());
    JsonWriter w;
    w.BeginObject();
    w.Key("agent_id").String(agent->agent_id);
    w.Key("ek_tpm").String(Base64Encode(agent->ek_tpm));
    w.Key("ekcert");
    agent->ekcert.empty() ? w.Null() : w.String(Base64Encode(agent->ekcert));
    w.Key("aik_tpm").String(Base64Encode(agent->aik_tpm));
    w.Key("mtls_cert");
    agent->mtls_cert.empty() ? w.Null() : w.String(agent->mtls_cert);
    w.Key("ip");
    agent->ip.empty() ? w.Null() : w.String(agent->ip);
    w.Key("port");
    agent->port == 0 ? w.Null() : w.Int(agent->port);
    w.Key("regcount").Int(agent->regcount);
    w.EndObject();
    return Envelope(200, "Success", w.str());
  }

  HttpResponse Delete(const HttpRequest& req) const {
    Status st = service_->Delete(req.params.at("id"));
    if (!st.ok()) return EnvelopeFromStatus(st);
    return Envelope(200, "Success");
  }

 private:
  std::shared_ptr<RegistrarService> service_;
};

}  // namespace

std::shared_ptr<Router> MakeRegistrarPublicRouter(std::shared_ptr<RegistrarService> service) {
  auto api = std::make_shared<RegistrarApi>(std::move(service));
  auto router = keylime::MakeKeylimeRouter();
  auto reg = [api](const HttpRequest& r) { return api->Register(r); };
  auto act = [api](const HttpRequest& r) { return api->Activate(r); };
  // Keylime 3.0 keeps POST /agents and POST /agents/{id}/activate; the
  // other forms are v2 compatibility routes it no longer serves under /v3.
  keylime::AddVersionedRoute(*router, "POST", "/agents", Versions::kAll, reg);
  keylime::AddVersionedRoute(*router, "POST", "/agents/:id/activate", Versions::kAll, act);
  keylime::AddVersionedRoute(*router, "POST", "/agents/:id", Versions::kV2, reg);
  keylime::AddVersionedRoute(*router, "PUT", "/agents/:id", Versions::kV2, act);
  keylime::AddVersionedRoute(*router, "PUT", "/agents/:id/activate", Versions::kV2, act);
  return router;
}

std::shared_ptr<Router> MakeRegistrarAdminRouter(std::shared_ptr<RegistrarService> service) {
  auto api = std::make_shared<RegistrarApi>(std::move(service));
  auto router = keylime::MakeKeylimeRouter();
  keylime::AddVersionedRoute(*router, "GET", "/agents", Versions::kAll,
                             [api](const HttpRequest& r) { return api->List(r); });
  keylime::AddVersionedRoute(*router, "GET", "/agents/:id", Versions::kAll,
                             [api](const HttpRequest& r) { return api->Get(r); });
  keylime::AddVersionedRoute(*router, "DELETE", "/agents/:id", Versions::kAll,
                             [api](const HttpRequest& r) { return api->Delete(r); });
  return router;
}

}  // namespace attestd::api
