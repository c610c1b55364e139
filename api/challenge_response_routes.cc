#include "api/challenge_response_routes.h"

#include <charconv>
#include <chrono>
#include <mutex>

#include "api/negotiation.h"
#include "api/problem.h"
#include "common/base64.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/random.h"
#include "verifiers/registry.h"

namespace attestd::api {

namespace {

constexpr char kBase[] = "/challenge-response/v1";
constexpr char kDiscoveryMediaType[] = "application/vnd.veraison.discovery+json";

class ChallengeResponseApi {
 public:
  ChallengeResponseApi(std::shared_ptr<SessionService> service, ChallengeResponseOptions options)
      : service_(std::move(service)), options_(std::move(options)) {}

  // Answers from the store's thread once the session is stored, so the
  // server thread does not wait for Redis.
  void NewSession(const HttpRequest& req, Responder respond) const {
    if (auto r = CheckAccept(req)) return respond(std::move(*r));
    auto size_param = req.query_param("nonceSize");
    auto nonce_param = req.query_param("nonce");
    if (size_param && nonce_param) {
      return respond(Problem(400, "give nonceSize or nonce, not both"));
    }
    std::optional<std::string> nonce;
    std::optional<size_t> size;
    if (size_param) {
      size_t n = 0;
      auto r = std::from_chars(size_param->data(), size_param->data() + size_param->size(), n);
      if (size_param->empty() || r.ec != std::errc() ||
          r.ptr != size_param->data() + size_param->size()) {
        return respond(Problem(400, "nonceSize must be a decimal integer from 8 to 64"));
      }
      size = n;
    }
    if (nonce_param) {
      nonce = Base64DecodeAny(*nonce_param);
      if (!nonce) return respond(Problem(400, "nonce is not valid base64 (standard or url-safe)"));
    }
    service_->CreateAsync(nonce, size,
                          [this, respond = std::move(respond)](Result<Session> session) {
                            if (!session.ok()) return respond(ProblemFromStatus(session.status()));
                            HttpResponse resp = SessionResponse(201, *session);
                            resp.AddHeader("Location", SessionLocation(session->id));
                            respond(std::move(resp));
                          });
  }

  // Answers from the completion callback: the appraisal runs on the
  // session service's task threads, the store steps never block this one.
  void SubmitEvidence(const HttpRequest& req, Responder respond) const {
    if (auto r = CheckEvidence(req)) return respond(std::move(*r));
    std::string type = NormalizeMediaType(req.header("content-type").value_or(""));
    Preferences prefs = ParsePrefer(req.header("prefer").value_or(""));
    SubmitOptions opts;
    opts.respond_async = prefs.respond_async;
    if (prefs.wait_seconds) opts.wait_ms = *prefs.wait_seconds * 1000;
    service_->SubmitAsync(Lower(req.params.at("id")), type, req.body, opts,
                          [this, respond = std::move(respond)](Result<SubmitOutcome> outcome) {
                            if (!outcome.ok()) return respond(ProblemFromStatus(outcome.status()));
                            HttpResponse resp =
                                SessionResponse(outcome->finished ? 200 : 202, outcome->session);
                            if (!outcome->finished) {
                              resp.AddHeader("Location", SessionLocation(outcome->session.id));
                            }
                            respond(std::move(resp));
                          });
  }

  // The request checks of an evidence POST, in the contract's order; the
  // answer when one fails.
  std::optional<HttpResponse> CheckEvidence(const HttpRequest& req) const {
    if (auto r = CheckAccept(req)) return *r;
    if (req.body.empty()) return Problem(400, "empty evidence body");
    std::string type = NormalizeMediaType(req.header("content-type").value_or(""));
    if (type.empty() || !service_->registry().FindPublic(type)) {
      HttpResponse r = Problem(415, req.header("content-type")
                                        ? "no verifier for this evidence media type"
                                        : "Content-Type is required (the evidence media type)");
      r.AddHeader("Accept", AcceptList());
      return r;
    }
    if (!IsUuid(req.params.at("id"))) return Problem(400, "session id is not a UUID");
    return std::nullopt;
  }

  void GetSession(const HttpRequest& req, Responder respond) const {
    if (auto r = CheckAccept(req)) return respond(std::move(*r));
    const std::string& id = req.params.at("id");
    if (!IsUuid(id)) return respond(Problem(400, "session id is not a UUID"));
    service_->GetAsync(Lower(id), [this, respond = std::move(respond)](Result<Session> session) {
      if (!session.ok()) return respond(ProblemFromStatus(session.status()));
      respond(SessionResponse(200, *session));
    });
  }

  HttpResponse DeleteSession(const HttpRequest& req) const {
    const std::string& id = req.params.at("id");
    if (!IsUuid(id)) return Problem(400, "session id is not a UUID");
    if (auto st = service_->Delete(Lower(id)); !st.ok()) return ProblemFromStatus(st);
    HttpResponse resp;
    resp.status = 204;
    return resp;
  }

  HttpResponse Discovery(const HttpRequest&) const {
    bool up = Readiness().ok();
    JsonWriter w;
    w.BeginObject();
    w.Key("media-types").StringArray(service_->Accept());
    w.Key("version").String(options_.version);
    w.Key("service-state").String(up ? "READY" : "DOWN");
    if (const ResultSigner* signer = service_->signer())
      w.Key("ear-verification-key").Raw(signer->jwk());
    w.Key("api-endpoints").BeginObject();
    w.Key("newChallengeResponseSession").String(std::string(kBase) + "/newSession");
    w.EndObject();
    w.EndObject();
    HttpResponse resp;
    resp.content_type = kDiscoveryMediaType;
    resp.body = w.Take();
    resp.AddHeader("Cache-Control", "max-age=60");
    return resp;
  }

