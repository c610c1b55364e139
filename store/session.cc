#include "store/session.h"

namespace attestd {

const char* SessionStateName(SessionState state) {
  switch (state) {
    case SessionState::kWaiting: return "waiting";
    case SessionState::kProcessing: return "processing";
    case SessionState::kComplete: return "complete";
    case SessionState::kFailed: return "failed";
  }
  return "unknown";
}

std::optional<SessionState> ParseSessionState(std::string_view name) {
  for (SessionState s : {SessionState::kWaiting, SessionState::kProcessing,
                         SessionState::kComplete, SessionState::kFailed}) {
    if (name == SessionStateName(s)) return s;
  }
  return std::nullopt;
}

}  // namespace attestd
