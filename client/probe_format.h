// The table columns tallyctl prints for a probe (list, start, stop).
#ifndef TALLY_CLIENT_PROBE_FORMAT_H_
#define TALLY_CLIENT_PROBE_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tally/v1/agent.pb.h"

namespace tally::cli {

std::vector<std::string> ProbeHeader();
std::vector<std::string> ProbeRow(const std::string& node,
                                  const v1::Probe& probe, absl::Time now);
std::string StateName(v1::ProbeState state);

// list's cost columns: the counting program's ns per run (while the
// kernel's BPF statistics were on), events per second since the probe
// started (its uncounted windows left out), and its maps' memory; "-"
// where the agent gave no figure.
std::vector<std::string> CostHeader();
std::vector<std::string> CostCells(const v1::Probe& probe, absl::Time now);
// 1536 -> "1.5 KiB".
std::string HumanBytes(uint64_t bytes);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_PROBE_FORMAT_H_
