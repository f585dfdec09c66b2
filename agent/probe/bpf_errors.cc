#include "agent/probe/bpf_errors.h"

#include <bpf/libbpf.h>
#include <errno.h>

#include "absl/strings/str_cat.h"
#include "agent/probe/attach_kinds.h"
#include "agent/probe/privileges.h"

namespace tally {
namespace {

constexpr size_t kVerifierTailSize = 1500;

}  // namespace

// The end of the verifier log, starting at a line boundary: the rejection
// reason is on the last lines.
std::string LogTail(const std::string& log) {
  std::string text(log.c_str());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  if (text.size() <= kVerifierTailSize) return text;
  size_t start = text.find('\n', text.size() - kVerifierTailSize);
  return start == std::string::npos
             ? text.substr(text.size() - kVerifierTailSize)
             : text.substr(start + 1);
}

absl::Status LoadError(const AttachPoint& point, int err,
                       const std::string& log) {
  std::string what = absl::StrCat("loading the counter for ", point.ToSpec());
  if (err == EPERM) return DeniedStatus(what, err);
  std::string tail = LogTail(log);
  if (err == ENOMEM || err == E2BIG) {
    // Map memory (a large --max-keys, the memory cgroup) or a program the
    // verifier found too complex: a limit, not a broken request.
    return absl::ResourceExhaustedError(absl::StrCat(
        what, ": the kernel ran out of room (", ErrnoName(err),
        "); try a smaller max_keys or fewer probes",
        tail.empty() ? "" : absl::StrCat("; verifier log tail:\n", tail)));
  }
  if (!tail.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": the verifier rejected it (", ErrnoName(err),
                     "); verifier log tail:\n", tail));
  }
  if (err == EACCES) return DeniedStatus(what, err);
  return absl::FailedPreconditionError(
      absl::StrCat(what, " failed: ", ErrnoName(err)));
}

absl::Status AttachError(const AttachPoint& point, int err) {
  std::string spec = point.ToSpec();
  if (err == EPERM || err == EACCES) {
    if (KernelInfo(point.kind).method == AttachMethod::kUprobe) {
      return UprobeDeniedStatus(absl::StrCat("attaching ", spec), err);
    }
    return DeniedStatus(absl::StrCat("attaching ", spec), err);
  }
  if (err == ENOENT || err == ESRCH) {
    switch (Info(point.kind).form) {
      case TargetForm::kCategoryAndName:
        return absl::NotFoundError(
            absl::StrCat("tracepoint ", point.category, ":", point.target,
                         " does not exist on this kernel"));
      case TargetForm::kName:
        if (Info(point.kind).target == TargetClass::kTracepoint) {
          return absl::NotFoundError(
              absl::StrCat("no tracepoint named ", point.target,
                           " on this kernel (", spec, ")"));
        }
        return absl::NotFoundError(
            absl::StrCat("kernel function ", point.target,
                         " was not found or cannot be probed (", spec, ": ",
                         ErrnoName(err), ")"));
      case TargetForm::kBinaryAndSymbol:
        return absl::NotFoundError(absl::StrCat(
            "symbol ", point.target, " was not found in ", point.binary));
    }
  }
  if (err == E2BIG) {
    // perf_event_attach_bpf_prog: at most BPF_TRACE_MAX_PROGS (64) programs
    // share one tracepoint, kprobe or uprobe event.
    return absl::ResourceExhaustedError(absl::StrCat(
        "attaching ", spec,
        ": the kernel allows at most 64 BPF programs on "
        "one event and this one has them all (other tally probes or tools); "
        "stop some, or use a raw tracepoint or tp_btf hook, which has no such "
        "limit"));
  }
  if (err == LIBBPF_ERRNO__FORMAT &&
      KernelInfo(point.kind).method == AttachMethod::kUprobe) {
    return absl::InvalidArgumentError(
        absl::StrCat(point.binary,
                     " is not an ELF binary with a symbol table (", spec, ")"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("attaching ", spec, " failed: ", ErrnoName(err)));
}

}  // namespace tally
