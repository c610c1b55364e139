#include "verifiers/tpm/ek.h"

#include <dirent.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <tss2/tss2_mu.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/base64.h"
#include "common/openssl_ptr.h"

namespace attestd::tpm {

namespace {

using X509Free = OpenSslFree<X509_free>;
using StoreCtxFree = OpenSslFree<X509_STORE_CTX_free>;

// The key material of an EK of a size or curve the TCG EK profiles define.
Result<Pkey> EkPublicKey(const TPMT_PUBLIC& pub, const char** description) {
  if (pub.type == TPM2_ALG_RSA) {
    uint16_t bits = pub.parameters.rsaDetail.keyBits;
    if (bits != 2048 && bits != 3072) return InvalidArgument("EK RSA keyBits is not 2048 or 3072");
    *description = bits == 2048 ? "rsa2048" : "rsa3072";
    return RsaKeyFromTpm(pub);
  }
  TPM2_ECC_CURVE curve = pub.parameters.eccDetail.curveID;
  if (curve != TPM2_ECC_NIST_P256 && curve != TPM2_ECC_NIST_P384) {
    return InvalidArgument("EK ECC curve is not P-256 or P-384");
  }
  *description = TpmCurveById(curve)->description;
  return EccKeyFromTpm(pub);
}

// The symmetric definition shared by RSA and ECC parameters.
const TPMT_SYM_DEF_OBJECT& SymmetricOf(const TPMT_PUBLIC& pub) {
  return pub.type == TPM2_ALG_RSA ? pub.parameters.rsaDetail.symmetric
                                  : pub.parameters.eccDetail.symmetric;
}

std::string Marshal2b(const TPMT_PUBLIC& area) {
  TPM2B_PUBLIC pub{};
  pub.publicArea = area;
  uint8_t buf[sizeof(TPM2B_PUBLIC) + 2];
  size_t offset = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, buf, sizeof buf, &offset) != TSS2_RC_SUCCESS) return "";
  return std::string(reinterpret_cast<char*>(buf), offset);
}

// Bytes of a BIGNUM left-padded to `width`.
// TCG EK Credential Profile 2.0, policy digests of the default templates.
constexpr char kPolicyA_Sha256[] =
    "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa";
constexpr char kPolicyB_Sha384[] =
    "b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419cacb47ba09699646150f9fc000f3f80e"
    "12";

void FillTemplateCommon(TPMT_PUBLIC& t, bool high_range) {
  // fixedTPM | fixedParent | sensitiveDataOrigin | adminWithPolicy |
  // restricted | decrypt (low range), plus userWithAuth (high range).
  t.nameAlg = high_range ? TPM2_ALG_SHA384 : TPM2_ALG_SHA256;
  t.objectAttributes = high_range ? 0x000300f2 : 0x000300b2;
  std::string policy = *HexDecode(high_range ? kPolicyB_Sha384 : kPolicyA_Sha256);
  t.authPolicy.size = static_cast<UINT16>(policy.size());
  std::memcpy(t.authPolicy.buffer, policy.data(), policy.size());
}

}  // namespace

Result<std::shared_ptr<const EkKey>> ParseEk(std::string_view tpm2b_public) {
  auto pub = ParsePublic(tpm2b_public);
  if (!pub.ok()) return pub.status();
  const TPMT_PUBLIC& area = pub->publicArea;
  auto key = std::make_shared<EkKey>();
  key->public_area = area;
  key->tpm2b_public = std::string(tpm2b_public);
  key->type = area.type;
  if (area.type != TPM2_ALG_RSA && area.type != TPM2_ALG_ECC)
    return InvalidArgument("EK is neither RSA nor ECC");
  key->name_alg = HashAlgById(area.nameAlg);
  if (!key->name_alg || key->name_alg->id == TPM2_ALG_SHA1) {
    return InvalidArgument("EK nameAlg is not sha256, sha384 or sha512");
  }
  uint32_t needed = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  if ((area.objectAttributes & needed) != needed ||
      (area.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)) {
    return InvalidArgument("EK is not a restricted decryption key");
  }
  const TPMT_SYM_DEF_OBJECT& sym = SymmetricOf(area);
  if (sym.algorithm != TPM2_ALG_AES || sym.mode.aes != TPM2_ALG_CFB ||
      (sym.keyBits.aes != 128 && sym.keyBits.aes != 192 && sym.keyBits.aes != 256)) {
    return InvalidArgument("EK symmetric definition is not AES-CFB");
  }
  key->symmetric_key_bits = sym.keyBits.aes;
  auto pkey = EkPublicKey(area, &key->description);
  if (!pkey.ok()) return pkey.status();
  key->pkey = std::move(*pkey);
  return std::shared_ptr<const EkKey>(std::move(key));
}

Result<std::unique_ptr<EVP_PKEY, EvpPkeyFree>> CertificatePublicKey(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<X509, X509Free> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    ERR_clear_error();
    return InvalidArgument("EK certificate is not a DER X.509 certificate");
  }
  EVP_PKEY* key = X509_get_pubkey(cert.get());
  if (!key) {
    ERR_clear_error();
    return InvalidArgument("EK certificate has no usable public key");
  }
  return Pkey(key);
}

