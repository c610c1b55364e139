#include "verifiers/tpm/ak_cache.h"

namespace attestd::tpm {

Result<std::shared_ptr<const AkKey>> AkCache::Get(std::string_view agent_id,
                                                  std::string_view ak_tpm) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(agent_id);
    if (it != index_.end() && it->second->key->tpm2b_public == ak_tpm) {
      lru_.splice(lru_.begin(), lru_, it->second);
      ++hits_;
      return it->second->key;
    }
    ++misses_;
  }
  // Parse outside the lock: it is the slow part.
  auto parsed = ParseAk(ak_tpm);
  if (!parsed.ok()) return parsed.status();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(agent_id);
  if (it != index_.end()) {
    it->second->key = *parsed;
    lru_.splice(lru_.begin(), lru_, it->second);
    return *parsed;
  }
  lru_.push_front(Entry{std::string(agent_id), *parsed});
  index_.emplace(lru_.front().agent_id, lru_.begin());
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().agent_id);
    lru_.pop_back();
  }
  return *parsed;
}

Result<std::shared_ptr<const AkKey>> ParseAkCached(std::string_view ak_tpm) {
  static AkCache* cache = new AkCache(1000);  // never destroyed: used until exit
  return cache->Get(ak_tpm, ak_tpm);
}

size_t AkCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

uint64_t AkCache::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}

uint64_t AkCache::misses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return misses_;
}

}  // namespace attestd::tpm
