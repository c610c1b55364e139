// libFuzzer target: the runtime policy and legacy allowlist compilers, and
// the stored IMA state parser. Any input must compile or be refused; a
// compiled policy must answer lookups and appraise a small list.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "verifiers/ima/ima_appraisal.h"

namespace {

constexpr char kLog[] =
    "10 0000000000000000000000000000000000000000 ima-ng sha256:"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 /tmp/x\n"
    "10 1111111111111111111111111111111111111111 ima-sig sha256:"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 /bin/ls "
    "030204aabbccdd0002abcd\n";

void Check(const attestd::Result<attestd::ima::PolicyPtr>& p) {
  using namespace attestd::ima;
  if (!p.ok()) return;
  const CompiledPolicy& policy = **p;
  if (policy.id().size() != 64 || policy.approx_bytes() == 0) __builtin_trap();
  (void)policy.Excluded("/tmp/x");
  (void)policy.table(DigestTable::kDigests).Find("/bin/ls", std::string(32, 'a'));
  AppraiseInput in;
  in.log = kLog;
  std::string zero(32, '\0');
  in.pcr10 = zero;
  if (!AppraiseImaLog(policy, nullptr, in).ok()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Check(attestd::ima::CompileRuntimePolicy(in));
  // The input as a stored IMA state: what parses must serialize back to
  // an equal state.
  attestd::Result<attestd::ima::ImaState> state = attestd::ima::ParseImaState(in);
  if (state.ok()) {
    auto again = attestd::ima::ParseImaState(attestd::ima::SerializeImaState(*state));
    if (!again.ok() || !(*again == *state)) __builtin_trap();
  }
  // Half the input as an allowlist, the rest as its exclude list.
  Check(attestd::ima::CompileAllowlist(in.substr(0, size / 2), in.substr(size / 2)));
  return 0;
}
