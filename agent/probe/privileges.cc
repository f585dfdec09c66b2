#include "agent/probe/privileges.h"

#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tally {
namespace {

// Older headers lack the capabilities added in Linux 5.8.
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

bool HasCap(const __user_cap_data_struct data[2], int cap) {
  return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

// CAP_BPF and CAP_PERFMON exist from Linux 5.8; before, only CAP_SYS_ADMIN.
bool KernelHasCapBpf() {
  struct utsname u;
  if (uname(&u) != 0) return true;
  int major = 0, minor = 0;
  if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return true;
  return major > 5 || (major == 5 && minor >= 8);
}

}  // namespace

Privileges CurrentPrivileges() {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  Privileges p;
  if (syscall(SYS_capget, &header, data) != 0) return p;
  p.cap_sys_admin = HasCap(data, CAP_SYS_ADMIN);
  p.cap_bpf = HasCap(data, kCapBpf);
  p.cap_perfmon = HasCap(data, kCapPerfmon);
  p.cap_sys_resource = HasCap(data, CAP_SYS_RESOURCE);
  return p;
}

std::string MissingBpfCapabilities(const Privileges& p) {
  if (p.cap_sys_admin) return "";
  if (!KernelHasCapBpf()) return "CAP_SYS_ADMIN (this kernel predates CAP_BPF)";
  std::vector<std::string> missing;
  if (!p.cap_bpf) missing.push_back("CAP_BPF");
  if (!p.cap_perfmon) missing.push_back("CAP_PERFMON");
  return absl::StrJoin(missing, " and ");
}

std::string ErrnoName(int err) {
  // libbpf's own codes start at 4000 (LIBBPF_ERRNO__START).
  if (err >= 4000) {
    char buf[128];
    libbpf_strerror(err, buf, sizeof(buf));
    return buf;
  }
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : absl::StrCat("errno ", err);
}

absl::Status DeniedStatus(absl::string_view action, int err) {
  std::string missing = MissingBpfCapabilities(CurrentPrivileges());
  if (!missing.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat(action, ": permission denied (", ErrnoName(err),
                     "); tallyd lacks ", missing, ": ", kGrantHint));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      action, ": the kernel refused (", ErrnoName(err),
      ") although tallyd has the BPF capabilities; this kernel restricts it "
      "(lockdown, an LSM, or a disabled feature)"));
}

absl::Status UprobeDeniedStatus(absl::string_view action, int err) {
  if (!CurrentPrivileges().cap_sys_admin &&
      MissingBpfCapabilities(CurrentPrivileges()).empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        action, ": permission denied (", ErrnoName(err),
        "); attaching uprobes needs CAP_SYS_ADMIN on this kernel (CAP_BPF and "
        "CAP_PERFMON no longer suffice), which tallyd lacks: ",
        kGrantHint));
  }
  return DeniedStatus(action, err);
}

}  // namespace tally
