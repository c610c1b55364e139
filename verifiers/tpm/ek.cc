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

namespace attestd::tpm {

namespace {

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;
using Pkey = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

struct EkCurve {
  TPM2_ECC_CURVE id;
  const char* group;
  size_t bytes;
  const char* description;
};
constexpr EkCurve kEkCurves[] = {
    {TPM2_ECC_NIST_P256, "P-256", 32, "ecc-p256"},
    {TPM2_ECC_NIST_P384, "P-384", 48, "ecc-p384"},
};

const EkCurve* EkCurveById(TPM2_ECC_CURVE id) {
  for (const EkCurve& c : kEkCurves) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

const EkCurve* EkCurveByGroup(std::string_view group) {
  for (const EkCurve& c : kEkCurves) {
    if (group == c.group) return &c;
  }
  return nullptr;
}

Result<Pkey> FromParams(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  if (!params) return Internal("OSSL_PARAM_BLD_to_param failed");
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return InvalidArgument("OpenSSL refuses the EK public key");
  }
  return Pkey(raw);
}

Result<Pkey> RsaKey(const TPMT_PUBLIC& pub, const char** description) {
  const TPMS_RSA_PARMS& p = pub.parameters.rsaDetail;
  if (p.keyBits != 2048 && p.keyBits != 3072) return InvalidArgument("EK RSA keyBits is not 2048 or 3072");
  size_t bytes = p.keyBits / 8;
  if (pub.unique.rsa.size != bytes) return InvalidArgument("EK RSA modulus length is not keyBits");
  Bn n(BN_bin2bn(pub.unique.rsa.buffer, static_cast<int>(bytes), nullptr));
  Bn e(BN_new());
  if (!n || !e || BN_set_word(e.get(), p.exponent == 0 ? 65537 : p.exponent) != 1) {
    return Internal("BIGNUM allocation failed");
  }
  if (BN_num_bits(n.get()) != static_cast<int>(p.keyBits) || !BN_is_odd(n.get())) {
    return InvalidArgument("EK RSA modulus is not a keyBits-long odd number");
  }
  if (!BN_is_odd(e.get()) || BN_is_one(e.get())) return InvalidArgument("EK RSA exponent invalid");
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return Internal("OSSL_PARAM_BLD failed");
  }
  *description = p.keyBits == 2048 ? "rsa2048" : "rsa3072";
  return FromParams("RSA", bld.get());
}

Result<Pkey> EccKey(const TPMT_PUBLIC& pub, const char** description) {
  const EkCurve* curve = EkCurveById(pub.parameters.eccDetail.curveID);
  if (!curve) return InvalidArgument("EK ECC curve is not P-256 or P-384");
  const TPM2B_ECC_PARAMETER& x = pub.unique.ecc.x;
  const TPM2B_ECC_PARAMETER& y = pub.unique.ecc.y;
  if (x.size == 0 || y.size == 0 || x.size > curve->bytes || y.size > curve->bytes) {
    return InvalidArgument("EK ECC point coordinates have the wrong size");
  }
  std::string point(1 + 2 * curve->bytes, '\0');
  point[0] = 0x04;
  std::memcpy(point.data() + 1 + curve->bytes - x.size, x.buffer, x.size);
  std::memcpy(point.data() + 1 + 2 * curve->bytes - y.size, y.buffer, y.size);
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return Internal("OSSL_PARAM_BLD failed");
  }
  auto pkey = FromParams("EC", bld.get());
  if (!pkey.ok()) return InvalidArgument("EK ECC point is not on the curve");
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey->get(), nullptr));
  if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) return InvalidArgument("EK ECC point is not on the curve");
  *description = curve->description;
  return pkey;
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
bool PaddedBytes(const BIGNUM* bn, size_t width, uint8_t* out) {
  return BN_bn2binpad(bn, out, static_cast<int>(width)) == static_cast<int>(width);
}

