// Structured one-line logs: `ts=… level=info msg="…" key=value …` on stderr.
//
// One write(2) per line, so lines from different threads never interleave.
// Callers must not pass secrets (nonces, tokens, challenge keys) or evidence
// bodies as fields at info level or above.
#pragma once

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
