// A software TPM of the test's own: swtpm on free loopback ports, started
// and stopped by PID, with the keys of scripts/tpm-fixtures.sh, and quotes
// taken with tpm2-tools (tpm2_quote, ~35 ms each) over nonces the test picks.
//
// Provisioning (EK and five keys) takes a few seconds, so it is done once:
// the provisioned state directory is kept as a template under the system
// temp directory (keyed by the fixture script's contents) and every Swtpm
// starts from a private copy of it. Concurrent test processes build the
// template under an flock.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/processes.h"

namespace attestd::testing {

struct TpmQuote {
  std::string attest;     // TPMS_ATTEST
  std::string signature;  // TPMT_SIGNATURE
  std::string pcrblob;    // tpm2-tools serialized PCR blob
  std::string quote;      // Keylime "r<b64>:<b64>:<b64>"
  std::string prefix;     // files prefix.{attest,sig,pcrs} on disk
};

class Swtpm {
 public:
  Swtpm();
  ~Swtpm();
  Swtpm(const Swtpm&) = delete;
  Swtpm& operator=(const Swtpm&) = delete;

  bool ok() const { return pid_ > 0; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_.path(); }

  // KEY: "rsa", "rsapss", "ecc", "rsa-sha1", "unrestricted".
  // The key's TPM2B_PUBLIC bytes.
  std::string AkPublic(const std::string& key) const;

  // tpm2_quote over `nonce` (raw bytes) and `pcrs` ("sha256:0,16+sha1:3").
  // `hash` and `scheme` as tpm2_quote -g / --scheme (empty: the key's own).
  std::optional<TpmQuote> Quote(const std::string& key, const std::string& nonce,
                                const std::string& pcrs, const std::string& hash = "",
                                const std::string& scheme = "");

  // TPM2_Certify of key `object` signed by key `signer` (KEYs as above)
  // over `qualifying` (raw bytes), through libtss2-esys (tpm2-tools 5.4's
  // tpm2_certify cannot pass qualifying data). The TPMS_ATTEST and the
  // marshaled TPMT_SIGNATURE.
  struct Certification {
    std::string attest;
    std::string signature;
  };
  std::optional<Certification> Certify(const std::string& object, const std::string& signer,
                                       const std::string& qualifying) const;

  // tpm2_pcrextend PCR:BANK=HEX.
  bool Extend(int pcr, const std::string& bank, const std::string& hex);

  // tpm2_checkquote's exit code for files written by `prefix`-style names.
  int CheckQuote(const std::string& key, const std::string& nonce, const std::string& attest,
                 const std::string& signature, const std::string& pcrblob,
                 const std::string& hash = "sha256");

  // Stops swtpm and starts it again on the same state: a TPM reset
  // (resetCount goes up). Orderly: TPM2_Shutdown first; otherwise the TPM
  // sees a power loss and reports clockInfo.safe = 0 until its clock passes
  // the last value it saved.
  bool Restart(bool orderly = true);
  void Stop(bool orderly);

  // Runs argv (stdout/stderr to the dir's log) with TPM2TOOLS_TCTI set;
  // returns the exit code.
  int Run(const std::vector<std::string>& argv) const;

 private:
  bool Start();

  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::atomic<int> counter_{0};  // file names; quotes may come from several threads
};

// scripts/tpm-fixtures.sh
std::string TpmFixturesScript();

}  // namespace attestd::testing
