#include "api/negotiation.h"

#include <algorithm>
#include <charconv>

#include "verifiers/registry.h"

namespace attestd::api {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> SplitOn(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(sep, i);
    if (j == std::string_view::npos) j = s.size();
    out.push_back(Trim(s.substr(i, j - i)));
    i = j + 1;
  }
  return out;
}

// q-value of a media range's parameters; 1 when absent, -1 when malformed.
double QValue(const std::vector<std::string_view>& params) {
  for (size_t i = 1; i < params.size(); ++i) {
    std::string_view p = params[i];
    if (p.size() < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=') continue;
    std::string_view v = p.substr(2);
    if (v.empty() || v.size() > 5) return -1;
    double q = 0;
    if (v[0] == '1') {
      q = 1;
    } else if (v[0] != '0') {
      return -1;
    }
    if (v.size() > 1) {
      if (v[1] != '.') return -1;
      for (char c : v.substr(2)) {
        if (c < '0' || c > '9' || (q == 1 && c != '0')) return -1;
      }
      if (q == 0 && v.size() > 2) q = std::stod(std::string(v));
    }
    return q;
  }
  return 1;
}

}  // namespace

bool AcceptAdmits(std::string_view accept, const std::vector<std::string>& offered) {
  if (Trim(accept).empty()) return true;
  for (std::string_view range : SplitOn(accept, ',')) {
    if (range.empty()) continue;
    auto params = SplitOn(range, ';');
    double q = QValue(params);
    if (q <= 0) continue;
    std::string r = params[0] == "*/*" ? "*/*" : NormalizeMediaType(params[0]);
    if (r.empty()) continue;
    for (const std::string& o : offered) {
      if (r == "*/*" || r == o) return true;
      if (r.size() > 2 && r.compare(r.size() - 2, 2, "/*") == 0 &&
          o.compare(0, r.size() - 1, r, 0, r.size() - 1) == 0) {
        return true;
      }
    }
  }
  return false;
}

Preferences ParsePrefer(std::string_view prefer) {
  Preferences out;
  for (std::string_view pref : SplitOn(prefer, ',')) {
    std::string_view token = Trim(pref.substr(0, pref.find(';')));
    std::string lower(token);
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower == "respond-async") {
      out.respond_async = true;
    } else if (lower.rfind("wait=", 0) == 0) {
      std::string_view v = token.substr(5);
      int64_t n = 0;
      auto r = std::from_chars(v.data(), v.data() + v.size(), n);
      if (r.ec == std::errc() && r.ptr == v.data() + v.size() && n >= 0) out.wait_seconds = n;
    }
  }
  return out;
}

}  // namespace attestd::api
