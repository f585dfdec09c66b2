// What this kernel can do, as found by feature_probe.h: the answer the
// daemon reports in GetInfo and checks requests against.
#ifndef TALLY_AGENT_PROBE_KERNEL_FEATURES_H_
#define TALLY_AGENT_PROBE_KERNEL_FEATURES_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/attach_kind.h"

namespace tally {

struct KernelFeatures {
  std::string release;     // uname -r
  std::string btf_source;  // where kernel BTF comes from; empty if none
  // One entry per attach kind: OK when attaching works here, else why not.
  std::map<AttachKind, absl::Status> kinds;
  // Where these answers come from: probed now, or a cache of this kernel
  // boot's first probe (feature_cache.h). Shown in GetInfo and the log.
  std::string source;

  // OK, or the status a request for `kind` should get: PERMISSION_DENIED
  // when privilege is missing, else FAILED_PRECONDITION saying why and which
  // kinds do work here.
  absl::Status Check(AttachKind kind) const;
  std::vector<AttachKind> Supported() const;
};

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_KERNEL_FEATURES_H_
