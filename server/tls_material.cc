#include "server/tls_material.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "common/openssl_ptr.h"

namespace attestd {

namespace {

using PkeyFree = OpenSslFree<EVP_PKEY_free>;
using X509Free = OpenSslFree<X509_free>;
using BioFree = OpenSslFree<BIO_free>;
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

constexpr long kDay = 24 * 3600;
constexpr long kCaLifetime = 3650 * kDay;
constexpr long kLeafLifetime = 730 * kDay;

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return Status::Ok();
  return InvalidArgument("cannot create directory '" + path + "': " + std::strerror(errno));
}

std::string OpenSslError(const char* what) {
  char buf[256] = {0};
  unsigned long e = ERR_get_error();
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return std::string(what) + (e ? std::string(": ") + buf : "");
}

// Writes with mode 0600 (created so, never readable by others meanwhile).
Status WriteSecretFile(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return InvalidArgument("cannot write '" + path + "': " + std::strerror(errno));
  fchmod(fd, 0600);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n <= 0) {
      close(fd);
      return InvalidArgument("cannot write '" + path + "'");
    }
    off += static_cast<size_t>(n);
  }
  close(fd);
  return Status::Ok();
}

template <typename F>
Result<std::string> ToPem(F write) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return Internal(OpenSslError("PEM encoding failed"));
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<Cert> ReadCert(const std::string& path) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
  X509* x = bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!x) return InvalidArgument(OpenSslError(("cannot read certificate '" + path + "'").c_str()));
  return Cert(x);
}

Result<Pkey> ReadKey(const std::string& path) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
  EVP_PKEY* k = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!k) return InvalidArgument(OpenSslError(("cannot read private key '" + path + "'").c_str()));
  return Pkey(k);
}

Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return Internal(OpenSslError("X509V3_EXT_conf_nid failed"));
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? Status::Ok() : Internal(OpenSslError("X509_add_ext failed"));
}

bool IsIpAddress(const std::string& host) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
  ERR_clear_error();
  if (!ip) return false;
  ASN1_OCTET_STRING_free(ip);
  return true;
}

enum class Kind { kCa, kServer, kClient };

// A new certificate for `key`, signed by (issuer, issuer_key) or self-signed.
Result<Cert> Issue(Kind kind, const std::string& common_name, EVP_PKEY* key, X509* issuer,
                   EVP_PKEY* issuer_key, const std::vector<std::string>& hosts) {
  Cert cert(X509_new());
  if (!cert) return Internal("X509_new failed");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return Internal("RAND_bytes failed");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  ASN1_INTEGER* sn = bn ? BN_to_ASN1_INTEGER(bn, nullptr) : nullptr;
  BN_free(bn);
  if (!sn) return Internal("serial number");
  X509_set_serialNumber(cert.get(), sn);
  ASN1_INTEGER_free(sn);
  X509_set_version(cert.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // tolerate small clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), kind == Kind::kCa ? kCaLifetime : kLeafLifetime);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("attestd"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* signer = issuer ? issuer : cert.get();
  EVP_PKEY* signer_key = issuer ? issuer_key : key;
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (X509_set_pubkey(cert.get(), key) != 1) return Internal(OpenSslError("X509_set_pubkey"));

  Status st;
  auto add = [&](int nid, const std::string& v) {
    if (st.ok()) st = AddExtension(cert.get(), signer, nid, v);
  };
  add(NID_subject_key_identifier, "hash");
  if (kind == Kind::kCa) {
    add(NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add(NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add(NID_authority_key_identifier, "keyid:always");
    add(NID_basic_constraints, "critical,CA:FALSE");
    add(NID_key_usage, "critical,digitalSignature");
    add(NID_ext_key_usage, kind == Kind::kServer ? "serverAuth" : "clientAuth");
  }
  if (kind == Kind::kServer) {
    std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
    for (const std::string& h : hosts) {
      if (!h.empty() && h != "0.0.0.0" && h != "::" &&
          std::find(names.begin(), names.end(), h) == names.end()) {
        names.push_back(h);
      }
    }
    std::string san;
    for (const std::string& h : names)
      san += (san.empty() ? "" : ",") + std::string(IsIpAddress(h) ? "IP:" : "DNS:") + h;
    add(NID_subject_alt_name, san);
  }
  if (!st.ok()) return st;
  if (X509_sign(cert.get(), signer_key, EVP_sha256()) <= 0)
    return Internal(OpenSslError("X509_sign"));
  return cert;
}

Result<Pkey> NewKey() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!k) return Internal(OpenSslError("EC P-256 key generation failed"));
  return Pkey(k);
}

Status WritePair(const std::string& base, X509* cert, EVP_PKEY* key) {
  auto cert_pem = ToPem([&](BIO* b) { return PEM_write_bio_X509(b, cert); });
  auto key_pem = ToPem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (!cert_pem.ok()) return cert_pem.status();
  if (!key_pem.ok()) return key_pem.status();
  if (Status st = WriteSecretFile(base + ".key", *key_pem); !st.ok()) return st;
  return WriteSecretFile(base + ".crt", *cert_pem);
}

// True if `cert` was issued by `ca` (signature checks) and has not expired.
bool StillGood(X509* cert, X509* ca, EVP_PKEY* ca_key) {
  bool signed_by_ca = X509_verify(cert, ca_key) == 1 &&
                      X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca)) == 0;
  bool unexpired = X509_cmp_current_time(X509_get0_notAfter(cert)) > 0;
  ERR_clear_error();
  return signed_by_ca && unexpired;
}

