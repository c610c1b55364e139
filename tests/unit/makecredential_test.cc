// MakeCredential and the EK helpers against Keylime's public vectors
// (tests/data/keylime M and B) and a software ActivateCredential.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "common/base64.h"
#include "verifiers/tpm/ak.h"
#include "verifiers/tpm/ek.h"
#include "verifiers/tpm/makecredential.h"

namespace attestd::tpm {
namespace {

std::string ReadVector(const std::string& dir, const std::string& file) {
  std::ifstream in(std::string(ATTESTD_TEST_DATA_DIR) + "/keylime/" + dir + "/" + file,
                   std::ios::binary);
  EXPECT_TRUE(in) << dir << "/" << file;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string M(const std::string& file) { return Trim(ReadVector("M_makecredential", file)); }
std::string MHex(const std::string& file) { return HexDecode(M(file)).value_or(""); }

std::string DecimalToBytes(const std::string& dec, size_t width) {
  BIGNUM* bn = nullptr;
  EXPECT_GT(BN_dec2bn(&bn, dec.c_str()), 0);
  std::string out(width, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(width));
  BN_free(bn);
  return out;
}

TEST(MakeCredentialVectorM, RsaFirst80BytesMatchKeylime) {
  auto ek = ParseEk(MHex("rsa_ek_tpm.hex"));
  ASSERT_TRUE(ek.ok()) << ek.status().ToString();
  EXPECT_STREQ((*ek)->description, "rsa2048");
  MakeCredentialSeams seams;
  seams.rsa_seed = std::string(32, '\x12');
  auto blob =
      MakeCredentialForTest(**ek, MHex("rsa_challenge.hex"), MHex("rsa_aik_name.hex"), seams);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(blob->size(), 336u);
  std::string expected = MHex("rsa_expected.hex");
  ASSERT_EQ(expected.size(), 80u);
  EXPECT_EQ(HexEncode(blob->substr(0, 80)), HexEncode(expected));
  // A different seed changes everything after the header.
  seams.rsa_seed = std::string(32, '\x13');
  auto other =
      MakeCredentialForTest(**ek, MHex("rsa_challenge.hex"), MHex("rsa_aik_name.hex"), seams);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->substr(0, 80), expected);
}

TEST(MakeCredentialVectorM, EccAll148BytesMatchKeylime) {
  auto ek = ParseEk(MHex("ecc_ek_tpm.hex"));
  ASSERT_TRUE(ek.ok()) << ek.status().ToString();
  EXPECT_STREQ((*ek)->description, "ecc-p256");
  MakeCredentialSeams seams;
  seams.ecc_ephemeral_private = DecimalToBytes(M("ecc_ephemeral_priv.dec"), 32);
  auto blob =
      MakeCredentialForTest(**ek, MHex("ecc_challenge.hex"), MHex("ecc_aik_name.hex"), seams);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(HexEncode(*blob), HexEncode(MHex("ecc_expected.hex")));
  // The ephemeral point in the blob is the vector's.
  std::string x = DecimalToBytes(M("ecc_ephemeral_x.dec"), 32);
  std::string y = DecimalToBytes(M("ecc_ephemeral_y.dec"), 32);
  EXPECT_EQ(blob->substr(148 - 68),
            std::string("\x00\x20", 2) + x + std::string("\x00\x20", 2) + y);
}

TEST(MakeCredentialVectorM, RandomRunsDiffer) {
  auto ek = ParseEk(MHex("ecc_ek_tpm.hex"));
  ASSERT_TRUE(ek.ok());
  auto a = MakeCredential(**ek, MHex("ecc_challenge.hex"), MHex("ecc_aik_name.hex"));
  auto b = MakeCredential(**ek, MHex("ecc_challenge.hex"), MHex("ecc_aik_name.hex"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 148u);
  EXPECT_NE(*a, *b);
}

TEST(MakeCredentialVectorB, EkAkAndNameFromTheEmulatorFiles) {
  const std::string dir = "B_test-data_files_emulator";
  auto ek = ParseEk(ReadVector(dir, "ek.pub"));
  ASSERT_TRUE(ek.ok()) << ek.status().ToString();
  auto ak = ParseAk(ReadVector(dir, "ak.pub"));
  ASSERT_TRUE(ak.ok()) << ak.status().ToString();
  EXPECT_TRUE((*ak)->HasAkAttributes());
  EXPECT_EQ((*ak)->name, ReadVector(dir, "ak.name"));
  // The EK is not an AK, and the AK is not an EK.
  EXPECT_FALSE(ParseEk(ReadVector(dir, "ak.pub")).ok());

  // Our blob for B's secret has tpm2_makecredential's layout and sizes.
  std::string theirs = ReadVector(dir, "mkcred.out");
  auto ours = MakeCredential(**ek, ReadVector(dir, "secret.data"), (*ak)->name);
  ASSERT_TRUE(ours.ok()) << ours.status().ToString();
  ASSERT_EQ(ours->size(), theirs.size());
  EXPECT_EQ(HexEncode(ours->substr(0, 10)), HexEncode(theirs.substr(0, 10)));  // magic, version, 45
  EXPECT_EQ(HexEncode(ours->substr(10 + 45, 2)), HexEncode(theirs.substr(10 + 45, 2)));  // 256
}

// ActivateCredential in software, for an RSA EK whose private key we hold.
std::string SoftwareActivate(EVP_PKEY* ek_private, const HashAlg& hash, size_t sym_bits,
                             const std::string& blob, const std::string& name) {
  auto u16 = [&](size_t at) {
    return (static_cast<size_t>(static_cast<uint8_t>(blob[at])) << 8) |
           static_cast<uint8_t>(blob[at + 1]);
  };
  size_t id_size = u16(8);
  std::string id_object = blob.substr(10, id_size);
  size_t secret_size = u16(10 + id_size);
  std::string secret = blob.substr(12 + id_size, secret_size);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, ek_private, nullptr);
  EVP_PKEY_decrypt_init(ctx);
  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING);
  EVP_PKEY_CTX_set_rsa_oaep_md(ctx, hash.md);
  EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, hash.md);
  EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, OPENSSL_memdup("IDENTITY", 9), 9);
  unsigned char seed[512];
  size_t seed_len = sizeof seed;
  int ok = EVP_PKEY_decrypt(ctx, seed, &seed_len,
                            reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  EVP_PKEY_CTX_free(ctx);
  if (ok != 1) return "";
  std::string seed_s(reinterpret_cast<char*>(seed), seed_len);
  size_t hmac_size = (static_cast<uint8_t>(id_object[0]) << 8) | static_cast<uint8_t>(id_object[1]);
  std::string outer = id_object.substr(2, hmac_size);
  std::string enc = id_object.substr(2 + hmac_size);
  auto hmac_key = Kdfa(hash, seed_s, "INTEGRITY", "", "", hash.size * 8);
  unsigned char mac[64];
  size_t mac_len = 0;
  std::string mac_in = enc + name;
  EVP_Q_mac(nullptr, "HMAC", nullptr, hash.name, nullptr, hmac_key->data(), hmac_key->size(),
            reinterpret_cast<const unsigned char*>(mac_in.data()), mac_in.size(), mac, sizeof mac,
            &mac_len);
  if (std::string(reinterpret_cast<char*>(mac), mac_len) != outer) return "";
  auto sym = Kdfa(hash, seed_s, "STORAGE", name, "", sym_bits);
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  unsigned char iv[16] = {0};
  std::string plain(enc.size() + 16, '\0');
  int len = 0;
  EVP_DecryptInit_ex(c, EVP_aes_128_cfb128(), nullptr,
                     reinterpret_cast<const unsigned char*>(sym->data()), iv);
  EVP_DecryptUpdate(c, reinterpret_cast<unsigned char*>(plain.data()), &len,
                    reinterpret_cast<const unsigned char*>(enc.data()),
                    static_cast<int>(enc.size()));
  EVP_CIPHER_CTX_free(c);
  plain.resize(static_cast<size_t>(len));
  size_t n = (static_cast<uint8_t>(plain[0]) << 8) | static_cast<uint8_t>(plain[1]);
  return plain.substr(2, n);
}

