// What the agent needs from the kernel's permission model, and errors that
// say which capability is missing.
#ifndef TALLY_AGENT_PROBE_PRIVILEGES_H_
#define TALLY_AGENT_PROBE_PRIVILEGES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tally {

// Effective capabilities relevant to loading and attaching tracing programs.
struct Privileges {
  bool cap_sys_admin = false;
  bool cap_bpf = false;
  bool cap_perfmon = false;
  bool cap_sys_resource = false;
};

Privileges CurrentPrivileges();

// Empty when `p` suffices to load and attach tracing programs on this kernel
// (CAP_BPF + CAP_PERFMON since Linux 5.8, CAP_SYS_ADMIN before); otherwise
// the missing capabilities, e.g. "CAP_PERFMON".
std::string MissingBpfCapabilities(const Privileges& p);

// Symbolic errno name ("ENOENT") for messages people search for; libbpf's
// own codes (>= 4000) as libbpf describes them.
std::string ErrnoName(int err);

// How to grant a capability, for messages.
inline constexpr char kGrantHint[] =
    "grant it (Kubernetes: securityContext.capabilities.add; systemd: "
    "CapabilityBoundingSet= and AmbientCapabilities=)";

// The status for a failed privileged operation: PERMISSION_DENIED naming the
// missing capabilities when some are missing; otherwise FAILED_PRECONDITION,
// since the kernel itself refused (lockdown, an LSM, or a missing feature).
absl::Status DeniedStatus(absl::string_view action, int err);

// The same for attaching a uprobe, which recent kernels (the 2025 fix that
// took back CAP_PERFMON's uprobe permission, backported to stable) allow
// only with CAP_SYS_ADMIN.
absl::Status UprobeDeniedStatus(absl::string_view action, int err);

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_PRIVILEGES_H_
