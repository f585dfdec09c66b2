#include "agent/probe/feature_cache.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/probe/feature_probe.h"
#include "agent/probe/privileges.h"
#include "common/files.h"
#include "glog/logging.h"

namespace tally {
namespace {

constexpr absl::string_view kMagic = "tally-kernel-features 1";

std::string FirstLine(const std::string& path, const char* otherwise) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return otherwise;
  return std::string(absl::StripAsciiWhitespace(
      text->substr(0, text->find('\n'))));
}

// The NT_GNU_BUILD_ID note of the main program, from its loaded segments.
std::string BuildIdFromMemory() {
  std::string id;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) -> int {
        // The first object is the main program.
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_NOTE) continue;
          const char* p =
              reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
          const char* end = p + ph.p_memsz;
          while (p + sizeof(ElfW(Nhdr)) <= end) {
            const auto* n = reinterpret_cast<const ElfW(Nhdr)*>(p);
            const char* name = p + sizeof(*n);
            const char* desc = name + ((n->n_namesz + 3) & ~3u);
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
                std::string(name, 3) == "GNU" &&
                desc + n->n_descsz <= end) {
              auto* s = static_cast<std::string*>(out);
              for (uint32_t k = 0; k < n->n_descsz; ++k) {
                absl::StrAppendFormat(s, "%02x",
                                      static_cast<unsigned char>(desc[k]));
              }
              return 1;
            }
            p = desc + ((n->n_descsz + 3) & ~3u);
          }
        }
        return 1;
      },
      &id);
  return id;
}

// This binary: its build ID, else what identifies its file.
std::string BuildIdentity() {
  std::string id = BuildIdFromMemory();
  if (!id.empty()) return id;
  struct stat st;
  if (stat("/proc/self/exe", &st) != 0) return "unknown";
  return absl::StrCat("file:", st.st_dev, ":", st.st_ino, ":", st.st_size, ":",
                      st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
}

std::string CapEff() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "CapEff:")) {
      return std::string(absl::StripAsciiWhitespace(rest));
    }
  }
  return "unknown";
}

std::vector<std::pair<absl::string_view, std::string*>> KeyFields(
    FeatureCacheKey& k) {
  return {{"boot_id", &k.boot_id},
          {"release", &k.release},
          {"build", &k.build},
          {"caps", &k.caps},
          {"lockdown", &k.lockdown},
          {"perf_event_paranoid", &k.perf_event_paranoid}};
}

absl::Status Damaged(const std::string& path, absl::string_view why) {
  return absl::DataLossError(
      absl::StrCat("kernel feature cache ", path, " is damaged: ", why));
}

}  // namespace

bool FeatureCacheKey::operator==(const FeatureCacheKey& o) const {
  return boot_id == o.boot_id && release == o.release && build == o.build &&
         caps == o.caps && lockdown == o.lockdown &&
         perf_event_paranoid == o.perf_event_paranoid;
}

FeatureCacheKey CurrentFeatureCacheKey() {
  FeatureCacheKey k;
  k.boot_id = FirstLine("/proc/sys/kernel/random/boot_id", "unknown");
  struct utsname u;
  k.release = uname(&u) == 0 ? u.release : "unknown";
  k.build = BuildIdentity();
  k.caps = CapEff();
  k.lockdown = FirstLine("/sys/kernel/security/lockdown", "unknown");
  k.perf_event_paranoid =
      FirstLine("/proc/sys/kernel/perf_event_paranoid", "unknown");
  return k;
}

