// A minimal BTF of the running kernel for the counter's CO-RE relocations.
//
// libbpf otherwise parses the whole vmlinux BTF (megabytes, ~22 ms here) on
// every load just to relocate the few fields the counter reads.
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

// Whether the kernel at `vmlinux_btf_path` (empty: the running one) has the
// bpf_get_current_task_btf helper (5.11+).
bool KernelHasCurrentTaskBtf(const std::string& vmlinux_btf_path);

// What the counter's loads need from the running kernel's BTF, built once
// on first use.
struct CoreBtf {
  // A memfd under /proc/self/fd holding the minimal BTF; empty when building
  // it failed, and then libbpf uses the full vmlinux BTF as usual.
  std::string path;
  // bpf_get_current_task_btf exists: the counter reads names with plain
  // loads (counter.bpf.c, rodata task_btf).
  bool current_task_btf = false;
};
const CoreBtf& KernelCoreBtf();

// KernelCoreBtf().path.
const std::string& CoreBtfPath();

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_CORE_BTF_H_