Result<std::string> EkTpm2bFromCertificate(std::string_view der) {
  auto key = CertificatePublicKey(der);
  if (!key.ok()) return key.status();
  TPMT_PUBLIC t{};
  if (Status st = FillTpmPublicKey(key->get(), &t); !st.ok()) {
    return InvalidArgument("EK certificate: " + st.message());
  }
  bool high = false;
  if (t.type == TPM2_ALG_RSA) {
    TPMS_RSA_PARMS& r = t.parameters.rsaDetail;
    if (r.keyBits != 2048 && r.keyBits != 3072) {
      return InvalidArgument("EK certificate RSA key is not 2048 or 3072 bits");
    }
    if (r.exponent != 0) return InvalidArgument("EK certificate RSA exponent is not 65537");
    high = r.keyBits == 3072;
    r.symmetric.algorithm = TPM2_ALG_AES;
    r.symmetric.keyBits.aes = high ? 256 : 128;
    r.symmetric.mode.aes = TPM2_ALG_CFB;
    r.scheme.scheme = TPM2_ALG_NULL;
  } else {
    TPMS_ECC_PARMS& e = t.parameters.eccDetail;
    if (e.curveID != TPM2_ECC_NIST_P256 && e.curveID != TPM2_ECC_NIST_P384) {
      return InvalidArgument("EK certificate EC key is not P-256 or P-384");
    }
    high = e.curveID == TPM2_ECC_NIST_P384;
    e.symmetric.algorithm = TPM2_ALG_AES;
    e.symmetric.keyBits.aes = high ? 256 : 128;
    e.symmetric.mode.aes = TPM2_ALG_CFB;
    e.scheme.scheme = TPM2_ALG_NULL;
    e.kdf.scheme = TPM2_ALG_NULL;
  }
  FillTemplateCommon(t, high);
  std::string out = Marshal2b(t);
  if (out.empty()) return Internal("TPM2B_PUBLIC does not marshal");
  return out;
}

bool SamePublicKey(const EVP_PKEY* a, const EVP_PKEY* b) {
  return a && b && EVP_PKEY_eq(a, b) == 1;
}

// ---------------------------------------------------------------------------
// EK certificate store

EkCertificateStore::~EkCertificateStore() { X509_STORE_free(store_); }

namespace {

// Every certificate in a file: PEM (possibly several) or one DER.
std::vector<std::unique_ptr<X509, X509Free>> CertificatesIn(const std::string& bytes) {
  std::vector<std::unique_ptr<X509, X509Free>> out;
  if (bytes.find("-----BEGIN CERTIFICATE-----") != std::string::npos) {
    BIO* bio = BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size()));
    while (bio) {
      X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
      if (!x) break;
      out.emplace_back(x);
    }
    BIO_free(bio);
  } else {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(bytes.size()));
    if (x) out.emplace_back(x);
  }
  ERR_clear_error();
  return out;
}

}  // namespace

Result<std::shared_ptr<const EkCertificateStore>> EkCertificateStore::LoadDirectory(
    const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return InvalidArgument("cannot read the TPM cert store directory '" + dir + "'");
  std::shared_ptr<EkCertificateStore> store(new EkCertificateStore());
  store->store_ = X509_STORE_new();
  if (!store->store_) {
    closedir(d);
    return Internal("X509_STORE_new failed");
  }
  // An intermediate in the directory is a trust anchor too (vendors ship
  // intermediates without their roots, as Keylime's tpm_cert_store does).
  X509_STORE_set_flags(store->store_, X509_V_FLAG_PARTIAL_CHAIN);
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::ifstream in(dir + "/" + name, std::ios::binary);
    if (!in) continue;
    std::stringstream ss;
    ss << in.rdbuf();
    for (auto& cert : CertificatesIn(ss.str())) {
      if (X509_STORE_add_cert(store->store_, cert.get()) == 1) ++store->count_;
      ERR_clear_error();  // a duplicate certificate is not an error
    }
  }
  closedir(d);
  if (store->count_ == 0)
    return InvalidArgument("no certificate in the TPM cert store directory '" + dir + "'");
  return std::shared_ptr<const EkCertificateStore>(std::move(store));
}

Status EkCertificateStore::Verify(std::string_view der) const {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<X509, X509Free> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) {
    ERR_clear_error();
    return InvalidArgument("EK certificate is not a DER X.509 certificate");
  }
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store_, cert.get(), nullptr) != 1) {
    return Internal("X509_STORE_CTX_init failed");
  }
  int ok = X509_verify_cert(ctx.get());
  int err = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (ok != 1) {
    return InvalidArgument(std::string("EK certificate does not chain to the TPM cert store: ") +
                           X509_verify_cert_error_string(err));
  }
  return Status::Ok();
}

}  // namespace attestd::tpm
