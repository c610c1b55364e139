#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/time_util.h"

namespace attestd {

namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "off";
  }
  return "?";
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x21) return true;
  }
  return false;
}

void AppendValue(std::string& line, std::string_view v) {
  if (!NeedsQuotes(v)) {
    line.append(v);
    return;
  }
  line.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') line.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';  // keep one line per record
    line.push_back(c);
  }
  line.push_back('"');
}

// Fields that differ between lines reporting the same trouble: they are left
// out of the key that decides whether two lines repeat each other.
bool Volatile(std::string_view field) {
  return field == "duration_ms" || field == "session" || field == "agent_id" || field == "peer";
}

// Summarises repeated warnings and errors (see log.h).
class RepeatFilter {
 public:
  static constexpr size_t kMaxKeys = 256;

  void set_interval(std::chrono::milliseconds i) {
    std::lock_guard<std::mutex> lock(mu_);
    interval_ = i;
    seen_.clear();
  }

  // True if the line should be written; `held_back` then says how many
  // repeats were held back since the key's window opened (0: none).
  bool Admit(const std::string& key, uint64_t* held_back, double* window_s) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    *held_back = 0;
    if (interval_.count() == 0) return true;
    auto it = seen_.find(key);
    if (it == seen_.end()) {
      if (seen_.size() >= kMaxKeys) seen_.clear();  // bounded: forget, never grow
      seen_.emplace(key, Window{now, 0});
      return true;
    }
    Window& w = it->second;
    if (now - w.opened < interval_) {
      ++w.held_back;
      return false;
    }
    *held_back = w.held_back;
    *window_s = std::chrono::duration<double>(now - w.opened).count();
    w = Window{now, 0};
    return true;
  }

 private:
  struct Window {
    std::chrono::steady_clock::time_point opened;
    uint64_t held_back = 0;
  };
  std::mutex mu_;
  std::chrono::milliseconds interval_{10000};
  std::unordered_map<std::string, Window> seen_;
};

RepeatFilter& Repeats() {
  static RepeatFilter* filter = new RepeatFilter();  // never destroyed: logs run until exit
  return *filter;
}

std::string RepeatKey(LogLevel level, std::string_view msg,
                      std::initializer_list<LogField> fields) {
  std::string key(1, static_cast<char>('0' + static_cast<int>(level)));
  key.append(msg);
  for (const auto& [k, v] : fields) {
    if (Volatile(k)) continue;
    key.push_back('\x1f');
    key.append(k);
    key.push_back('=');
    key.append(v);
  }
  return key;
}

}  // namespace

void SetLogRepeatInterval(std::chrono::milliseconds interval) { Repeats().set_interval(interval); }

bool ParseLogLevel(std::string_view name, LogLevel* out) {
  for (LogLevel l :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError, LogLevel::kOff}) {
    if (name == LevelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed) &&
         level != LogLevel::kOff;
}

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  uint64_t held_back = 0;
  double window_s = 0;
  if (level >= LogLevel::kWarn &&
      !Repeats().Admit(RepeatKey(level, msg, fields), &held_back, &window_s)) {
    return;
  }
  std::string line;
  line.reserve(128);
  line += "ts=";
  line += FormatRfc3339Millis(NowMillis());
  line += " level=";
  line += LevelName(level);
  line += " msg=";
  AppendValue(line, msg);
  for (const auto& [k, v] : fields) {
    line.push_back(' ');
    line.append(k);
    line.push_back('=');
    AppendValue(line, v);
  }
  if (held_back > 0) {
    line += " repeated=" + std::to_string(held_back);
    line += " repeated_over_s=" + std::to_string(static_cast<int64_t>(window_s + 0.5));
  }
  line.push_back('\n');
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace attestd
