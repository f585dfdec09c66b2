#include "agent/probe/attach_kinds.h"

#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <string>

#include "agent/probe/kernel_symbols.h"

namespace tally {

extern "C" __attribute__((noinline, used, visibility("default"))) void
tally_uprobe_probe_target(void) {
  // Keeps the call from being optimised away.
  asm volatile("" ::: "memory");
}

namespace {

constexpr const char* kTrampolineHint =
    " (fentry/fexit need BPF trampolines and kernel BTF)";
constexpr const char* kKprobeHint =
    " (is the kernel built without CONFIG_KPROBES?)";

// Targets every kernel has: sched_process_exec, vfs_read (not a syscall
// wrapper: some kernels' BTF lacks those), getppid's syscall function; the
// uprobe target is a function of this binary.
constexpr std::array<KernelAttachKind, kAttachKinds.size()> kTable = {{
    {AttachKind::kTracepoint, "handle__tracepoint", AttachMethod::kTracepoint,
     false, "", "sched", "sched_process_exec"},
    {AttachKind::kRawTracepoint, "handle__raw_tp", AttachMethod::kRawTracepoint,
     false, "", "", "sched_process_exec"},
    {AttachKind::kTpBtf, "handle__tp_btf", AttachMethod::kBtfTarget, false,
     " (tp_btf needs kernel BTF)", "", "sched_process_exec"},
    {AttachKind::kKprobe, "handle__kprobe", AttachMethod::kKprobe, false,
     kKprobeHint, "", ""},
    {AttachKind::kKretprobe, "handle__kretprobe", AttachMethod::kKprobe, true,
     kKprobeHint, "", ""},
    {AttachKind::kFentry, "handle__fentry", AttachMethod::kBtfTarget, false,
     kTrampolineHint, "", "vfs_read"},
    {AttachKind::kFexit, "handle__fexit", AttachMethod::kBtfTarget, false,
     kTrampolineHint, "", "vfs_read"},
    {AttachKind::kUprobe, "handle__uprobe", AttachMethod::kUprobe, false, "",
     "", ""},
    {AttachKind::kUretprobe, "handle__uretprobe", AttachMethod::kUprobe, true,
     "", "", ""},
}};

constexpr bool InOrder() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].kind) != i) return false;
  }
  return true;
}
static_assert(InOrder(), "kTable must follow AttachKind");

// The file holding tally_uprobe_probe_target: this executable, or the shared
// library it was linked into (as in Bazel's dynamically linked tests).
std::string SelfFile() {
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

}  // namespace

const KernelAttachKind& KernelInfo(AttachKind kind) {
  return kTable[static_cast<size_t>(kind)];
}

AttachPoint FeatureProbeTarget(AttachKind kind) {
  const KernelAttachKind& k = KernelInfo(kind);
  switch (k.method) {
    case AttachMethod::kKprobe:
      return {kind, "", SyscallFunction("getppid"), ""};
    case AttachMethod::kUprobe:
      return {kind, "", "tally_uprobe_probe_target", SelfFile()};
    default:
      return {kind, k.probe_category, k.probe_target, ""};
  }
}

bpf_program* ProgramFor(bpf_object* obj, AttachKind kind) {
  return bpf_object__find_program_by_name(obj, KernelInfo(kind).program);
}

bpf_link* AttachProgram(bpf_program* prog, const AttachPoint& point,
                        pid_t pid) {
  const KernelAttachKind& k = KernelInfo(point.kind);
  switch (k.method) {
    case AttachMethod::kTracepoint:
      return bpf_program__attach_tracepoint(prog, point.category.c_str(),
                                            point.target.c_str());
    case AttachMethod::kRawTracepoint:
      return bpf_program__attach_raw_tracepoint(prog, point.target.c_str());
    case AttachMethod::kBtfTarget:
      return bpf_program__attach(prog);
    case AttachMethod::kKprobe:
      return bpf_program__attach_kprobe(prog, k.retprobe, point.target.c_str());
    case AttachMethod::kUprobe: {
      LIBBPF_OPTS(bpf_uprobe_opts, opts);
      opts.func_name = point.target.c_str();
      opts.retprobe = k.retprobe;
      return bpf_program__attach_uprobe_opts(prog, pid, point.binary.c_str(), 0,
                                             &opts);
    }
  }
  errno = EINVAL;
  return nullptr;
}

}  // namespace tally
