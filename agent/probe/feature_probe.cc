#include "agent/probe/feature_probe.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <future>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/probe/attach_kinds.h"
#include "agent/probe/bpf_counter.h"
#include "agent/probe/privileges.h"
#include "agent/probe/tracefs.h"
#include "common/pid_namespace.h"
#include "glog/logging.h"

namespace tally {

namespace {

constexpr const char* kVmlinuxBtf = "/sys/kernel/btf/vmlinux";

// Either interface libbpf attaches kprobes through.
bool KernelHasKprobes() {
  if (access("/sys/bus/event_source/devices/kprobe", F_OK) == 0) return true;
  absl::StatusOr<std::string> tracefs = EnsureTracefs();
  return tracefs.ok() &&
         access((*tracefs + "/kprobe_events").c_str(), F_OK) == 0;
}

// Loads and attaches a counter of `kind` to a target every kernel has. The
// attached test counter goes to *keep: detaching waits for RCU grace
// periods (tens of ms, over 200 ms for uprobes), which the answer does not.
absl::Status TryKind(AttachKind kind, std::unique_ptr<BpfCounter>* keep) {
  AttachPoint target = FeatureProbeTarget(kind);
  CounterOptions options;
  // Only this process's events; getpid() is a host pid, as the filter
  // needs, only in the host's PID namespace. Elsewhere count everyone's:
  // only this process calls the uprobe target.
  if (InInitialPidNamespace()) options.tgid = static_cast<uint32_t>(getpid());
  absl::StatusOr<std::unique_ptr<BpfCounter>> probe =
      BpfCounter::Create(target, options);
  if (probe.ok()) *keep = std::move(*probe);
  if (absl::IsPermissionDenied(probe.status())) return probe.status();
  if (!probe.ok()) {
    if (KernelInfo(kind).method == AttachMethod::kKprobe &&
        !KernelHasKprobes()) {
      return absl::FailedPreconditionError(
          "the kernel has no kprobes: no kprobe PMU in "
          "/sys/bus/event_source/devices and no kprobe_events in tracefs "
          "(built without CONFIG_KPROBES)");
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "a test ", target.ToSpec(), " failed: ", probe.status().message(),
        KernelInfo(kind).missing_hint));
  }
  if (KernelInfo(kind).method == AttachMethod::kUprobe) {
    // The call also keeps the linker from discarding the target. The other
    // uprobe kind may be attached and calling too: at least one.
    tally_uprobe_probe_target();
    absl::StatusOr<CounterSnapshot> snap = (*keep)->Read(0);
    if (!snap.ok() || snap->total < 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "a test ", target.ToSpec(), " attached but did not count"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

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
  // Concurrently: each attempt mostly waits in the kernel (loads parse BTF),
  // so nine in a row took ~0.5 s at start-up.
  std::vector<std::unique_ptr<BpfCounter>> test_counters(kAllAttachKinds.size());
  std::vector<std::future<absl::Status>> attempts;
  for (size_t i = 0; i < kAllAttachKinds.size(); ++i) {
    attempts.push_back(std::async(std::launch::async, TryKind,
                                  kAllAttachKinds[i], &test_counters[i]));
  }
  for (size_t i = 0; i < kAllAttachKinds.size(); ++i) {
    f.kinds[kAllAttachKinds[i]] = attempts[i].get();
    VLOG(1) << "kernel feature " << AttachKindName(kAllAttachKinds[i]) << ": "
            << f.kinds[kAllAttachKinds[i]];
  }
  // Detached off the caller's path (they count only this process's
  // sched_process_exec and probe-target calls meanwhile: nothing).
  std::thread([counters = std::move(test_counters)]() mutable {
    counters.clear();
  }).detach();
  return f;
}

}  // namespace tally