// An EK TPM2B_PUBLIC (template L-1) around a software RSA key.
std::string Rsa2048EkPublic(EVP_PKEY* key) {
  BIGNUM* n = nullptr;
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n);
  TPM2B_PUBLIC pub{};
  TPMT_PUBLIC& t = pub.publicArea;
  t.type = TPM2_ALG_RSA;
  t.nameAlg = TPM2_ALG_SHA256;
  t.objectAttributes = 0x000300b2;
  t.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
  t.parameters.rsaDetail.symmetric.keyBits.aes = 128;
  t.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  t.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  t.parameters.rsaDetail.keyBits = 2048;
  t.unique.rsa.size = 256;
  BN_bn2binpad(n, t.unique.rsa.buffer, 256);
  BN_free(n);
  uint8_t buf[sizeof(TPM2B_PUBLIC)];
  size_t off = 0;
  Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, buf, sizeof buf, &off);
  return std::string(reinterpret_cast<char*>(buf), off);
}

TEST(MakeCredential, SoftwareActivateRecoversTheCredential) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  ASSERT_NE(key, nullptr);
  auto ek = ParseEk(Rsa2048EkPublic(key));
  ASSERT_TRUE(ek.ok()) << ek.status().ToString();
  std::string name = MHex("rsa_aik_name.hex");
  std::string credential = "0123456789abcdefABCDEF0123456789";
  auto blob = MakeCredential(**ek, credential, name);
  ASSERT_TRUE(blob.ok());
  const HashAlg* sha256 = HashAlgByName("sha256");
  EXPECT_EQ(SoftwareActivate(key, *sha256, 128, *blob, name), credential);
  // Bound to the AK name: another name fails the integrity HMAC.
  std::string other = name;
  other.back() ^= 1;
  EXPECT_EQ(SoftwareActivate(key, *sha256, 128, *blob, other), "");
  EVP_PKEY_free(key);
}

