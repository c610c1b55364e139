#include "tests/support/ima_log.h"

#include <openssl/evp.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "common/base64.h"
#include "tests/support/processes.h"

namespace attestd::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Hash(const std::string& alg, const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_get_digestbyname(alg.c_str()), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string U32(size_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

std::string DigestNg(const std::string& alg, const std::string& d) {
  return U32(alg.size() + 2 + d.size()) + alg + ":" + std::string(1, '\0') + d;
}

std::string NameNg(const std::string& n) { return U32(n.size() + 1) + n + std::string(1, '\0'); }

}  // namespace

int RunTool(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = Spawn(argv, log);
  if (pid <= 0) return -1;
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string FileDigest(const std::string& path, const std::string& alg) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  return Hash(alg, Slurp(path));
}

ImaLogBuilder::ImaLogBuilder(std::vector<std::string> banks, std::string log_hash_alg)
    : banks_(std::move(banks)), log_hash_alg_(std::move(log_hash_alg)) {
  for (const std::string& b : banks_)
    pcr_[b] = std::string(EVP_MD_get_size(EVP_get_digestbyname(b.c_str())), '\0');
}

void ImaLogBuilder::Append(const std::string& tmpl, const std::string& data,
                           const std::string& fields, bool violation) {
  std::string th =
      violation ? std::string(Hash(log_hash_alg_, "").size(), '\0') : Hash(log_hash_alg_, data);
  offsets_.push_back(text_.size());
  text_ += "10 " + HexEncode(th) + " " + tmpl + " " + fields + "\n";
  ++entries_;
  for (const std::string& b : banks_) {
    std::string v = violation ? std::string(pcr_[b].size(), '\xff') : Hash(b, data);
    pcr_[b] = Hash(b, pcr_[b] + v);
    if (hook_) hook_(b, v);
  }
}

void ImaLogBuilder::BootAggregate(const std::string& digest) {
  AddDigest("boot_aggregate", digest.empty() ? Hash("sha256", "boot") : digest, "sha256");
}

void ImaLogBuilder::AddDigest(const std::string& logged_path, const std::string& d,
                              const std::string& alg) {
  Append("ima-ng", DigestNg(alg, d) + NameNg(logged_path),
         alg + ":" + HexEncode(d) + " " + logged_path, false);
}

std::string ImaLogBuilder::AddFile(const std::string& path, const std::string& alg,
                                   const std::string& logged_path) {
  std::string d = FileDigest(path, alg);
  AddDigest(logged_path.empty() ? path : logged_path, d, alg);
  return d;
}

std::string ImaLogBuilder::AddSignedFile(const std::string& path, const std::string& sig,
                                         const std::string& alg, const std::string& logged_path) {
  std::string d = FileDigest(path, alg);
  std::string name = logged_path.empty() ? path : logged_path;
  Append("ima-sig", DigestNg(alg, d) + NameNg(name) + U32(sig.size()) + sig,
         alg + ":" + HexEncode(d) + " " + name + " " + HexEncode(sig), false);
  return d;
}

void ImaLogBuilder::AddBuffer(const std::string& name, const std::string& data,
                              const std::string& alg) {
  std::string d = Hash(alg, data);
  Append("ima-buf", DigestNg(alg, d) + NameNg(name) + U32(data.size()) + data,
         alg + ":" + HexEncode(d) + " " + name + " " + HexEncode(data), false);
}

void ImaLogBuilder::AddViolation(const std::string& path) {
  std::string d(32, '\0');
  Append("ima-ng", DigestNg("sha256", d) + NameNg(path), "sha256:" + HexEncode(d) + " " + path,
         true);
}

ImaSigner::ImaSigner(const std::string& dir, const std::string& type) : dir_(dir) {
  key_ = dir_ + "/" + type + "-key.pem";
  std::string log = dir_ + "/tools.log";
  if (type == "rsa") {
    ok_ = RunTool({"openssl", "genrsa", "-out", key_, "2048"}, log) == 0;
  } else {
    ok_ = RunTool({"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key_},
                  log) == 0;
  }
  ok_ = ok_ && RunTool({"openssl", "pkey", "-in", key_, "-pubout", "-outform", "DER", "-out",
                        key_ + ".pub.der"},
                       log) == 0;
  ok_ = ok_ &&
        RunTool({"openssl", "pkey", "-in", key_, "-pubout", "-out", key_ + ".pub.pem"}, log) == 0;
  ok_ = ok_ && RunTool({"openssl", "req", "-new", "-x509", "-key", key_, "-subj", "/CN=ima-test",
                        "-days", "30", "-outform", "DER", "-out", key_ + ".crt.der", "-addext",
                        "subjectKeyIdentifier=hash"},
                       log) == 0;
}

std::string ImaSigner::Sign(const std::string& path, const std::string& alg) {
  // evmctl writes <file>.sig next to the file: sign a copy in our directory.
  std::string copy = dir_ + "/signed-" + std::to_string(++counter_);
  std::ofstream(copy, std::ios::binary) << Slurp(path);
  if (RunTool({"evmctl", "ima_sign", "--sigfile", "--key", key_, "-a", alg, copy},
              dir_ + "/evmctl.log") != 0) {
    return "";
  }
  return Slurp(copy + ".sig");
}

namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string DigestObject(const std::map<std::string, std::vector<std::string>>& m) {
  std::string out = "{";
  for (const auto& [name, list] : m) {
    if (out.size() > 1) out += ",";
    out += Quote(name) + ":[";
    for (size_t i = 0; i < list.size(); ++i) out += (i ? "," : "") + Quote(list[i]);
    out += "]";
  }
  return out + "}";
}

std::string StringList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + Quote(v[i]);
  return out + "]";
}

}  // namespace

