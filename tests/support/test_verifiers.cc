#include "tests/support/test_verifiers.h"
#include "common/value_json.h"

#include <thread>

#include "common/random.h"

namespace attestd::testing {

namespace {

class EchoVerifier : public Verifier {
 public:
  EchoVerifier(std::string type, bool cheap) : type_(std::move(type)), cheap_(cheap) {}
  std::vector<std::string> MediaTypes() const override { return {type_}; }
  bool IsCheap() const override { return cheap_; }
  Result<Appraisal> Appraise(const AppraisalRequest& request) const override {
    std::string_view evidence = request.evidence;
    std::string_view nonce = request.nonce;
    if (!cheap_) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    if (evidence == "unavailable") return Unavailable("test dependency down");
    Appraisal a;
    a.is_valid = ConstantTimeEquals(evidence, nonce);
    a.claims = ParseValueJson(R"({"echo":true})").value();
    if (!a.is_valid) a.failures.push_back({"quote_validation.nonce", Value::MakeMap()});
    a.trust.hardware = a.is_valid ? 2 : 99;
    return a;
  }

 private:
  std::string type_;
  bool cheap_;
};

}  // namespace

std::shared_ptr<Registry> MakeTestRegistry() {
  auto r = std::make_shared<Registry>();
  (void)r->Register(std::make_shared<EchoVerifier>(kEchoType, true));
  (void)r->Register(std::make_shared<EchoVerifier>(kSlowType, false));
  return r;
}

}  // namespace attestd::testing
