// The stored form of a challenge-response session.
//
// This is the store's view: typed fields, no API JSON. How a store keeps
// the result is its own business (EncodeSessionResult is the encoding the
// Redis store uses).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/appraisal.h"
#include "common/status.h"

namespace attestd {

enum class SessionState { kWaiting, kProcessing, kComplete, kFailed };

// "waiting", "processing", "complete", "failed".
const char* SessionStateName(SessionState state);
std::optional<SessionState> ParseSessionState(std::string_view name);

// What a complete session concluded: the appraisal and its signed EAR.
struct SessionResult {
  Appraisal appraisal;
  std::string ear;  // compact JWS; empty when results are not signed
  bool operator==(const SessionResult&) const = default;
};

// A store's text form of a result, and back (kInternal when the text is
// not one EncodeSessionResult wrote).
std::string EncodeSessionResult(const SessionResult& r);
Result<SessionResult> DecodeSessionResult(std::string_view text);

struct Session {
  std::string id;         // lower-case UUID v4
  std::string nonce;      // raw bytes, 8..64
  int64_t expiry_ms = 0;  // when the store forgets the session (epoch ms)
  SessionState state = SessionState::kWaiting;
  std::string evidence_type;            // normalized media type, once submitted
  std::string evidence;                 // raw evidence bytes, once submitted
  std::optional<SessionResult> result;  // when complete
  // The Keylime agent a push attestation belongs to; empty for a relying
  // party's session.
  std::string agent_id;
  std::string error;  // why the server could not appraise, when failed
};

}  // namespace attestd
