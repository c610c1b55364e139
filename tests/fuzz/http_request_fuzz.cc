// libFuzzer target for the HTTP request path: bytes as a client sends them
// go through api/http_parse (the Beast parser configured as every listener
// configures it, the header checks, the refusals and the HttpRequest
// routes see), so request lines, header fields, Content-Length and chunked
// framing (chunk sizes, extensions, trailers) are all fuzzed. Invariants:
// nothing throws or crashes; a refusal is a 4xx with a detail of ours; a
// request's body never exceeds the body limit.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "api/http_parse.h"

namespace {
constexpr size_t kMaxBody = 4096;  // small, so the fuzzer reaches the limit
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace attestd::api;
  auto outcome = http_parse::ParseRequestBytes(
      std::string_view(reinterpret_cast<const char*>(data), size), kMaxBody);
  if (!outcome) return 0;
  if (auto* refused = std::get_if<http_parse::Refusal>(&*outcome)) {
    if (refused->status < 400 || refused->status > 499 || refused->detail.empty()) {
      __builtin_trap();
    }
    return 0;
  }
  const HttpRequest& r = std::get<HttpRequest>(*outcome);
  if (r.body.size() > kMaxBody) __builtin_trap();
  if (r.path.size() > http_parse::kMaxTargetBytes) __builtin_trap();
  return 0;
}
