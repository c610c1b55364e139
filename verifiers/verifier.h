// Verifier: appraises one kind of evidence. Verifiers never see HTTP.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "verifiers/appraisal.h"

namespace attestd {

class Verifier {
 public:
  virtual ~Verifier() = default;

  // The normalized media types (lower-case, no parameters) this verifier
  // accepts, in the order discovery should list them.
  virtual std::vector<std::string> MediaTypes() const = 0;

  // True if an appraisal is cheap enough to run inside the HTTP request
  // (a few milliseconds at most); false sends it to the work queue.
  virtual bool IsCheap() const = 0;

  // Appraises `evidence` (raw bytes as posted) against the session nonce.
  // Must not throw and must accept any byte string: bad evidence yields an
  // Appraisal with is_valid = false. An error Status means the verifier could
  // not appraise at all (e.g. the attester directory is unreachable).
  // Thread-safe: called concurrently from request and worker threads.
  virtual Result<Appraisal> Appraise(std::string_view evidence, std::string_view media_type,
                                     std::string_view nonce) const = 0;
};

}  // namespace attestd