ImaPolicyBuilder& ImaPolicyBuilder::Digest(const std::string& path, const std::string& d) {
  digests_[path].push_back(HexEncode(d));
  return *this;
}
ImaPolicyBuilder& ImaPolicyBuilder::Exclude(const std::string& regex) {
  excludes_.push_back(regex);
  return *this;
}
ImaPolicyBuilder& ImaPolicyBuilder::Keyring(const std::string& name, const std::string& d) {
  keyrings_[name].push_back(HexEncode(d));
  return *this;
}
ImaPolicyBuilder& ImaPolicyBuilder::ImaBuf(const std::string& name, const std::string& d) {
  imabuf_[name].push_back(HexEncode(d));
  return *this;
}
ImaPolicyBuilder& ImaPolicyBuilder::IgnoreKeyring(const std::string& name) {
  ignored_.push_back(name);
  return *this;
}
ImaPolicyBuilder& ImaPolicyBuilder::VerificationKey(const std::string& der) {
  keys_.push_back(Base64Encode(der));
  return *this;
}
ImaPolicyBuilder& ImaPolicyBuilder::LogHashAlg(const std::string& alg) {
  log_hash_alg_ = alg;
  return *this;
}
ImaPolicyBuilder& ImaPolicyBuilder::DmPolicy(const std::string& json) {
  dm_policy_ = json;
  return *this;
}

std::string ImaPolicyBuilder::Json() const {
  std::string keys;
  if (!keys_.empty()) keys = "{\"keyids\": [], \"pubkeys\": " + StringList(keys_) + "}";
  return "{\"meta\": {\"version\": 1, \"generator\": 0}, \"release\": 0, \"digests\": " +
         DigestObject(digests_) + ", \"excludes\": " + StringList(excludes_) +
         ", \"keyrings\": " + DigestObject(keyrings_) +
         ", \"ima\": {\"ignored_keyrings\": " + StringList(ignored_) +
         ", \"log_hash_alg\": " + Quote(log_hash_alg_) + ", \"dm_policy\": " + dm_policy_ +
         "}, \"ima-buf\": " + DigestObject(imabuf_) + ", \"verification-keys\": " + Quote(keys) +
         "}";
}

std::string ImaSigner::PublicDer() const { return Slurp(key_ + ".pub.der"); }
std::string ImaSigner::PublicPem() const { return Slurp(key_ + ".pub.pem"); }
std::string ImaSigner::CertificateDer() const { return Slurp(key_ + ".crt.der"); }

}  // namespace attestd::testing
