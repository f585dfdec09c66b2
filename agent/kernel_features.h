// What this kernel can do, found by really trying it once at start-up.
#ifndef TALLY_AGENT_KERNEL_FEATURES_H_
#define TALLY_AGENT_KERNEL_FEATURES_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/attach_kind.h"

namespace tally {

struct KernelFeatures {
  std::string release;     // uname -r
  std::string btf_source;  // where kernel BTF comes from; empty if none
  // One entry per attach kind: OK when attaching works here, else why not.
  std::map<AttachKind, absl::Status> kinds;

  // OK, or the status a request for `kind` should get: PERMISSION_DENIED
  // when privilege is missing, else FAILED_PRECONDITION saying why and which
  // kinds do work here.
  absl::Status Check(AttachKind kind) const;
  std::vector<AttachKind> Supported() const;
};

// Loads and attaches a counter of every kind to a target that exists on
// every kernel, then detaches it. Takes tens of milliseconds; call once.
KernelFeatures ProbeKernelFeatures();

// A function in this binary for the uprobe probe; exported so it is found
// even in a stripped binary's dynamic symbol table.
extern "C" void tally_uprobe_probe_target(void);

}  // namespace tally

#endif  // TALLY_AGENT_KERNEL_FEATURES_H_
