#include "tests/support/swtpm.h"

#include <cstring>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "common/base64.h"

namespace attestd::testing {

namespace fs = std::filesystem;

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

int RunWithEnv(const std::vector<std::string>& argv, const std::string& tcti,
               const std::string& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    if (!tcti.empty()) ::setenv("TPM2TOOLS_TCTI", tcti.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::_Exit(127);
  }
  if (pid < 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A free port whose successor is free too: the swtpm TCTI finds the control
// channel at port + 1.
int FreePortPair() {
  for (int i = 0; i < 100; ++i) {
    int p = FreePort();
    if (p <= 0 || p >= 65535) continue;
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(p + 1));
    bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free) return p;
  }
  return -1;
}

pid_t StartSwtpm(const std::string& state, int port, int ctrl, const std::string& log) {
  return Spawn({"swtpm", "socket", "--tpm2", "--server",
                "type=tcp,port=" + std::to_string(port) + ",bindaddr=127.0.0.1", "--ctrl",
                "type=tcp,port=" + std::to_string(ctrl) + ",bindaddr=127.0.0.1", "--tpmstate",
                "dir=" + state, "--flags", "not-need-init,startup-clear"},
               log);
}

// The provisioned state, built once per fixture-script version.
std::string TemplateState() {
  std::string script = Slurp(TpmFixturesScript());
  size_t h = std::hash<std::string>{}(script);
  fs::path base =
      fs::temp_directory_path() /
      ("attestd-swtpm-template-" + std::to_string(::getuid()) + "-" + std::to_string(h));
  fs::path done = base / "ready";
  if (fs::exists(done)) return base.string();

  fs::create_directories(base.parent_path());
  std::string lock_path = base.string() + ".lock";
  int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT, 0600);
  if (lock < 0) return "";
  ::flock(lock, LOCK_EX);
  if (!fs::exists(done)) {
    std::error_code ec;
    fs::remove_all(base, ec);
    fs::create_directories(base / "state");
    int port = FreePortPair(), ctrl = port + 1;
    std::string log = (base / "provision.log").string();
    pid_t pid = StartSwtpm((base / "state").string(), port, ctrl, log);
    bool ok =
        pid > 0 && WaitForPort(port, 5000) &&
        RunWithEnv({"bash", TpmFixturesScript(), "attach", base.string(), std::to_string(port)}, "",
                   log) == 0;
    // Orderly shutdown, or the copies would start with clockInfo.safe = 0.
    ok = ok && RunWithEnv({"tpm2_shutdown", "-c"},
                          "swtpm:host=127.0.0.1,port=" + std::to_string(port), log) == 0;
    StopProcess(pid);
    if (ok) Write(done.string(), "ok\n");
  }
  ::flock(lock, LOCK_UN);
  ::close(lock);
  return fs::exists(done) ? base.string() : "";
}

}  // namespace

std::string TpmFixturesScript() {
  return std::string(ATTESTD_SOURCE_DIR) + "/scripts/tpm-fixtures.sh";
}

