// Shared by the libFuzzer targets: a TPM verifier whose directory knows one
// attester (Keylime vector B's AK under a fixed agent id and UUID), reset
// before every input so runs are deterministic.
#pragma once

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "store/memory/memory_attester_directory.h"
#include "verifiers/tpm/quote_verifier.h"

namespace attestd::fuzz {

inline constexpr char kAgent[] = "00112233-4455-6677-8899-aabbccddeeff";

inline std::string ReadVector(const std::string& file) {
  std::ifstream in(
      std::string(ATTESTD_TEST_DATA_DIR) + "/keylime/B_test-data_files_emulator/" + file,
      std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Harness {
  std::shared_ptr<MemoryAttesterDirectory> dir = std::make_shared<MemoryAttesterDirectory>();
  tpm::TpmQuoteVerifier verifier{dir};
  std::string ak = ReadVector("ak.pub");
  std::string nonce = ReadVector("rand.out");

  void Reset() {
    (void)dir->Remove(kAgent);
    Attester a;
    a.ak_tpm = ak;
    a.tpm_policy = R"({"15":["0000000000000000000000000000000000000000000000000000000000000000"]})";
    a.trusted = true;
    (void)dir->Put(kAgent, a);
  }

  static Harness& Get() {
    static Harness* h = new Harness();
    return *h;
  }
};

// Appraises and checks the invariants every appraisal must keep.
inline void AppraiseAndCheck(const std::string& evidence, const char* type) {
  Harness& h = Harness::Get();
  h.Reset();
  auto r = h.verifier.Appraise(evidence, type, h.nonce);
  if (!r.ok()) __builtin_trap();  // the memory directory never fails
  if (r->is_valid != r->failures.empty()) __builtin_trap();
  (void)SerializeAppraisal(*r);
}

}  // namespace attestd::fuzz
