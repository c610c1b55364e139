#include "verifiers/registry.h"

#include <cctype>

namespace attestd {

namespace {

// RFC 9110 tchar.
bool IsTokenChar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string NormalizeMediaType(std::string_view content_type) {
  std::string_view s = Trim(content_type.substr(0, content_type.find(';')));
  size_t slash = s.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == s.size()) return "";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (i == slash) {
      out.push_back('/');
      continue;
    }
    if (!IsTokenChar(c)) return "";
    out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

Status Registry::Register(std::shared_ptr<const Verifier> verifier) {
  std::vector<std::string> all = verifier->MediaTypes();
  for (std::string& t : verifier->InternalMediaTypes()) all.push_back(std::move(t));
  for (const std::string& t : all) {
    std::string n = NormalizeMediaType(t);
    if (n.empty() || n != t) return InvalidArgument("media type not normalized: " + t);
    if (by_type_.count(n) || internal_.count(n))
      return Conflict("media type registered twice: " + n);
  }
  for (const std::string& t : verifier->MediaTypes()) {
    by_type_[t] = verifier.get();
    types_.push_back(t);
  }
  for (const std::string& t : verifier->InternalMediaTypes()) internal_[t] = verifier.get();
  verifiers_.push_back(std::move(verifier));
  return Status::Ok();
}

std::vector<std::string> Registry::AllMediaTypes() const {
  std::vector<std::string> all = types_;
  for (const auto& [type, verifier] : internal_) all.push_back(type);
  return all;
}

const Verifier* Registry::FindPublic(std::string_view normalized_type) const {
  auto it = by_type_.find(std::string(normalized_type));
  return it == by_type_.end() ? nullptr : it->second;
}

const Verifier* Registry::Find(std::string_view normalized_type) const {
  if (const Verifier* v = FindPublic(normalized_type)) return v;
  auto it = internal_.find(std::string(normalized_type));
  return it == internal_.end() ? nullptr : it->second;
}

}  // namespace attestd
