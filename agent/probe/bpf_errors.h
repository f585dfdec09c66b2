// What a failed load or attach means for the user: libbpf's and the
// kernel's errnos as the statuses the API promises.
#ifndef TALLY_AGENT_PROBE_BPF_ERRORS_H_
#define TALLY_AGENT_PROBE_BPF_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "common/hook_spec.h"

namespace tally {

// The end of a verifier log, from a line boundary: the reason is last.
std::string LogTail(const std::string& log);

// PERMISSION_DENIED naming the capability; RESOURCE_EXHAUSTED for ENOMEM and
// E2BIG; FAILED_PRECONDITION with the verifier log's tail for a rejection.
absl::Status LoadError(const AttachPoint& point, int err,
                       const std::string& log);

// NOT_FOUND for a missing event, function, binary or symbol;
// PERMISSION_DENIED naming the capability; RESOURCE_EXHAUSTED when an event
// has the kernel's 64 programs already.
absl::Status AttachError(const AttachPoint& point, int err);

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_BPF_ERRORS_H_
