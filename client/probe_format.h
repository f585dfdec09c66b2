// The table columns tallyctl prints for a probe (list, start, stop).
#ifndef TALLY_CLIENT_PROBE_FORMAT_H_
#define TALLY_CLIENT_PROBE_FORMAT_H_

#include <cstddef>
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

// list's last column: why a probe does not run (Probe.error: failed,
// skipped, or a declared probe's TTL passed), on one line and cut to
// kReasonCellChars so a verifier log tail keeps the table readable (--output
// json has all of it); "-" when there is none.
inline constexpr size_t kReasonCellChars = 160;
std::string ReasonHeader();
std::string ReasonCell(const v1::Probe& probe);

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
