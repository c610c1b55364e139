#include "api/keylime/keylime_api.h"

#include <charconv>

#include "api/problem.h"
#include "common/json_writer.h"

namespace attestd::api::keylime {

const std::vector<std::string>& SupportedVersions() {
  static const std::vector<std::string> kVersions = {"2.0", "2.1", "2.2", "2.3",
                                                     "2.4", "2.5", "2.6", "3.0"};
  return kVersions;
}

std::optional<std::string> ParseApiVersion(std::string_view segment) {
  if (segment == "v2") return "2.0";
  if (segment == "v3") return "3.0";
  if (segment.size() != 4 || segment[0] != 'v' || segment[2] != '.') return std::nullopt;
  std::string version(segment.substr(1));
  for (const std::string& v : SupportedVersions()) {
    if (v == version) return version;
  }
  return std::nullopt;
}

HttpResponse Envelope(int status, std::string_view status_text, std::string_view results_json) {
  JsonWriter w;
  w.BeginObject();
  w.Key("code").Int(status);
  w.Key("status").String(status_text);
  w.Key("results").Raw(results_json.empty() ? "{}" : results_json);
  w.EndObject();
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = w.Take();
  return r;
}

HttpResponse EnvelopeError(int status, std::string_view detail) {
  return Envelope(status, status < 300 ? std::string_view("Success") : detail);
}

HttpResponse EnvelopeFromStatus(const Status& status) {
  PublicError e = ToPublicError(status);
  return WithRetryAfter(EnvelopeError(e.status, e.detail), e);
}

HttpResponse JsonApiError(int status, std::string_view detail) {
  JsonWriter w;
  w.BeginObject().Key("errors").BeginArray().BeginObject();
  w.Key("status").String(std::to_string(status)).Key("title").String(ReasonPhrase(status));
  w.Key("detail").String(detail).EndObject().EndArray().EndObject();
  HttpResponse r;
  r.status = status;
  r.content_type = kJsonApiMediaType;
  r.body = w.Take();
  return r;
}

void UseJsonApiErrorsUnderV3(Router& router) {
  router.set_path_errors([](std::string_view path, int status,
                            std::string_view detail) -> std::optional<HttpResponse> {
    // "/v3/..." or "/v3.0/...": the version segment, whatever follows.
    if (path.size() < 2 || path[0] != '/') return std::nullopt;
    std::string_view segment = path.substr(1, path.find('/', 1) - 1);
    auto version = ParseApiVersion(segment);
    if (!version || version->rfind("3.", 0) != 0) return std::nullopt;
    return JsonApiError(status, detail);
  });
}

namespace {

HttpResponse Version(const HttpRequest&) {
  JsonWriter w;
  w.BeginObject();
  w.Key("current_version").String(kCurrentVersion);
  w.Key("supported_versions").StringArray(SupportedVersions());
  w.EndObject();
  return Envelope(200, "Success", w.str());
}

bool MajorAllowed(Versions versions, std::string_view version) {
  switch (versions) {
    case Versions::kAll:
      return true;
    case Versions::kV2:
      return version.rfind("2.", 0) == 0;
    case Versions::kV3:
      return version.rfind("3.", 0) == 0;
  }
  return false;
}

}  // namespace

std::shared_ptr<Router> MakeKeylimeRouter(bool serve_versions) {
  auto router = std::make_shared<Router>(
      [](int status, std::string_view detail) { return EnvelopeError(status, detail); });
  router->set_ignore_trailing_slash(true);
  // Keylime's verifier also serves it as /versions (deprecated there);
  // without them, both answer 410 as Keylime's verifier in push mode.
  for (const char* path : {"/version", "/versions"}) {
    if (serve_versions) {
      router->Add("GET", path, Version);
    } else {
      router->Add("GET", path, [](const HttpRequest&) { return Envelope(410, "Gone"); });
    }
  }
  // GET /v3/, /v3.0/: 200 when this version is served, the probe Keylime
  // 3.0 clients use instead of /version.
  // Literal paths, so that no one-segment route added later is shadowed.
  for (const char* root : {"/v3", "/v3.0"}) {
    router->Add("GET", root, [](const HttpRequest&) { return Envelope(200, "Success"); });
  }
  return router;
}

void AddVersionedRoute(Router& router, const std::string& method, const std::string& suffix,
                       Versions versions, RouteHandler handler, RouteOptions options) {
  router.Add(
      method, "/:api_version" + suffix,
      [versions, handler = std::move(handler)](const HttpRequest& req) {
        auto version = ParseApiVersion(req.param("api_version").value_or(""));
        if (!version || !MajorAllowed(versions, *version)) {
          return EnvelopeError(404, "no such resource (unsupported API version)");
        }
        return handler(req);
      },
      options);
}

namespace {

// Parsers kept per thread for the next request: as many as one request
// nests, none that grew past a normal body (a huge one would pin memory).
constexpr size_t kPooledParsers = 4;
constexpr size_t kPooledParserCapacity = 1 << 20;
thread_local std::vector<std::unique_ptr<simdjson::dom::parser>> pooled_parsers;

}  // namespace

JsonBody::JsonBody() {
  if (pooled_parsers.empty()) {
    parser_ = std::make_unique<simdjson::dom::parser>();
  } else {
    parser_ = std::move(pooled_parsers.back());
    pooled_parsers.pop_back();
  }
}

JsonBody::~JsonBody() {
  if (pooled_parsers.size() < kPooledParsers && parser_->capacity() <= kPooledParserCapacity) {
    pooled_parsers.push_back(std::move(parser_));
  }
}

Status JsonBody::ParseMember(const JsonBody& parent, std::string_view key) {
  simdjson::dom::element e;
  if (parent.object_.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) {
    return NotFound(std::string(key) + " is absent");
  }
  std::string_view text;
  if (e.get_string().get(text) == simdjson::SUCCESS) return Parse(text);
  if (e.get_object().get(object_) != simdjson::SUCCESS) {
    return InvalidArgument(std::string(key) + " must be a JSON object");
  }
  return Status::Ok();
}

Status JsonBody::Parse(std::string_view body) {
  if (body.empty()) return InvalidArgument("the request body is empty (JSON expected)");
  simdjson::dom::element root;
  if (parser_->parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    return InvalidArgument("the request body is not valid JSON");
  }
  if (root.get_object().get(object_) != simdjson::SUCCESS) {
    return InvalidArgument("the request body is not a JSON object");
  }
  return Status::Ok();
}

Result<std::optional<std::string>> JsonBody::OptionalString(std::string_view key) const {
  simdjson::dom::element e;
  if (object_.at_key(key).get(e) != simdjson::SUCCESS || e.is_null())
    return std::optional<std::string>();
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) {
    return InvalidArgument(std::string(key) + " must be a string");
  }
  return std::optional<std::string>(std::string(s));
}