// TCG EK Credential Profile 2.0, policy digests of the default templates.
constexpr char kPolicyA_Sha256[] = "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa";
constexpr char kPolicyB_Sha384[] =
    "b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419cacb47ba09699646150f9fc000f3f80e12";

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
  if (area.type != TPM2_ALG_RSA && area.type != TPM2_ALG_ECC) return InvalidArgument("EK is neither RSA nor ECC");
  key->name_alg = HashAlgById(area.nameAlg);
  if (!key->name_alg || key->name_alg->id == TPM2_ALG_SHA1) {
    return InvalidArgument("EK nameAlg is not sha256, sha384 or sha512");
  }
  uint32_t needed = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  if ((area.objectAttributes & needed) != needed || (area.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)) {
    return InvalidArgument("EK is not a restricted decryption key");
  }
  const TPMT_SYM_DEF_OBJECT& sym = SymmetricOf(area);
  if (sym.algorithm != TPM2_ALG_AES || sym.mode.aes != TPM2_ALG_CFB ||
      (sym.keyBits.aes != 128 && sym.keyBits.aes != 192 && sym.keyBits.aes != 256)) {
    return InvalidArgument("EK symmetric definition is not AES-CFB");
  }
  key->symmetric_key_bits = sym.keyBits.aes;
  auto pkey = area.type == TPM2_ALG_RSA ? RsaKey(area, &key->description) : EccKey(area, &key->description);
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
  EVP_PKEY* pkey = key->get();
  TPMT_PUBLIC t{};
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
      BN_free(n);
      BN_free(e);
      return InvalidArgument("EK certificate RSA key unreadable");
    }
    Bn nn(n), ee(e);
    int bits = BN_num_bits(n);
    if (bits != 2048 && bits != 3072) return InvalidArgument("EK certificate RSA key is not 2048 or 3072 bits");
    if (!BN_is_word(e, 65537)) return InvalidArgument("EK certificate RSA exponent is not 65537");
    bool high = bits == 3072;
    t.type = TPM2_ALG_RSA;
    FillTemplateCommon(t, high);
    TPMS_RSA_PARMS& r = t.parameters.rsaDetail;
    r.symmetric.algorithm = TPM2_ALG_AES;
    r.symmetric.keyBits.aes = high ? 256 : 128;
    r.symmetric.mode.aes = TPM2_ALG_CFB;
    r.scheme.scheme = TPM2_ALG_NULL;
    r.keyBits = static_cast<UINT16>(bits);
    r.exponent = 0;
    t.unique.rsa.size = static_cast<UINT16>(bits / 8);
    if (!PaddedBytes(n, bits / 8, t.unique.rsa.buffer)) return Internal("BN_bn2binpad failed");
  } else if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {0};
    size_t glen = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) != 1) {
      return InvalidArgument("EK certificate EC key has no named curve");
    }
    // OpenSSL names the curves prime256v1 / secp384r1.
    std::string_view g(group, glen);
    const EkCurve* curve = g == "prime256v1" || g == "P-256"   ? EkCurveByGroup("P-256")
                           : g == "secp384r1" || g == "P-384" ? EkCurveByGroup("P-384")
                                                              : nullptr;
    if (!curve) return InvalidArgument("EK certificate EC key is not P-256 or P-384");
    BIGNUM* x = nullptr;
    BIGNUM* y = nullptr;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1) {
      BN_free(x);
      BN_free(y);
      return InvalidArgument("EK certificate EC point unreadable");
    }
    Bn xx(x), yy(y);
    bool high = curve->id == TPM2_ECC_NIST_P384;
    t.type = TPM2_ALG_ECC;
    FillTemplateCommon(t, high);
    TPMS_ECC_PARMS& e = t.parameters.eccDetail;
    e.symmetric.algorithm = TPM2_ALG_AES;
    e.symmetric.keyBits.aes = high ? 256 : 128;
    e.symmetric.mode.aes = TPM2_ALG_CFB;
    e.scheme.scheme = TPM2_ALG_NULL;
    e.curveID = curve->id;
    e.kdf.scheme = TPM2_ALG_NULL;
    t.unique.ecc.x.size = static_cast<UINT16>(curve->bytes);
    t.unique.ecc.y.size = static_cast<UINT16>(curve->bytes);
    if (!PaddedBytes(x, curve->bytes, t.unique.ecc.x.buffer) ||
        !PaddedBytes(y, curve->bytes, t.unique.ecc.y.buffer)) {
      return Internal("BN_bn2binpad failed");
    }
  } else {
    return InvalidArgument("EK certificate key is neither RSA nor EC");
  }
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

Result<std::shared_ptr<const EkCertificateStore>> EkCertificateStore::LoadDirectory(const std::string& dir) {
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
  if (store->count_ == 0) return InvalidArgument("no certificate in the TPM cert store directory '" + dir + "'");
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
