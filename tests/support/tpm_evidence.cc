#include "tests/support/tpm_evidence.h"
#include "api/appraisal_json.h"
#include "common/value_json.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include <fstream>
#include <sstream>

#include "common/base64.h"
#include "common/json_writer.h"

namespace attestd::testing {

std::string ClaimsJson(const Appraisal& a) { return ValueToJson(a.claims); }
std::string ContextJson(const Failure& f) { return ValueToJson(f.context); }
std::string AppraisalJson(const Appraisal& a) {
  JsonWriter w;
  api::WriteAppraisal(w, a);
  return w.Take();
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return "";
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string KeylimeVector(const std::string& dir, const std::string& file) {
  return ReadFileOrEmpty(std::string(ATTESTD_TEST_DATA_DIR) + "/keylime/" + dir + "/" + file);
}

std::string KeylimeQuoteString(const std::string& attest, const std::string& sig,
                               const std::string& pcrblob) {
  return "r" + Base64Encode(attest) + ":" + Base64Encode(sig) + ":" + Base64Encode(pcrblob);
}

std::string QuoteJson(const std::string& agent_id, const std::string& quote,
                      const std::optional<std::string>& hash_alg) {
  JsonWriter w;
  w.BeginObject().Key("agent_id").String(agent_id).Key("quote").String(quote);
  if (hash_alg) w.Key("hash_alg").String(*hash_alg);
  w.EndObject();
  return w.Take();
}

std::string SplitQuoteJson(const std::string& agent_id, const std::string& attest,
                           const std::string& sig, const std::string& pcrblob,
                           const std::optional<std::string>& hash_alg) {
  JsonWriter w;
  w.BeginObject().Key("agent_id").String(agent_id);
  w.Key("message").String(Base64Encode(attest));
  w.Key("signature").String(Base64Encode(sig));
  w.Key("pcrs").String(Base64Encode(pcrblob));
  if (hash_alg) w.Key("hash_alg").String(*hash_alg);
  w.EndObject();
  return w.Take();
}

std::string EnactTrustEvidence(const std::string& agent_id, const std::string& attest,
                               const std::string& sig) {
  std::string hex;
  for (char c : agent_id) {
    if (c != '-') hex.push_back(c);
  }
  std::string out = HexDecode(hex).value_or("");
  EXPECT_EQ(out.size(), 16u) << "not a UUID: " << agent_id;
  out.push_back(static_cast<char>(attest.size() >> 8));
  out.push_back(static_cast<char>(attest.size() & 0xff));
  return out + attest + sig;
}

std::vector<std::string> FailureTypes(const Appraisal& a) {
  std::vector<std::string> out;
  for (const Failure& f : a.failures) out.push_back(f.type);
  return out;
}

std::string FlipBit(std::string s, size_t at) {
  if (at < s.size()) s[at] = static_cast<char>(s[at] ^ 1);
  return s;
}

std::string EcdsaDer(std::string_view r, std::string_view s) {
  auto bn = [](std::string_view v) {
    return BN_bin2bn(reinterpret_cast<const unsigned char*>(v.data()), static_cast<int>(v.size()),
                     nullptr);
  };
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, bn(r), bn(s));
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

}  // namespace attestd::testing
