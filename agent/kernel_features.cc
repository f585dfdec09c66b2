#include "agent/kernel_features.h"

#include <dlfcn.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <climits>
#include <future>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/counter_probe.h"
#include "agent/hook_resolver.h"
#include "agent/privileges.h"
#include "agent/tracefs.h"
#include "glog/logging.h"

namespace tally {

extern "C" __attribute__((noinline, used, visibility("default"))) void
tally_uprobe_probe_target(void) {
  // Keeps the call from being optimised away.
  asm volatile("" ::: "memory");
}

namespace {

constexpr const char* kVmlinuxBtf = "/sys/kernel/btf/vmlinux";

// The file holding tally_uprobe_probe_target: this executable, or the shared
// library it was linked into (as in Bazel's dynamically linked tests).
std::string ProbeTargetFile() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&tally_uprobe_probe_target), &info) != 0 &&
      info.dli_fname != nullptr && info.dli_fname[0] == '/') {
    return info.dli_fname;
  }
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "/proc/self/exe";
  return std::string(buf, n);
}

// A target of `kind` that exists on every kernel and in this binary.
AttachPoint ProbeTarget(AttachKind kind) {
  switch (kind) {
    case AttachKind::kTracepoint:
      return {kind, "sched", "sched_process_exec", ""};
    case AttachKind::kRawTracepoint:
    case AttachKind::kTpBtf:
      return {kind, "", "sched_process_exec", ""};
    case AttachKind::kKprobe:
    case AttachKind::kKretprobe:
      return {kind, "", SyscallFunction("getppid"), ""};
    // Not a syscall wrapper: some kernels' BTF lacks those.
    case AttachKind::kFentry:
    case AttachKind::kFexit:
      return {kind, "", "vfs_read", ""};
    case AttachKind::kUprobe:
    case AttachKind::kUretprobe:
      return {kind, "", "tally_uprobe_probe_target", ProbeTargetFile()};
  }
  return {};
}

absl::string_view Hint(AttachKind kind) {
  switch (kind) {
    case AttachKind::kKprobe:
    case AttachKind::kKretprobe:
      return " (is the kernel built without CONFIG_KPROBES?)";
    case AttachKind::kFentry:
    case AttachKind::kFexit:
      return " (fentry/fexit need BPF trampolines and kernel BTF)";
    case AttachKind::kTpBtf:
      return " (tp_btf needs kernel BTF)";
    default:
      return "";
  }
}

// Either interface libbpf attaches kprobes through.
bool KernelHasKprobes() {
  if (access("/sys/bus/event_source/devices/kprobe", F_OK) == 0) return true;
  absl::StatusOr<std::string> tracefs = EnsureTracefs();
  return tracefs.ok() &&
         access((*tracefs + "/kprobe_events").c_str(), F_OK) == 0;
}

// Loads and attaches a counter of `kind` to a target every kernel has.
absl::Status TryKind(AttachKind kind) {
  AttachPoint target = ProbeTarget(kind);
  CounterOptions options;
  options.tgid = static_cast<uint32_t>(getpid());
  absl::StatusOr<std::unique_ptr<CounterProbe>> probe =
      CounterProbe::Create(target, options);
  if (absl::IsPermissionDenied(probe.status())) return probe.status();
  if (!probe.ok()) {
    if ((kind == AttachKind::kKprobe || kind == AttachKind::kKretprobe) &&
        !KernelHasKprobes()) {
      return absl::FailedPreconditionError(
          "the kernel has no kprobes: no kprobe PMU in "
          "/sys/bus/event_source/devices and no kprobe_events in tracefs "
          "(built without CONFIG_KPROBES)");
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "a test ", target.ToSpec(), " failed: ", probe.status().message(),
        Hint(kind)));
  }
  if (kind == AttachKind::kUprobe || kind == AttachKind::kUretprobe) {
    // The call also keeps the linker from discarding the target. The other
    // uprobe kind may be attached and calling too: at least one.
    tally_uprobe_probe_target();
    absl::StatusOr<CounterSnapshot> snap = (*probe)->Read(0);
    if (!snap.ok() || snap->total < 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "a test ", target.ToSpec(), " attached but did not count"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status KernelFeatures::Check(AttachKind kind) const {
  auto it = kinds.find(kind);
  if (it == kinds.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat(AttachKindName(kind), " was not probed on this kernel"));
  }
  if (it->second.ok() || absl::IsPermissionDenied(it->second)) {
    return it->second;
  }
  std::vector<absl::string_view> working;
  for (AttachKind k : Supported()) working.push_back(AttachKindName(k));
  return absl::FailedPreconditionError(absl::StrCat(
      "this kernel (", release, ") cannot attach ", AttachKindName(kind),
      " probes: ", it->second.message(), "; kinds that work here: ",
      working.empty() ? "none" : absl::StrJoin(working, ", ")));
}

std::vector<AttachKind> KernelFeatures::Supported() const {
  std::vector<AttachKind> out;
  for (const auto& [kind, status] : kinds) {
    if (status.ok()) out.push_back(kind);
  }
  return out;
}

KernelFeatures ProbeKernelFeatures() {
  KernelFeatures f;
  struct utsname u;
  if (uname(&u) == 0) f.release = u.release;
  if (access(kVmlinuxBtf, R_OK) == 0) f.btf_source = kVmlinuxBtf;

  std::string missing = MissingBpfCapabilities(CurrentPrivileges());
  if (!missing.empty()) {
    for (AttachKind kind : kAllAttachKinds) {
      f.kinds[kind] = absl::PermissionDeniedError(absl::StrCat(
          "tallyd lacks ", missing,
          ", needed to load and attach BPF programs: ", kGrantHint));
    }
    return f;
  }
  // Concurrently: each attempt mostly waits in the kernel (a detach waits
  // for RCU grace periods), so nine in a row took ~0.5 s at start-up.
  std::vector<std::future<absl::Status>> attempts;
  for (AttachKind kind : kAllAttachKinds) {
    attempts.push_back(std::async(std::launch::async, TryKind, kind));
  }
  for (size_t i = 0; i < kAllAttachKinds.size(); ++i) {
    f.kinds[kAllAttachKinds[i]] = attempts[i].get();
    VLOG(1) << "kernel feature " << AttachKindName(kAllAttachKinds[i]) << ": "
            << f.kinds[kAllAttachKinds[i]];
  }
  return f;
}

}  // namespace tally
