// The stored form of a challenge-response session.
//
// This is the store's view: plain fields, no API JSON. The result is kept as
// the opaque text the service hands over (the store never parses it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace attestd {

enum class SessionState { kWaiting, kProcessing, kComplete, kFailed };

// "waiting", "processing", "complete", "failed".
const char* SessionStateName(SessionState state);
std::optional<SessionState> ParseSessionState(std::string_view name);

struct Session {
  std::string id;                // lower-case UUID v4
  std::string nonce;             // raw bytes, 8..64
  int64_t expiry_ms = 0;         // when the store forgets the session (epoch ms)
  SessionState state = SessionState::kWaiting;
  std::string evidence_type;     // normalized media type, once submitted
  std::string evidence;          // raw evidence bytes, once submitted
  std::string result;            // serialized appraisal, when complete
  std::string error;             // why the server could not appraise, when failed
};

}  // namespace attestd