TEST(MakeCredential, RejectsBadSizes) {
  auto ek = ParseEk(MHex("rsa_ek_tpm.hex"));
  ASSERT_TRUE(ek.ok());
  EXPECT_FALSE(MakeCredential(**ek, "", MHex("rsa_aik_name.hex")).ok());
  EXPECT_FALSE(MakeCredential(**ek, std::string(33, 'a'), MHex("rsa_aik_name.hex")).ok());
  EXPECT_FALSE(MakeCredential(**ek, "abc", "").ok());
}

TEST(ParseEk, RejectsTruncatedOversizedAndSigningKeys) {
  std::string ek = MHex("rsa_ek_tpm.hex");
  EXPECT_FALSE(ParseEk(ek.substr(0, ek.size() - 1)).ok());
  EXPECT_FALSE(ParseEk(ek + "x").ok());
  EXPECT_FALSE(ParseEk("").ok());
  EXPECT_FALSE(ParseEk(ReadVector("B_test-data_files_emulator", "ak.pub")).ok());
}

TEST(EkTemplate, CertificateKeyGivesTheDefaultTemplate) {
  // Vector M's EKs are the L-1 and L-2 templates: rebuilding them from their
  // public keys must give the very same bytes.
  for (const char* file : {"rsa_ek_tpm.hex", "ecc_ek_tpm.hex"}) {
    std::string ek_bytes = MHex(file);
    auto ek = ParseEk(ek_bytes);
    ASSERT_TRUE(ek.ok());
    // A self-signed certificate around the EK's public key.
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, (*ek)->pkey.get());
    EVP_PKEY* signer = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    X509_sign(cert, signer, EVP_sha256());
    unsigned char* der = nullptr;
    int len = i2d_X509(cert, &der);
    std::string der_s(reinterpret_cast<char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    X509_free(cert);
    EVP_PKEY_free(signer);
    auto rebuilt = EkTpm2bFromCertificate(der_s);
    ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
    EXPECT_EQ(HexEncode(*rebuilt), HexEncode(ek_bytes)) << file;
    auto key = CertificatePublicKey(der_s);
    ASSERT_TRUE(key.ok());
    EXPECT_TRUE(SamePublicKey(key->get(), (*ek)->pkey.get()));
  }
  EXPECT_FALSE(EkTpm2bFromCertificate("not a certificate").ok());
}

}  // namespace
}  // namespace attestd::tpm