  HttpResponse Jwks(const HttpRequest&) const {
    const ResultSigner* signer = service_->signer();
    HttpResponse resp;
    resp.content_type = "application/jwk-set+json";
    resp.body = signer ? signer->jwks() : R"({"keys":[]})";
    resp.AddHeader("Cache-Control", "max-age=60");
    return resp;
  }

  HttpResponse MetricsText(const HttpRequest&) const {
    HttpResponse resp;
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp.body = GlobalMetrics().Render();
    return resp;
  }

  HttpResponse Healthz(const HttpRequest&) const { return PlainJson(200, R"({"status":"ok"})"); }

  // Ready while the store takes writes: a full Redis (maxmemory with
  // noeviction) or a read-only replica still answers PING.
  HttpResponse Readyz(const HttpRequest&) const {
    Status st = Readiness();
    if (!st.ok()) {
      LogWarn("not ready", {{"error", st.message()}});
      return Problem(503, "the store does not accept writes")
          .AddHeader("Retry-After", std::to_string(kStoreRetryAfterSeconds));
    }
    return PlainJson(200, R"({"status":"ready"})");
  }

 private:
  // The store's write probe, run at most once per kReadinessCacheTime:
  // probes (load balancers, discovery) cost the store one write a second
  // however often they come.
  Status Readiness() const {
    static constexpr auto kReadinessCacheTime = std::chrono::seconds(1);
    std::lock_guard<std::mutex> lock(readiness_mu_);
    auto now = std::chrono::steady_clock::now();
    if (!readiness_checked_ || now - readiness_at_ >= kReadinessCacheTime) {
      readiness_ = service_->store().ProbeWrite();
      readiness_at_ = std::chrono::steady_clock::now();
      readiness_checked_ = true;
    }
    return readiness_;
  }

  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  static HttpResponse PlainJson(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.content_type = "application/json";
    r.body = std::move(body);
    return r;
  }

  std::optional<HttpResponse> CheckAccept(const HttpRequest& req) const {
    static const std::vector<std::string> kOffered = {kSessionMediaType, "application/json"};
    auto accept = req.header("accept");
    if (!accept || AcceptAdmits(*accept, kOffered)) return std::nullopt;
    return Problem(406, std::string("responses are ") + kSessionMediaType);
  }

  std::string AcceptList() const {
    std::string out;
    for (const auto& t : service_->Accept()) out += (out.empty() ? "" : ", ") + t;
    return out;
  }

  std::string SessionLocation(const std::string& id) const {
    if (options_.format == SessionFormat::kVeraison) return "session/" + id;
    return std::string(kBase) + "/session/" + id;
  }

  HttpResponse SessionResponse(int status, const Session& s) const {
    HttpResponse r;
    r.status = status;
    r.content_type = kSessionMediaType;
    r.body = SessionToJson(s, service_->Accept(), options_.format);
    // The document carries a fresh nonce: no cache may keep or share it.
    r.AddHeader("Cache-Control", "no-store");
    return r;
  }

  std::shared_ptr<SessionService> service_;
  ChallengeResponseOptions options_;
  mutable std::mutex readiness_mu_;
  mutable bool readiness_checked_ = false;
  mutable std::chrono::steady_clock::time_point readiness_at_;
  mutable Status readiness_;
};

}  // namespace

std::shared_ptr<Router> MakeChallengeResponseRouter(std::shared_ptr<SessionService> service,
                                                    ChallengeResponseOptions options) {
  auto api = std::make_shared<ChallengeResponseApi>(std::move(service), std::move(options));
  auto router = std::make_shared<Router>(
      [](int status, std::string_view detail) { return Problem(status, detail); });
  auto bind = [api](HttpResponse (ChallengeResponseApi::*fn)(const HttpRequest&) const) {
    return [api, fn](const HttpRequest& r) { return ((*api).*fn)(r); };
  };
  auto bind_async = [api](void (ChallengeResponseApi::*fn)(const HttpRequest&, Responder) const) {
    return
        [api, fn](const HttpRequest& r, Responder respond) { ((*api).*fn)(r, std::move(respond)); };
  };
  std::string base = kBase;
  router->AddAsync("POST", base + "/newSession", bind_async(&ChallengeResponseApi::NewSession));
  router->AddAsync("POST", base + "/session/:id",
                   bind_async(&ChallengeResponseApi::SubmitEvidence));
  router->AddAsync("GET", base + "/session/:id", bind_async(&ChallengeResponseApi::GetSession));
  router->Add("DELETE", base + "/session/:id", bind(&ChallengeResponseApi::DeleteSession));
  router->Add("GET", "/.well-known/veraison/verification", bind(&ChallengeResponseApi::Discovery));
  router->Add("GET", "/.well-known/jwks.json", bind(&ChallengeResponseApi::Jwks));
  router->Add("GET", "/metrics", bind(&ChallengeResponseApi::MetricsText));
  router->Add("GET", "/healthz", bind(&ChallengeResponseApi::Healthz));
  router->Add("GET", "/readyz", bind(&ChallengeResponseApi::Readyz));
  return router;
}

}  // namespace attestd::api