Swtpm::Swtpm() {
  std::string tmpl = TemplateState();
  if (tmpl.empty() || dir().empty()) return;
  fs::copy(tmpl, dir(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  Start();
}

Swtpm::~Swtpm() { StopProcess(pid_); }

void Swtpm::Stop(bool orderly) {
  if (pid_ <= 0) return;
  if (orderly) Run({"tpm2_shutdown", "-c"});
  StopProcess(pid_);
  pid_ = -1;
}

bool Swtpm::Start() {
  port_ = FreePortPair();
  int ctrl = port_ + 1;
  Write(dir() + "/port", std::to_string(port_) + "\n");
  pid_ = StartSwtpm(dir() + "/state", port_, ctrl, dir() + "/swtpm.log");
  if (pid_ > 0 && !WaitForPort(port_, 5000)) {
    StopProcess(pid_);
    pid_ = -1;
  }
  return pid_ > 0;
}

bool Swtpm::Restart(bool orderly) {
  Stop(orderly);
  return Start();
}

int Swtpm::Run(const std::vector<std::string>& argv) const {
  return RunWithEnv(argv, "swtpm:host=127.0.0.1,port=" + std::to_string(port_),
                    dir() + "/tools.log");
}

std::string Swtpm::AkPublic(const std::string& key) const {
  return Slurp(dir() + "/ak-" + key + ".pub");
}

namespace {

uint32_t KeyHandle(const std::string& key) {
  static const std::pair<const char*, uint32_t> kHandles[] = {{"rsa", 0x81010010},
                                                              {"rsapss", 0x81010011},
                                                              {"ecc", 0x81010012},
                                                              {"rsa-sha1", 0x81010013},
                                                              {"unrestricted", 0x81010020}};
  for (const auto& [k, h] : kHandles) {
    if (key == k) return h;
  }
  return 0;
}

}  // namespace

std::optional<Swtpm::Certification> Swtpm::Certify(const std::string& object,
                                                   const std::string& signer,
                                                   const std::string& qualifying) const {
  uint32_t object_handle = KeyHandle(object), sign_handle = KeyHandle(signer);
  if (!object_handle || !sign_handle || qualifying.size() > sizeof(TPM2B_DATA::buffer))
    return std::nullopt;
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  std::string conf = "swtpm:host=127.0.0.1,port=" + std::to_string(port_);
  if (Tss2_TctiLdr_Initialize(conf.c_str(), &tcti) != TSS2_RC_SUCCESS) return std::nullopt;
  ESYS_CONTEXT* ctx = nullptr;
  std::optional<Certification> out;
  if (Esys_Initialize(&ctx, tcti, nullptr) == TSS2_RC_SUCCESS) {
    ESYS_TR obj = ESYS_TR_NONE, sign = ESYS_TR_NONE;
    TPM2B_DATA q{};
    q.size = static_cast<UINT16>(qualifying.size());
    std::memcpy(q.buffer, qualifying.data(), qualifying.size());
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_NULL;  // the signing key's own scheme
    TPM2B_ATTEST* attest = nullptr;
    TPMT_SIGNATURE* sig = nullptr;
    if (Esys_TR_FromTPMPublic(ctx, object_handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &obj) ==
            0 &&
        Esys_TR_FromTPMPublic(ctx, sign_handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sign) ==
            0 &&
        Esys_Certify(ctx, obj, sign, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE, &q, &scheme,
                     &attest, &sig) == TSS2_RC_SUCCESS) {
      uint8_t buf[sizeof(TPMT_SIGNATURE)];
      size_t off = 0;
      if (Tss2_MU_TPMT_SIGNATURE_Marshal(sig, buf, sizeof buf, &off) == TSS2_RC_SUCCESS) {
        out = Certification{
            std::string(reinterpret_cast<const char*>(attest->attestationData), attest->size),
            std::string(reinterpret_cast<const char*>(buf), off)};
      }
    }
    Esys_Free(attest);
    Esys_Free(sig);
    Esys_Finalize(&ctx);
  }
  Tss2_TctiLdr_Finalize(&tcti);
  return out;
}

std::optional<TpmQuote> Swtpm::Quote(const std::string& key, const std::string& nonce,
                                     const std::string& pcrs, const std::string& hash,
                                     const std::string& scheme) {
  static const std::pair<const char*, const char*> kHandles[] = {{"rsa", "0x81010010"},
                                                                 {"rsapss", "0x81010011"},
                                                                 {"ecc", "0x81010012"},
                                                                 {"rsa-sha1", "0x81010013"},
                                                                 {"unrestricted", "0x81010020"}};
  std::string handle;
  for (const auto& [k, h] : kHandles) {
    if (key == k) handle = h;
  }
  if (handle.empty()) return std::nullopt;
  TpmQuote q;
  q.prefix = dir() + "/q" + std::to_string(++counter_);
  std::vector<std::string> argv = {"tpm2_quote",
                                   "-c",
                                   handle,
                                   "-l",
                                   pcrs,
                                   "-q",
                                   HexEncode(nonce),
                                   "-m",
                                   q.prefix + ".attest",
                                   "-s",
                                   q.prefix + ".sig",
                                   "-o",
                                   q.prefix + ".pcrs"};
  std::string s = scheme.empty() && key == "rsapss" ? "rsapss" : scheme;
  std::string g = hash.empty() && key == "rsa-sha1" ? "sha1" : hash;
  if (!g.empty()) argv.insert(argv.end(), {"-g", g});
  if (!s.empty()) argv.insert(argv.end(), {"--scheme", s});
  if (Run(argv) != 0) return std::nullopt;
  q.attest = Slurp(q.prefix + ".attest");
  q.signature = Slurp(q.prefix + ".sig");
  q.pcrblob = Slurp(q.prefix + ".pcrs");
  q.quote = "r" + Base64Encode(q.attest) + ":" + Base64Encode(q.signature) + ":" +
            Base64Encode(q.pcrblob);
  return q;
}

bool Swtpm::Extend(int pcr, const std::string& bank, const std::string& hex) {
  return Run({"tpm2_pcrextend", std::to_string(pcr) + ":" + bank + "=" + hex}) == 0;
}

int Swtpm::CheckQuote(const std::string& key, const std::string& nonce, const std::string& attest,
                      const std::string& signature, const std::string& pcrblob,
                      const std::string& hash) {
  std::string p = dir() + "/check" + std::to_string(++counter_);
  Write(p + ".attest", attest);
  Write(p + ".sig", signature);
  Write(p + ".pcrs", pcrblob);
  return RunWithEnv({"tpm2_checkquote", "-u", dir() + "/ak-" + key + ".pub", "-m", p + ".attest",
                     "-s", p + ".sig", "-f", p + ".pcrs", "-g", hash, "-q", HexEncode(nonce)},
                    "", dir() + "/tools.log");
}

}  // namespace attestd::testing