absl::StatusOr<KernelFeatures> ReadFeatureCache(const std::string& path,
                                                const FeatureCacheKey& key) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::NotFoundError(
        absl::StrCat("no kernel feature cache at ", path));
  }
  std::vector<absl::string_view> lines =
      absl::StrSplit(*text, '\n', absl::SkipEmpty());
  if (lines.empty() || lines[0] != kMagic) return Damaged(path, "no header");
  FeatureCacheKey stored;
  KernelFeatures f;
  int64_t probed_at = 0;
  bool complete = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<absl::string_view> kv =
        absl::StrSplit(lines[i], absl::MaxSplits(' ', 1));
    std::string value;
    if (kv.size() != 2 || !absl::CUnescape(kv[1], &value)) {
      return Damaged(path, absl::StrCat("line ", i + 1));
    }
    bool known = false;
    for (auto& [name, field] : KeyFields(stored)) {
      if (kv[0] == name) {
        *field = value;
        known = true;
      }
    }
    if (known) continue;
    if (kv[0] == "probed_at" && absl::SimpleAtoi(value, &probed_at)) continue;
    if (kv[0] == "btf_source") {
      f.btf_source = value;
    } else if (kv[0] == "kind") {
      // "<name> <code> <message>"
      std::vector<std::string> parts =
          absl::StrSplit(value, absl::MaxSplits(' ', 2));
      int code = 0;
      std::optional<AttachKind> kind =
          parts.size() == 3 ? AttachKindFromName(parts[0]) : std::nullopt;
      if (!kind || !absl::SimpleAtoi(parts[1], &code) || code < 0 ||
          code > 16) {
        return Damaged(path, absl::StrCat("line ", i + 1));
      }
      f.kinds[*kind] =
          absl::Status(static_cast<absl::StatusCode>(code), parts[2]);
    } else if (kv[0] == "end") {
      complete = true;
    } else {
      return Damaged(path, absl::StrCat("line ", i + 1));
    }
  }
  if (!complete || f.kinds.size() != kAllAttachKinds.size()) {
    return Damaged(path, "incomplete");
  }
  if (!(stored == key)) {
    return absl::NotFoundError(absl::StrCat(
        "the kernel feature cache ", path,
        " is for another boot, kernel, build or privileges"));
  }
  f.release = key.release;
  f.source = absl::StrCat(
      "cached: probed by this binary at ",
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(probed_at),
                       absl::UTCTimeZone()),
      " on this kernel boot (", key.boot_id, "), read from ", path);
  return f;
}

absl::Status WriteFeatureCache(const std::string& path,
                               const FeatureCacheKey& key,
                               const KernelFeatures& features,
                               absl::Time probed_at) {
  std::string text = absl::StrCat(kMagic, "\n");
  FeatureCacheKey fields = key;
  for (const auto& [name, field] : KeyFields(fields)) {
    absl::StrAppend(&text, name, " ", absl::CEscape(*field), "\n");
  }
  absl::StrAppend(&text, "probed_at ", absl::ToUnixSeconds(probed_at), "\n",
                  "btf_source ", absl::CEscape(features.btf_source), "\n");
  for (const auto& [kind, status] : features.kinds) {
    absl::StrAppend(&text, "kind ",
                    absl::CEscape(absl::StrCat(
                        AttachKindName(kind), " ", static_cast<int>(status.code()),
                        " ", status.message())),
                    "\n");
  }
  absl::StrAppend(&text, "end 1\n");

  std::string dir = path.substr(0, path.rfind('/'));
  if (!dir.empty() && mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", dir, ": ", ErrnoName(errno)));
  }
  // Unique per process: agents starting together never share a temp file.
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) {
      std::remove(tmp.c_str());
      return absl::PermissionDeniedError(absl::StrCat("cannot write ", tmp));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    return absl::PermissionDeniedError(
        absl::StrCat("cannot rename ", tmp, ": ", ErrnoName(err)));
  }
  return absl::OkStatus();
}

KernelFeatures CachedOrProbedKernelFeatures(const std::string& path) {
  FeatureCacheKey key;
  if (!path.empty()) {
    key = CurrentFeatureCacheKey();
    absl::StatusOr<KernelFeatures> cached = ReadFeatureCache(path, key);
    if (cached.ok()) return *std::move(cached);
    if (!absl::IsNotFound(cached.status()) || VLOG_IS_ON(1)) {
      LOG(INFO) << "probing the kernel: " << cached.status().message();
    }
  }
  const absl::Time start = absl::Now();
  KernelFeatures f = ProbeKernelFeatures();
  f.source = absl::StrCat(
      "probed at start-up in ",
      absl::FormatDuration(absl::Trunc(absl::Now() - start,
                                       absl::Milliseconds(1))));
  // A probe without privileges says little about the kernel: not kept.
  bool privileged = true;
  for (const auto& [kind, status] : f.kinds) {
    privileged &= !absl::IsPermissionDenied(status);
  }
  if (!path.empty() && privileged) {
    if (absl::Status s = WriteFeatureCache(path, key, f, start); !s.ok()) {
      LOG(INFO) << "kernel features not cached for the next start: "
                << s.message();
    }
  }
  return f;
}

}  // namespace tally
