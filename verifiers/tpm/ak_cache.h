// A bounded LRU cache of parsed AKs, keyed by agent_id, so the hot path does
// no key decoding.
//
// Promises: thread-safe; holds at most `capacity` keys (the least recently
// used one is dropped first); an entry is used only if the AK bytes it was
// parsed from equal the AK bytes the caller has just read from the attester
// directory, so a changed AK is never served stale (the entry is replaced).
// Parse failures are not cached.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"
#include "verifiers/tpm/ak.h"

namespace attestd::tpm {

class AkCache {
 public:
  explicit AkCache(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // The key for `agent_id` parsed from exactly `ak_tpm`: from the cache, or
  // parsed now (and cached). ParseAk's error when the bytes are not an AK.
  Result<std::shared_ptr<const AkKey>> Get(std::string_view agent_id, std::string_view ak_tpm);

  size_t size() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  struct Entry {
    std::string agent_id;
    std::shared_ptr<const AkKey> key;
  };
  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;                                                    // most recent first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // views into lru_
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

// ParseAk through a process-wide AkCache (1,000 keys) keyed by the AK's own
// bytes: for AKs that arrive with each request instead of from a directory
// (Keylime's verify routes, and the validation of their fields), so a
// client that sends the same AK again costs no key decoding.
Result<std::shared_ptr<const AkKey>> ParseAkCached(std::string_view ak_tpm);

}  // namespace attestd::tpm
