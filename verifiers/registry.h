// Registry: maps a normalized evidence media type to its verifier.
//
// Built once at start-up (Register) and read-only afterwards, so lookups
// take no lock.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "verifiers/verifier.h"

namespace attestd {

// "Application/Foo+JSON; charset=utf-8" → "application/foo+json": type and
// subtype lower-cased, parameters dropped, whitespace trimmed. Returns an
// empty string if the text is not of the form type "/" subtype with RFC 9110
// token characters.
std::string NormalizeMediaType(std::string_view content_type);

class Registry {
 public:
  // Registers `verifier` under each of its media types, public and
  // internal. kConflict if a type is already taken (two verifiers for one
  // type is a wiring bug).
  Status Register(std::shared_ptr<const Verifier> verifier);

  // The verifier for a normalized media type, public or internal, or
  // nullptr (for attestd's own services).
  const Verifier* Find(std::string_view normalized_type) const;
  // The verifier for a public media type only, or nullptr (for what
  // arrives from the network).
  const Verifier* FindPublic(std::string_view normalized_type) const;

  // Every public media type, in registration order.
  const std::vector<std::string>& MediaTypes() const { return types_; }
  // Public and internal media types (metrics count appraisals of both).
  std::vector<std::string> AllMediaTypes() const;

 private:
  std::vector<std::shared_ptr<const Verifier>> verifiers_;
  std::unordered_map<std::string, const Verifier*> by_type_;
  std::unordered_map<std::string, const Verifier*> internal_;
  std::vector<std::string> types_;
};

}  // namespace attestd
