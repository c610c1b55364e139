// Keylime API plumbing shared by the registrar and verifier listeners.
//
// What it promises (docs/keylime-compatibility.md):
// - Every v2 body is the envelope {"code": N, "status": "...", "results": {...}}
//   with `code` equal to the HTTP status (the tenant reads the body's code).
//   Errors keep the envelope, including the router's 404/405/413/500.
// - Routes live under every versioned prefix /v2, /v2.0 … /v2.6, /v3, /v3.0
//   (one pattern "/:api_version/..." per route, so logs and metrics see one
//   route); a trailing slash is optional; an unknown prefix is 404.
// - GET /version (unversioned) answers the supported versions.
// - Bodies are JSON with or without a Content-Type header (Keylime's agent
//   and tenant send none); parsing uses simdjson's error codes, never
//   exceptions. Malformed JSON is 400.
#pragma once

#include <simdjson.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/router.h"
#include "common/status.h"

namespace attestd::api::keylime {

inline constexpr char kCurrentVersion[] = "2.6";
// What GET /version lists, oldest first.
const std::vector<std::string>& SupportedVersions();

// The API version of a route's ":api_version" segment ("v2.1" → "2.1",
// "v2" → "2.0", "v3" → "3.0"); nullopt for anything else.
std::optional<std::string> ParseApiVersion(std::string_view segment);

// Which major versions a route exists under.
enum class Versions { kV2, kV3, kAll };

// {"code":status,"status":<status text>,"results":<results_json>}.
// `results_json` must be a JSON object ("{}" when there is nothing).
HttpResponse Envelope(int status, std::string_view status_text,
                      std::string_view results_json = "{}");

// Envelope(status, "Success") for 2xx, else Envelope(status, detail).
HttpResponse EnvelopeError(int status, std::string_view detail);

// Envelope for a domain error: ToPublicError's status and detail (no
// internals), with Retry-After on 503.
HttpResponse EnvelopeFromStatus(const Status& status);

inline constexpr char kJsonApiMediaType[] = "application/vnd.api+json";

// A JSON:API error document: {"errors":[{"status":"N","title":…,"detail":…}]}.
HttpResponse JsonApiError(int status, std::string_view detail);

// Errors the router or the HTTP adapter make for a path under a v3 prefix
// (/v3/…, /v3.0/…) become JSON:API documents; other paths keep the
// envelope. For the verifier listener, whose v3 routes speak JSON:API.
void UseJsonApiErrorsUnderV3(Router& router);

// A router whose error answers are envelopes, trailing slashes ignored, and
// GET /version, GET /versions (410 unless `serve_versions`) and the
// GET /v3[.0]/ probe registered.
std::shared_ptr<Router> MakeKeylimeRouter(bool serve_versions = true);

// Registers `handler` under "/:api_version" + `suffix`; requests whose prefix
// is not one of `versions` get the 404 envelope. The handler may read the
// version with ParseApiVersion(*req.param("api_version")).
void AddVersionedRoute(Router& router, const std::string& method, const std::string& suffix,
                       Versions versions, RouteHandler handler, RouteOptions options = {});

// A parsed JSON request body. Keeps the parser alive for the elements.
class JsonBody {
 public:
  // The parser comes from a small per-thread pool (and goes back to it), so
  // a request allocates no parser buffers of its own.
  JsonBody();
  ~JsonBody();
  JsonBody(const JsonBody&) = delete;
  JsonBody& operator=(const JsonBody&) = delete;

  // kInvalidArgument when the body is empty, not JSON, or not an object.
  Status Parse(std::string_view body);
  // The member `key` of `parent`: parsed from its text when it is a string
  // holding JSON (as Keylime's tenant sends it), else the object itself,
  // without copying (`parent` must then outlive this). kInvalidArgument when
  // neither is an object; kNotFound when absent or null.
  Status ParseMember(const JsonBody& parent, std::string_view key);

  const simdjson::dom::object& object() const { return object_; }

  // A string member: nullopt when absent or null; kInvalidArgument when of
  // another type.
  Result<std::optional<std::string>> OptionalString(std::string_view key) const;
  // A required string member (absent, null or another type → kInvalidArgument).
  Result<std::string> RequiredString(std::string_view key) const;
  // A port: an integer or a decimal string (Keylime's Python agent sends a
  // string), 1..65535; nullopt when absent or null.
  Result<std::optional<int>> OptionalPort(std::string_view key) const;
  // A list of strings; nullopt when absent or null.
  Result<std::optional<std::vector<std::string>>> OptionalStringList(std::string_view key) const;
  // A JSON document carried as a string (what Keylime's tenant sends,
  // json.dumps) or inline as any JSON value: the string's content, or the
  // value's minified text. nullopt when absent or null.
  Result<std::optional<std::string>> OptionalJsonText(std::string_view key) const;
  // Whether the member is present and not null.
  bool Has(std::string_view key) const;

 private:
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::object object_;
};

}  // namespace attestd::api::keylime
