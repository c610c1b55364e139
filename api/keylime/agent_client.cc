// The pull model's HTTPS client: Keylime's routes and envelope over the
// connection pool (https_pool.h), which keeps one connection per agent
// alive between polls.
#include "api/keylime/agent_client.h"

#include <fstream>
#include <sstream>

#include "api/http_server.h"
#include "api/keylime/https_pool.h"
#include "api/keylime/keylime_api.h"
#include "common/json_writer.h"
#include "common/value_json.h"
#include "service/keylime/pull_crypto.h"

namespace attestd::api::keylime {
namespace {

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class HttpsAgentClient : public AgentClient {
 public:
  explicit HttpsAgentClient(std::unique_ptr<HttpsPool> pool) : pool_(std::move(pool)) {}

  Result<std::vector<std::string>> Versions(const AgentEndpoint& agent) override {
    auto reply = pool_->Call(AgentRequest(agent, "/version"));
    if (!reply.ok()) return reply.status();
    if (Status st = Results(*reply).status(); !st.ok()) return st;
    return ParseVersionAnswer(reply->body);
  }

  Result<AgentQuote> GetQuote(const AgentEndpoint& agent, const QuoteRequest& q) override {
    return QuoteOf(pool_->Call(QuoteCall(agent, q)));
  }

  void GetQuoteAsync(const AgentEndpoint& agent, const QuoteRequest& q, QuoteDone done) override {
    pool_->CallAsync(QuoteCall(agent, q), [done = std::move(done)](Result<PoolReply> reply) {
      done(QuoteOf(std::move(reply)));
    });
  }

  Status PostVKey(const AgentEndpoint& agent, const std::string& encrypted_key) override {
    return StatusOf(pool_->Call(VKeyCall(agent, encrypted_key)));
  }

  void PostVKeyAsync(const AgentEndpoint& agent, const std::string& encrypted_key,
                     StatusDone done) override {
    pool_->CallAsync(
        VKeyCall(agent, encrypted_key),
        [done = std::move(done)](Result<PoolReply> reply) { done(StatusOf(std::move(reply))); });
  }

  Status PostRevocation(const AgentEndpoint& agent, const Revocation& revocation) override {
    auto body = RevocationBody(revocation);
    if (!body.ok()) return body.status();
    auto reply = pool_->Call(
        AgentRequest(agent, "/v" + agent.api_version + "/notifications/revocation", *body));
    if (!reply.ok()) return reply.status();
    return Results(*reply).status();
  }

  Status PostWebhook(const std::string& url, const Revocation& revocation) override {
    PoolRequest r;
    r.method = "POST";
    std::string rest;
    if (url.rfind("https://", 0) == 0) {
      r.tls = true;
      rest = url.substr(8);
    } else if (url.rfind("http://", 0) == 0) {
      rest = url.substr(7);
    } else {
      return InvalidArgument("webhook_url must be http:// or https://");
    }
    size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    r.target = slash == std::string::npos ? "/" : rest.substr(slash);
    int port = 0;
    if (!SplitHostPort(authority, &r.host, &port)) {
      r.host = authority;
      port = r.tls ? 443 : 80;
    }
    r.port = std::to_string(port);
    auto body = RevocationBody(revocation);
    if (!body.ok()) return body.status();
    r.body = std::move(*body);
    auto reply = pool_->Call(r);
    if (!reply.ok()) return reply.status();
    if (reply->status < 200 || reply->status >= 300) {
      return Status(StatusCode::kUnavailable,
                    "webhook answered HTTP " + std::to_string(reply->status));
    }
    return Status::Ok();
  }

 private:
  static PoolRequest QuoteCall(const AgentEndpoint& agent, const QuoteRequest& q) {
    return AgentRequest(agent, "/v" + agent.api_version + "/quotes/integrity?nonce=" + q.nonce +
                                   "&mask=" + q.mask + "&partial=" + (q.partial ? "1" : "0") +
                                   "&ima_ml_entry=" + std::to_string(q.ima_ml_entry));
  }
  static PoolRequest VKeyCall(const AgentEndpoint& agent, const std::string& encrypted_key) {
    JsonWriter w;
    w.BeginObject().Key("encrypted_key").String(encrypted_key).EndObject();
    return AgentRequest(agent, "/v" + agent.api_version + "/keys/vkey", w.Take());
  }
  static Result<AgentQuote> QuoteOf(Result<PoolReply> reply) {
    if (!reply.ok()) return reply.status();
    if (Status st = Results(*reply).status(); !st.ok()) return st;
    return ParseQuoteAnswer(reply->body);
  }
  static Status StatusOf(Result<PoolReply> reply) {
    if (!reply.ok()) return reply.status();
    return Results(*reply).status();
  }

  static PoolRequest AgentRequest(const AgentEndpoint& agent, std::string target,
                                  std::string body = "") {
    PoolRequest r;
    r.tls = !agent.mtls_cert.empty() && agent.mtls_cert != "disabled";
    r.host = agent.ip;
    r.port = std::to_string(agent.port);
    r.target = std::move(target);
    r.trusted_cert = r.tls ? agent.mtls_cert : "";
    r.method = body.empty() ? "GET" : "POST";
    r.body = std::move(body);
    return r;
  }

  // The envelope of a 200 answer; AgentClient's error mapping otherwise.
  static Result<std::unique_ptr<JsonBody>> Results(const PoolReply& reply) {
    auto body = std::make_unique<JsonBody>();
    bool parsed = body->Parse(reply.body).ok();
    if (reply.status == 200) {
      if (!parsed) return InvalidArgument("the agent's answer is not a JSON object");
      return body;
    }
    if (reply.status == 408 || reply.status == 500 || reply.status == 599)
      return Status(StatusCode::kUnavailable,
                    "agent answered HTTP " + std::to_string(reply.status));
    std::string_view status_text;
    if (reply.status == 400 && parsed &&
        body->object()["status"].get_string().get(status_text) == simdjson::SUCCESS &&
        status_text.find("API version not supported") != std::string_view::npos) {
      return Status(StatusCode::kConflict, "API version not supported");
    }
    return InvalidArgument("agent answered HTTP " + std::to_string(reply.status));
  }

  std::unique_ptr<HttpsPool> pool_;
};

}  // namespace

Result<std::vector<std::string>> ParseVersionAnswer(std::string_view text) {
  JsonBody body;
  if (Status st = body.Parse(text); !st.ok()) return st;
  simdjson::dom::object r;
  if (body.object()["results"].get_object().get(r) != simdjson::SUCCESS)
    return InvalidArgument("/version: no results");
  std::vector<std::string> out;
  simdjson::dom::array list;
  std::string_view one;
  if (r["supported_versions"].get_array().get(list) == simdjson::SUCCESS) {
    for (auto v : list) {
      if (v.get_string().get(one) == simdjson::SUCCESS) out.emplace_back(one);
    }
  } else if (r["supported_version"].get_string().get(one) == simdjson::SUCCESS) {
    out.emplace_back(one);
  }
  if (out.empty()) return InvalidArgument("/version: no supported_version");
  return out;
}

Result<AgentQuote> ParseQuoteAnswer(std::string_view text) {
  JsonBody body;
  if (Status st = body.Parse(text); !st.ok()) return st;
  simdjson::dom::object r;
  if (body.object()["results"].get_object().get(r) != simdjson::SUCCESS)
    return InvalidArgument("quote: no results");
  AgentQuote out;
  auto str = [&](const char* key, std::string* to, bool required) -> Status {
    std::string_view v;
    auto e = r[key];
    if (e.error() == simdjson::NO_SUCH_FIELD || e.is_null()) {
      return required ? InvalidArgument(std::string("quote: no ") + key) : Status::Ok();
    }
    if (e.get_string().get(v) != simdjson::SUCCESS)
      return InvalidArgument(std::string("quote: ") + key + " is not a string");
    *to = std::string(v);
    return Status::Ok();
  };
  for (auto [key, to, required] : {std::tuple{"quote", &out.quote, true},
                                   {"hash_alg", &out.hash_alg, true},
                                   {"enc_alg", &out.enc_alg, true},
                                   {"sign_alg", &out.sign_alg, true},
                                   {"pubkey", &out.pubkey, false}}) {
    if (Status st = str(key, to, required); !st.ok()) return st;
  }
  std::string list_text;
  if (Status st = str("ima_measurement_list", &list_text, false); !st.ok()) return st;
  if (r["ima_measurement_list"].error() == simdjson::SUCCESS &&
      !r["ima_measurement_list"].is_null())
    out.ima_measurement_list = list_text;
  list_text.clear();
  if (Status st = str("mb_measurement_list", &list_text, false); !st.ok()) return st;
  if (!list_text.empty()) out.mb_measurement_list = list_text;
  int64_t n = 0;
  if (r["ima_measurement_list_entry"].get_int64().get(n) == simdjson::SUCCESS)
    out.ima_measurement_list_entry = n;
  n = 0;
  if (r["boottime"].get_int64().get(n) == simdjson::SUCCESS) out.boottime = n;
  return out;
}

Result<std::string> RevocationBody(const Revocation& m) {
  JsonWriter msg;
  msg.BeginObject();
  msg.Key("type").String(m.type);
  msg.Key("ip").String(m.ip);
  msg.Key("agent_id").String(m.agent_id);
  msg.Key("port").Int(m.port);
  msg.Key("tpm_policy").String(m.tpm_policy);
  msg.Key("meta_data").String(m.meta_data);
  msg.Key("event_time").String(m.event_time);
  if (!m.event_id.empty()) {
    msg.Key("event_id").String(m.event_id);
    msg.Key("severity_label").String(m.severity_label);
    msg.Key("context").String(ValueToJson(m.context));
  }
  msg.EndObject();
  std::string text = msg.Take();
  std::string signature;
  if (!m.signing_key.empty()) {
    auto sig = attestd::keylime::SignRevocation(m.signing_key, text);
    if (!sig.ok()) return sig.status();
    signature = std::move(*sig);
  }
  JsonWriter w;
  w.BeginObject().Key("msg").String(text).Key("signature").String(signature).EndObject();
  return w.Take();
}

Result<std::shared_ptr<AgentClient>> MakeHttpsAgentClient(const AgentClientOptions& options) {
  PoolOptions po;
  if (!options.client_cert.empty()) {
    auto cert = ReadFile(options.client_cert);
    auto key = ReadFile(options.client_key);
    if (!cert || !key) {
      return InvalidArgument("cannot read the verifier's client certificate or key");
    }
    po.client_cert_pem = std::move(*cert);
    po.client_key_pem = std::move(*key);
  }
  po.timeout_ms = options.timeout_ms;
  po.max_body = options.max_body;
  po.idle_timeout_ms = options.idle_timeout_ms;
  po.max_idle = options.max_idle;
  auto pool = HttpsPool::Create(po);
  if (!pool.ok()) return pool.status();
  return std::shared_ptr<AgentClient>(std::make_shared<HttpsAgentClient>(std::move(*pool)));
}

}  // namespace attestd::api::keylime
