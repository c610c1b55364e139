// attestd: the remote-attestation server.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <iostream>

#include "common/log.h"
#include "server/application.h"
#include "server/config.h"

int main(int argc, char** argv) {
  using namespace attestd;
  auto parsed = ParseConfig(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "attestd: %s\n", parsed.status().message().c_str());
    return 2;
  }
  if (parsed->action == ConfigAction::kHelp) {
    std::cout << parsed->help;
    return 0;
  }
  if (parsed->action == ConfigAction::kVersion) {
    std::cout << "attestd " << ATTESTD_VERSION << "\n";
    return 0;
  }
  const Config& config = parsed->config;
  LogLevel level;
  ParseLogLevel(config.log_level, &level);
  SetLogLevel(level);

  // A peer that vanishes mid-write must not kill the process; and every
  // thread started from here on inherits the blocked termination signals,
  // so only the sigwait below receives them.
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // Every pull agent keeps a connection open and every client holds one:
  // the default soft limit (often 1,024) would refuse them long before
  // the hard limit the administrator allowed.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &files);
  }

  auto app = Application::Create(config);
  if (!app.ok()) {
    std::fprintf(stderr, "attestd: %s\n", app.status().message().c_str());
    return 2;
  }
  if (Status st = (*app)->Start(); !st.ok()) {
    std::fprintf(stderr, "attestd: %s\n", st.message().c_str());
    return 1;
  }
  LogInfo("attestd started", {{"version", ATTESTD_VERSION}});

  int sig = 0;
  sigwait(&stop_signals, &sig);
  LogInfo("stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  (*app)->Shutdown();
  LogInfo("stopped");
  return 0;
}
