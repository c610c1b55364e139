#include "verifiers/uefi/summary.h"

#include <algorithm>

#include "verifiers/uefi/eventlog_decode.h"

namespace attestd::uefi {
namespace {

void AddOwners(std::string_view data, std::vector<std::string>* owners, size_t* count) {
  auto lists = DecodeSignatureLists(data);
  if (!lists.ok()) return;
  for (const SignatureList& l : *lists) {
    for (const SignatureData& s : l.signatures) {
      if (count != nullptr) ++*count;
      if (owners == nullptr) continue;
      std::string o = s.owner.ToString();
      if (std::find(owners->begin(), owners->end(), o) == owners->end()) owners->push_back(o);
    }
  }
}

void AddVariable(const Event& e, BootSummary* out) {
  auto v = DecodeVariable(e.data);
  if (!v.ok()) return;
  if (v->vendor == kEfiGlobalVariable) {
    if (v->name == "SecureBoot") out->secure_boot = SecureBootEnabled(v->data);
    if (v->name == "PK") AddOwners(v->data, &out->pk_owners, nullptr);
    if (v->name == "KEK") AddOwners(v->data, &out->kek_owners, nullptr);
  } else if (v->vendor == kEfiImageSecurityDatabase) {
    if (v->name == "db") AddOwners(v->data, &out->db_owners, nullptr);
    if (v->name == "dbx") AddOwners(v->data, nullptr, &out->dbx_entries);
  }
}

void AddApplication(const EventLog& log, const Event& e, BootSummary* out) {
  BootApplication app;
  app.event_index = e.index;
  app.pcr = e.pcr;
  auto img = DecodeImageLoad(e.data, log.spec.uintn_size == 1);
  if (img.ok()) {
    app.image_length = img->length;
    auto text = DevicePathToText(img->device_path);
    if (text.ok()) app.device_path = std::move(*text);
  }
  for (size_t i = 0; i < log.banks.size(); ++i) {
    if (!e.digests[i].empty()) {
      app.digests.emplace_back(AlgName(log.banks[i].alg), std::string(e.digests[i]));
    }
  }
  out->boot_applications.push_back(std::move(app));
}

}  // namespace

std::optional<bool> SecureBootEnabled(std::string_view data) {
  // Firmware without Secure Boot support may log the variable empty;
  // tpm2_eventlog reads that as off, as it reads any non-zero byte as on.
  if (data.empty()) return false;
  if (data.size() != 1) return std::nullopt;
  return data[0] != 0;
}

BootSummary Summarize(const EventLog& log) {
  BootSummary out;
  std::optional<std::string> sd_boot_cmdline;
  for (const Event& e : log.events) {
    if (e.type == kEvEfiVariableDriverConfig && e.pcr == 7) {
      AddVariable(e, &out);
    } else if (e.type == kEvEfiBootServicesApplication) {
      AddApplication(log, e, &out);
    } else if (e.type == kEvIpl && e.pcr == 8) {
      std::string text = EventText(e.data);
      constexpr std::string_view kPrefix = "kernel_cmdline: ";
      if (std::string_view(text).substr(0, kPrefix.size()) == kPrefix) {
        out.kernel_cmdline = text.substr(kPrefix.size());
      }
    } else if (e.type == kEvIpl && e.pcr == 12) {
      sd_boot_cmdline = EventText(e.data);
    }
  }
  if (!out.kernel_cmdline && sd_boot_cmdline) out.kernel_cmdline = sd_boot_cmdline;
  return out;
}

}  // namespace attestd::uefi
