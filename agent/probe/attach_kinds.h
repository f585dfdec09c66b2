// The kernel side of each attach kind, described once: which program of the
// counter serves it, how it attaches, and what target feature probing tries
// it on. Names and spec syntax are in common/attach_kind.h.
#ifndef TALLY_AGENT_PROBE_ATTACH_KINDS_H_
#define TALLY_AGENT_PROBE_ATTACH_KINDS_H_

#include <bpf/libbpf.h>
#include <sys/types.h>

#include "absl/strings/string_view.h"
#include "common/attach_kind.h"
#include "common/hook_spec.h"

namespace tally {

enum class AttachMethod {
  kTracepoint,     // perf event on a tracefs event (category, name)
  kRawTracepoint,  // bpf_raw_tracepoint_open
  kBtfTarget,      // target set by BTF id before load; attach by program
  kKprobe,         // perf event on a kprobe PMU
  kUprobe,         // perf event on a uprobe PMU (binary, symbol)
};

struct KernelAttachKind {
  AttachKind kind;
  // The program in bpf/counter.bpf.c (and bench/'s empty object) for it.
  const char* program;
  AttachMethod method;
  bool retprobe;  // kretprobe, uretprobe
  // Appended when feature probing finds the kind unusable.
  absl::string_view missing_hint;
  // Feature probing's target: the tracepoint category (or empty) and the
  // event or function. Empty target: computed (FeatureProbeTarget).
  const char* probe_category;
  const char* probe_target;
};

const KernelAttachKind& KernelInfo(AttachKind kind);

// A target of `kind` that exists on every kernel (and, for uprobes, in this
// binary: tally_uprobe_probe_target), which feature probing attaches to.
AttachPoint FeatureProbeTarget(AttachKind kind);

// The uprobe feature probe's target; exported so it is found even in a
// stripped binary's dynamic symbol table.
extern "C" void tally_uprobe_probe_target(void);

// The program for `kind` in `obj` (the counter or an object with the same
// program names), or null.
bpf_program* ProgramFor(bpf_object* obj, AttachKind kind);

// Attaches `prog` (loaded, of `point.kind`) to `point`; `pid` limits a
// uprobe to one process (-1: all). Null with errno set on failure, as libbpf.
bpf_link* AttachProgram(bpf_program* prog, const AttachPoint& point, pid_t pid);

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_ATTACH_KINDS_H_
