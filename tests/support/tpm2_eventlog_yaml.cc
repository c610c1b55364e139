#include "tests/support/tpm2_eventlog_yaml.h"

#include <cstdio>
#include <memory>
#include <sstream>

namespace attestd::testing {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \r");
  return s.substr(b, e - b + 1);
}

std::string Unquote(std::string v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    v = v.substr(1, v.size() - 2);
  }
  return v;
}

}  // namespace

std::vector<std::string> YamlEvent::All(const std::string& key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : fields) {
    if (k == key) out.push_back(v);
  }
  return out;
}

std::optional<std::string> YamlEvent::First(const std::string& key) const {
  for (const auto& [k, v] : fields) {
    if (k == key) return v;
  }
  return std::nullopt;
}

EventlogYaml ParseEventlogYaml(const std::string& text) {
  EventlogYaml out;
  std::istringstream in(text);
  std::string line, bank;
  bool in_pcrs = false;
  bool numbered = false;  // the previous line was "- EventNum: N"
  while (std::getline(in, line)) {
    if (line == "pcrs:") {
      in_pcrs = true;
      continue;
    }
    std::string t = Trim(line);
    if (in_pcrs) {
      size_t colon = t.find(':');
      if (colon == std::string::npos) continue;
      if (colon + 1 == t.size()) {
        bank = t.substr(0, colon);
        continue;
      }
      std::string value = Trim(t.substr(colon + 1));
      if (value.rfind("0x", 0) == 0) value = value.substr(2);
      out.pcrs[bank][std::stoi(t.substr(0, colon))] = value;
      continue;
    }
    if (t.rfind("- ", 0) == 0) t = t.substr(2);
    size_t colon = t.find(": ");
    std::string key = colon == std::string::npos ? t.substr(0, t.size() - 1) : t.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : Unquote(Trim(t.substr(colon + 2)));
    if (key == "EventNum") {
      out.events.emplace_back();
      out.events.back().num = std::stoi(value);
      numbered = true;
      continue;
    }
    // SHA-1 logs: no EventNum lines; each event starts at its PCRIndex.
    if (key == "PCRIndex" && !numbered && line.rfind("  PCRIndex", 0) == 0) {
      out.events.emplace_back();
      out.events.back().num = static_cast<int>(out.events.size()) - 1;
    }
    numbered = false;
    if (!out.events.empty() && !key.empty()) out.events.back().fields.emplace_back(key, value);
  }
  return out;
}

std::optional<std::string> RunTpm2Eventlog(const std::string& path) {
  std::string cmd = "tpm2_eventlog '" + path + "' 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  if (!p) return std::nullopt;
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p.get())) > 0) out.append(buf, n);
  int rc = pclose(p.release());
  if (rc != 0 || out.empty()) return std::nullopt;
  return out;
}

}  // namespace attestd::testing
