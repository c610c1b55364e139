// Verifier: appraises one kind of evidence. Verifiers never see HTTP and
// never write JSON of the API: they return a typed Appraisal.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/appraisal.h"
#include "common/status.h"
#include "store/attester_directory.h"

namespace attestd {

struct AppraisalRequest {
  std::string_view media_type;  // normalized
  std::string_view evidence;    // raw bytes as received
  std::string_view nonce;       // the session nonce (raw bytes)
  // Trust the caller gives instead of what the verifier's own store holds
  // (Keylime's stateless verify routes): appraise against this attester,
  // read no directory and keep no history. Null: the verifier's own store.
  const Attester* given = nullptr;
  // A second nonce the evidence may be fresh for instead of `nonce` (Keylime's
  // verify routes take the nonce as text or base64-decoded): one appraisal
  // instead of two. A failure still names `nonce`. Empty: none.
  std::string_view alternate_nonce = {};
  // The caller read the verifier's own directory record of AttesterId()
  // itself, in the store step that began the appraisal (so it costs no round
  // trip of its own): use it instead of reading the directory. Points to
  // nullopt when the directory has no such attester. Null: read it.
  const std::optional<Attester>* prefetched = nullptr;
  // Non-null: move no clock baseline; for evidence that passed every check,
  // put here the baseline to move instead, and the caller moves it in the
  // step that records the result (re-appraising without this field when the
  // store refuses the move). Null: the verifier moves it itself.
  std::optional<ClockCommit>* deferred_clock = nullptr;
};

class Verifier {
 public:
  virtual ~Verifier() = default;

  // The normalized media types (lower-case, no parameters) this verifier
  // accepts from relying parties, in the order discovery should list them.
  virtual std::vector<std::string> MediaTypes() const = 0;
  // Media types only attestd's own services submit (never accepted from the
  // network, never listed).
  virtual std::vector<std::string> InternalMediaTypes() const { return {}; }

  // True if an appraisal is cheap enough to run inside the HTTP request
  // (a few milliseconds at most); false sends it to the work queue.
  virtual bool IsCheap() const = 0;

  // The attester whose directory record an appraisal of this evidence reads
  // (what `prefetched` should hold); empty when none or unparsable. Cheap:
  // framing only, no cryptography.
  virtual std::string AttesterId(const AppraisalRequest&) const { return ""; }

  // Appraises the evidence against the nonce. Must not throw and must
  // accept any byte string: bad evidence yields an Appraisal with is_valid
  // = false. An error Status means the verifier could not appraise at all
  // (e.g. its store is unreachable). Thread-safe: called concurrently from
  // request and worker threads.
  virtual Result<Appraisal> Appraise(const AppraisalRequest& request) const = 0;

  // Appraise({media_type, evidence, nonce}).
  Result<Appraisal> Appraise(std::string_view evidence, std::string_view media_type,
                             std::string_view nonce) const {
    return Appraise(AppraisalRequest{media_type, evidence, nonce});
  }
};

}  // namespace attestd