// Reuses base.{crt,key} if good, else issues a new pair.
Status EnsureLeaf(Kind kind, const std::string& base, const std::string& cn, X509* ca,
                  EVP_PKEY* ca_key, const std::vector<std::string>& hosts, bool* generated) {
  if (Exists(base + ".crt") && Exists(base + ".key")) {
    auto cert = ReadCert(base + ".crt");
    auto key = ReadKey(base + ".key");
    if (cert.ok() && key.ok() && StillGood(cert->get(), ca, ca_key) &&
        X509_check_private_key(cert->get(), key->get()) == 1) {
      return Status::Ok();
    }
    ERR_clear_error();
  }
  auto key = NewKey();
  if (!key.ok()) return key.status();
  auto cert = Issue(kind, cn, key->get(), ca, ca_key, hosts);
  if (!cert.ok()) return cert.status();
  *generated = true;
  return WritePair(base, cert->get(), key->get());
}

}  // namespace

Result<TlsMaterial> EnsureTlsMaterial(const std::string& data_dir, const std::string& listener,
                                      const std::vector<std::string>& hosts) {
  if (data_dir.empty()) return InvalidArgument("no data directory for generated TLS material");
  if (Status st = MakeDir(data_dir); !st.ok()) return st;
  std::string dir = data_dir + "/tls";
  if (Status st = MakeDir(dir); !st.ok()) return st;
  chmod(dir.c_str(), 0700);

  TlsMaterial out;
  const std::string ca_base = dir + "/ca";
  Pkey ca_key;
  Cert ca;
  if (Exists(ca_base + ".crt") || Exists(ca_base + ".key")) {
    auto c = ReadCert(ca_base + ".crt");
    if (!c.ok()) return c.status();
    auto k = ReadKey(ca_base + ".key");
    if (!k.ok()) return k.status();
    if (X509_check_private_key(c->get(), k->get()) != 1) {
      ERR_clear_error();
      return InvalidArgument("'" + ca_base + ".key' is not the key of '" + ca_base + ".crt'");
    }
    ca = std::move(*c);
    ca_key = std::move(*k);
  } else {
    auto k = NewKey();
    if (!k.ok()) return k.status();
    auto c = Issue(Kind::kCa, "attestd CA", k->get(), nullptr, nullptr, {});
    if (!c.ok()) return c.status();
    if (Status st = WritePair(ca_base, c->get(), k->get()); !st.ok()) return st;
    ca = std::move(*c);
    ca_key = std::move(*k);
    out.generated = true;
  }

  const std::string server_base = dir + "/" + listener + "-server";
  if (Status st = EnsureLeaf(Kind::kServer, server_base, "attestd " + listener, ca.get(),
                             ca_key.get(), hosts, &out.generated);
      !st.ok()) {
    return st;
  }
  const std::string client_base = dir + "/client";
  if (Status st = EnsureLeaf(Kind::kClient, client_base, "attestd client", ca.get(), ca_key.get(),
                             {}, &out.generated);
      !st.ok()) {
    return st;
  }
  out.ca_cert = ca_base + ".crt";
  out.server_cert = server_base + ".crt";
  out.server_key = server_base + ".key";
  out.client_cert = client_base + ".crt";
  out.client_key = client_base + ".key";
  return out;
}

}  // namespace attestd
