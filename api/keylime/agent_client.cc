// The pull model's HTTPS client: one connection per call, driven by a
// coroutine on a private io_context so every step shares one deadline.
// BOOST_BEAST_USE_STD_STRING_VIEW comes from CMake, for every file alike.
#include "api/keylime/agent_client.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fstream>
#include <sstream>

#include "api/http_server.h"
#include "api/keylime/keylime_api.h"
#include "common/json_writer.h"
#include "common/value_json.h"
#include "service/keylime/pull_crypto.h"

namespace attestd::api::keylime {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

struct Target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string path;
  std::string trusted_cert;  // PEM: the only anchor (agents); empty: system CAs
  bool client_cert = false;  // present the verifier's certificate
};

struct Reply {
  int status = 0;
  std::string body;
};

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class HttpsAgentClient : public AgentClient {
 public:
  explicit HttpsAgentClient(AgentClientOptions options) : options_(std::move(options)) {}

  Result<std::vector<std::string>> Versions(const AgentEndpoint& agent) override {
    auto reply = Call(AgentTarget(agent, "/version"), http::verb::get, "");
    if (!reply.ok()) return reply.status();
    if (Status st = Results(*reply).status(); !st.ok()) return st;
    return ParseVersionAnswer(reply->body);
  }

  Result<AgentQuote> GetQuote(const AgentEndpoint& agent, const QuoteRequest& q) override {
    std::string path = "/v" + agent.api_version + "/quotes/integrity?nonce=" + q.nonce +
                       "&mask=" + q.mask + "&partial=" + (q.partial ? "1" : "0") +
                       "&ima_ml_entry=" + std::to_string(q.ima_ml_entry);
    auto reply = Call(AgentTarget(agent, path), http::verb::get, "");
    if (!reply.ok()) return reply.status();
    if (Status st = Results(*reply).status(); !st.ok()) return st;
    return ParseQuoteAnswer(reply->body);
  }

  Status PostVKey(const AgentEndpoint& agent, const std::string& encrypted_key) override {
    JsonWriter w;
    w.BeginObject().Key("encrypted_key").String(encrypted_key).EndObject();
    auto reply = Call(AgentTarget(agent, "/v" + agent.api_version + "/keys/vkey"), http::verb::post,
                      w.Take());
    if (!reply.ok()) return reply.status();
    return Results(*reply).status();
  }

  Status PostRevocation(const AgentEndpoint& agent, const Revocation& revocation) override {
    auto body = RevocationBody(revocation);
    if (!body.ok()) return body.status();
    auto reply = Call(AgentTarget(agent, "/v" + agent.api_version + "/notifications/revocation"),
                      http::verb::post, *body);
    if (!reply.ok()) return reply.status();
    return Results(*reply).status();
  }

  Status PostWebhook(const std::string& url, const Revocation& revocation) override {
    Target t;
    std::string rest;
    if (url.rfind("https://", 0) == 0) {
      t.tls = true;
      rest = url.substr(8);
    } else if (url.rfind("http://", 0) == 0) {
      rest = url.substr(7);
    } else {
      return InvalidArgument("webhook_url must be http:// or https://");
    }
    size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    t.path = slash == std::string::npos ? "/" : rest.substr(slash);
    int port = 0;
    if (!SplitHostPort(authority, &t.host, &port)) {
      t.host = authority;
      port = t.tls ? 443 : 80;
    }
    t.port = std::to_string(port);
    auto body = RevocationBody(revocation);
    if (!body.ok()) return body.status();
    auto reply = Call(t, http::verb::post, *body);
    if (!reply.ok()) return reply.status();
    if (reply->status < 200 || reply->status >= 300) {
      return Status(StatusCode::kUnavailable,
                    "webhook answered HTTP " + std::to_string(reply->status));
    }
    return Status::Ok();
  }

 private:
  Target AgentTarget(const AgentEndpoint& agent, std::string path) const {
    Target t;
    t.tls = !agent.mtls_cert.empty() && agent.mtls_cert != "disabled";
    t.host = agent.ip;
    t.port = std::to_string(agent.port);
    t.path = std::move(path);
    t.trusted_cert = agent.mtls_cert;
    t.client_cert = true;
    return t;
  }

  // The envelope of a 200 answer; AgentClient's error mapping otherwise.
  Result<std::unique_ptr<JsonBody>> Results(const Reply& reply) const {
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

  Result<std::shared_ptr<ssl::context>> Context(const Target& t) const {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (t.trusted_cert.empty()) {
      ctx->set_default_verify_paths(ec);
    } else {
      ctx->add_certificate_authority(net::buffer(t.trusted_cert), ec);
      if (ec) return InvalidArgument("the agent's mtls_cert is not a PEM certificate");
      // The registered certificate itself is the anchor, CA or not.
      X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx->native_handle()),
                                  X509_V_FLAG_PARTIAL_CHAIN);
    }
    ctx->set_verify_mode(ssl::verify_peer);
    if (t.client_cert && !options_.client_cert.empty()) {
      ctx->use_certificate_chain_file(options_.client_cert, ec);
      if (!ec) ctx->use_private_key_file(options_.client_key, ssl::context::pem, ec);
      if (ec) return InvalidArgument("cannot load the verifier's client certificate");
    }
    return ctx;
  }

  Result<Reply> Call(const Target& t, http::verb verb, std::string body) const {
    std::shared_ptr<ssl::context> ctx;
    if (t.tls) {
      auto c = Context(t);
      if (!c.ok()) return c.status();
      ctx = *c;
    }
    http::request<http::string_body> req{verb, t.path, 11};
    req.set(http::field::host, t.host);
    req.set(http::field::user_agent, "attestd");
    if (verb == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = std::move(body);
      req.prepare_payload();
    }
    net::io_context ioc;
    Reply reply;
    std::string error;
    auto deadline = std::chrono::milliseconds(options_.timeout_ms);
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
          try {
            tcp::resolver resolver(ioc);
            auto endpoints = co_await resolver.async_resolve(t.host, t.port, net::use_awaitable);
            http::response_parser<http::string_body> parser;
            parser.body_limit(options_.max_body);
            beast::flat_buffer buffer;
            if (t.tls) {
              beast::ssl_stream<beast::tcp_stream> stream(ioc, *ctx);
              beast::get_lowest_layer(stream).expires_after(deadline);
              co_await beast::get_lowest_layer(stream).async_connect(endpoints, net::use_awaitable);
              co_await stream.async_handshake(ssl::stream_base::client, net::use_awaitable);
              co_await http::async_write(stream, req, net::use_awaitable);
              co_await http::async_read(stream, buffer, parser, net::use_awaitable);
            } else {
              beast::tcp_stream stream(ioc);
              stream.expires_after(deadline);
              co_await stream.async_connect(endpoints, net::use_awaitable);
              co_await http::async_write(stream, req, net::use_awaitable);
              co_await http::async_read(stream, buffer, parser, net::use_awaitable);
            }
            reply.status = static_cast<int>(parser.get().result_int());
            reply.body = std::move(parser.get().body());
          } catch (const boost::system::system_error& e) {
            error = e.code() == http::error::body_limit ? "body_limit" : e.code().message();
          } catch (const std::exception& e) {
            error = "request failed";
          }
        },
        net::detached);
    // The resolver step has no stream deadline: bound the whole loop too.
    ioc.run_for(deadline + std::chrono::milliseconds(500));
    if (error == "body_limit") return InvalidArgument("the answer is too large");
    if (!error.empty() || reply.status == 0) {
      return Status(StatusCode::kUnavailable,
                    "no answer from " + t.host + ":" + t.port +
                        (error.empty() ? std::string(" (timeout)") : ": " + error));
    }
    return reply;
  }

  AgentClientOptions options_;
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
  if (!options.client_cert.empty()) {
    if (!ReadFile(options.client_cert) || !ReadFile(options.client_key)) {
      return InvalidArgument("cannot read the verifier's client certificate or key");
    }
  }
  return std::shared_ptr<AgentClient>(std::make_shared<HttpsAgentClient>(options));
}

}  // namespace attestd::api::keylime
