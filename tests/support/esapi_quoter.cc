#include "tests/support/esapi_quoter.h"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include <algorithm>
#include <cstring>

#include "tests/support/tpm_evidence.h"
#include "verifiers/tpm/pcrblob.h"

namespace attestd::testing {

EsapiQuoter::EsapiQuoter(int swtpm_port) {
  std::string conf = "swtpm:host=127.0.0.1,port=" + std::to_string(swtpm_port);
  if (Tss2_TctiLdr_Initialize(conf.c_str(), &tcti_) != TSS2_RC_SUCCESS) return;
  if (Esys_Initialize(&ctx_, tcti_, nullptr) != TSS2_RC_SUCCESS) {
    ctx_ = nullptr;
    return;
  }
  ESYS_TR ak = ESYS_TR_NONE;
  if (Esys_TR_FromTPMPublic(ctx_, 0x81010010, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ak) !=
      TSS2_RC_SUCCESS) {
    Esys_Finalize(&ctx_);
    ctx_ = nullptr;
    return;
  }
  ak_ = ak;
}

EsapiQuoter::~EsapiQuoter() {
  if (ctx_) Esys_Finalize(&ctx_);
  if (tcti_) Tss2_TctiLdr_Finalize(&tcti_);
}

std::optional<TpmQuote> EsapiQuoter::Quote(const std::string& nonce, std::vector<int> pcrs,
                                           const std::string& data_digest) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ctx_ || nonce.size() > sizeof(TPM2B_DATA::buffer) || data_digest.size() != 32) {
    return std::nullopt;
  }
  if (Esys_PCR_Reset(ctx_, ESYS_TR_PCR16, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE) !=
      TSS2_RC_SUCCESS) {
    return std::nullopt;
  }
  TPML_DIGEST_VALUES values{};
  values.count = 1;
  values.digests[0].hashAlg = TPM2_ALG_SHA256;
  std::memcpy(values.digests[0].digest.sha256, data_digest.data(), 32);
  if (Esys_PCR_Extend(ctx_, ESYS_TR_PCR16, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &values) !=
      TSS2_RC_SUCCESS) {
    return std::nullopt;
  }
  pcrs.push_back(16);
  std::sort(pcrs.begin(), pcrs.end());
  pcrs.erase(std::unique(pcrs.begin(), pcrs.end()), pcrs.end());
  TPML_PCR_SELECTION sel{};
  sel.count = 1;
  sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
  sel.pcrSelections[0].sizeofSelect = 3;
  tpm::PcrBankSelection bank;
  bank.hash = TPM2_ALG_SHA256;
  for (int p : pcrs) {
    sel.pcrSelections[0].pcrSelect[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
    bank.select[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
  }
  TPM2B_DATA q{};
  q.size = static_cast<UINT16>(nonce.size());
  std::memcpy(q.buffer, nonce.data(), nonce.size());
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;
  TPM2B_ATTEST* attest = nullptr;
  TPMT_SIGNATURE* sig = nullptr;
  UINT32 counter = 0;
  TPML_PCR_SELECTION* sel_out = nullptr;
  TPML_DIGEST* digests = nullptr;
  std::optional<TpmQuote> out;
  if (Esys_Quote(ctx_, ak_, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &q, &scheme, &sel,
                 &attest, &sig) == TSS2_RC_SUCCESS &&
      Esys_PCR_Read(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter, &sel_out,
                    &digests) == TSS2_RC_SUCCESS &&
      digests->count == pcrs.size()) {
    uint8_t buf[sizeof(TPMT_SIGNATURE)];
    size_t off = 0;
    if (Tss2_MU_TPMT_SIGNATURE_Marshal(sig, buf, sizeof buf, &off) == TSS2_RC_SUCCESS) {
      tpm::PcrBlob blob;
      blob.selection.push_back(bank);
      for (size_t i = 0; i < pcrs.size(); ++i) {
        blob.values.push_back(
            tpm::PcrValue{TPM2_ALG_SHA256, pcrs[i],
                          std::string(reinterpret_cast<const char*>(digests->digests[i].buffer),
                                      digests->digests[i].size)});
      }
      TpmQuote t;
      t.attest = std::string(reinterpret_cast<const char*>(attest->attestationData), attest->size);
      t.signature = std::string(reinterpret_cast<const char*>(buf), off);
      t.pcrblob = tpm::SerializePcrBlob(blob);
      t.quote = KeylimeQuoteString(t.attest, t.signature, t.pcrblob);
      out = std::move(t);
    }
  }
  Esys_Free(attest);
  Esys_Free(sig);
  Esys_Free(sel_out);
  Esys_Free(digests);
  return out;
}

}  // namespace attestd::testing
