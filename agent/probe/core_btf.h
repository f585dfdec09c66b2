// A minimal BTF of the running kernel for the counter's CO-RE relocations.
//
// libbpf otherwise parses the whole vmlinux BTF (megabytes, ~22 ms here) on
// every load just to relocate the two task_struct fields the counter reads.
// Built once from the real BTF, the minimal copy (what `bpftool gen
// min_core_btf` would write) makes a load take about 1 ms; libbpf still
// reads the full BTF where it needs it for attaching (tp_btf, fentry, fexit).
#ifndef TALLY_AGENT_PROBE_CORE_BTF_H_
#define TALLY_AGENT_PROBE_CORE_BTF_H_

#include <string>

#include "absl/status/statusor.h"

namespace tally {

// The minimal BTF as raw bytes, built from `vmlinux_btf_path` (empty: the
// running kernel's). NOT_FOUND when a field the counter reads is missing.
absl::StatusOr<std::string> BuildCoreBtf(const std::string& vmlinux_btf_path);

// A path (a memfd under /proc/self/fd) holding the running kernel's minimal
// BTF, built on first use; empty when that failed, and then libbpf uses the
// full vmlinux BTF as usual.
const std::string& CoreBtfPath();

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_CORE_BTF_H_
