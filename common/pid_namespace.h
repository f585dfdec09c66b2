// tallyd may run in its own PID namespace (a DaemonSet pod without
// hostPID), while the BPF side always sees the initial namespace's pids
// (bpf_get_current_pid_tgid). A pid in the API is the host's.
#ifndef TALLY_COMMON_PID_NAMESPACE_H_
#define TALLY_COMMON_PID_NAMESPACE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace tally {

// The inode of the initial PID namespace (PROC_PID_INIT_INO).
inline constexpr uint64_t kInitialPidNamespaceInode = 0xEFFFFFFCu;

// Whether this process is in the initial PID namespace (checked once).
bool InInitialPidNamespace();

// This process's tgid in each PID namespace from `proc_root`'s down to its
// own (the NStgid line of PROC_ROOT/self/status); empty if unreadable. With
// the host's /proc, the first entry is the host tgid.
std::vector<uint32_t> SelfNamespaceTgids(const std::string& proc_root);

}  // namespace tally

#endif  // TALLY_COMMON_PID_NAMESPACE_H_