Result<std::string> JsonBody::RequiredString(std::string_view key) const {
  auto v = OptionalString(key);
  if (!v.ok()) return v.status();
  if (!*v) return InvalidArgument(std::string(key) + " is required");
  return std::move(**v);
}

Result<std::optional<int>> JsonBody::OptionalPort(std::string_view key) const {
  simdjson::dom::element e;
  if (object_.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return std::optional<int>();
  int64_t n = 0;
  std::string_view s;
  if (e.get_int64().get(n) == simdjson::SUCCESS) {
    // taken as is
  } else if (e.get_string().get(s) == simdjson::SUCCESS) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
      return InvalidArgument(std::string(key) + " must be a port number");
    }
  } else {
    return InvalidArgument(std::string(key) + " must be a port number");
  }
  if (n < 1 || n > 65535) return InvalidArgument(std::string(key) + " must be 1 to 65535");
  return std::optional<int>(static_cast<int>(n));
}

Result<std::optional<std::vector<std::string>>> JsonBody::OptionalStringList(
    std::string_view key) const {
  using Out = std::optional<std::vector<std::string>>;
  simdjson::dom::element e;
  if (object_.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return Out();
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) {
    return InvalidArgument(std::string(key) + " must be a list of strings");
  }
  std::vector<std::string> out;
  for (simdjson::dom::element item : arr) {
    std::string_view s;
    if (item.get_string().get(s) != simdjson::SUCCESS) {
      return InvalidArgument(std::string(key) + " must be a list of strings");
    }
    out.emplace_back(s);
  }
  return Out(std::move(out));
}

Result<std::optional<std::string>> JsonBody::OptionalJsonText(std::string_view key) const {
  simdjson::dom::element e;
  if (object_.at_key(key).get(e) != simdjson::SUCCESS || e.is_null())
    return std::optional<std::string>();
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) return std::optional<std::string>(std::string(s));
  return std::optional<std::string>(simdjson::minify(e));
}

bool JsonBody::Has(std::string_view key) const {
  simdjson::dom::element e;
  return object_.at_key(key).get(e) == simdjson::SUCCESS && !e.is_null();
}

}  // namespace attestd::api::keylime
