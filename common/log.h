// Structured one-line logs: `ts=… level=info msg="…" key=value …` on stderr.
//
// One write(2) per line, so lines from different threads never interleave.
// Repeated warnings and errors are summarised, so an outage cannot flood
// the log: the first line of a kind is written; the same line (same level,
// message and fields, leaving out the per-request ones duration_ms,
// session, agent_id and peer) is then only counted until the repeat
// interval (10 s) has passed; the next one after that is written with
// `repeated=N repeated_over_s=S` (the lines held back meanwhile) and opens a
// new interval.
// Callers must not pass secrets (nonces, tokens, challenge keys) or evidence
// bodies as fields at info level or above.
#pragma once

#include <chrono>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace attestd {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

using LogField = std::pair<std::string_view, std::string_view>;

// Parses debug|info|warn|error|off; false if unknown.
bool ParseLogLevel(std::string_view name, LogLevel* out);
void SetLogLevel(LogLevel level);
// 0 turns the summarising of repeats off (every line is written).
void SetLogRepeatInterval(std::chrono::milliseconds interval);
bool LogEnabled(LogLevel level);

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

inline void LogDebug(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kDebug, m, f);
}
inline void LogInfo(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, m, f);
}
inline void LogWarn(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarn, m, f);
}
inline void LogError(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, m, f);
}

}  // namespace attestd
