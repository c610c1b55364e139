// Reading what tpm2-tools' tpm2_eventlog prints, as an independent oracle
// for the UEFI event log parser: the events (flattened key/value pairs) and
// the replayed PCRs under `pcrs:`. Only the subset of YAML tpm2_eventlog
// writes (block style, one key per line) is understood.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace attestd::testing {

struct YamlEvent {
  int num = -1;
  // Every "key: value" line of the event in order, keys without leading
  // "- ", values without quotes ("Digest" appears once per bank).
  std::vector<std::pair<std::string, std::string>> fields;
  // All values of `key`, in order.
  std::vector<std::string> All(const std::string& key) const;
  // The first value of `key`, if any.
  std::optional<std::string> First(const std::string& key) const;
};

struct EventlogYaml {
  std::vector<YamlEvent> events;
  // bank ("sha256") → PCR → lower-case hex without "0x".
  std::map<std::string, std::map<int, std::string>> pcrs;
};

EventlogYaml ParseEventlogYaml(const std::string& text);

// Runs Debian's tpm2_eventlog on `path`; nullopt when it fails or is absent.
std::optional<std::string> RunTpm2Eventlog(const std::string& path);

}  // namespace attestd::testing
