// The table columns tallyctl prints for a probe (list, start, stop).
#ifndef TALLY_CLIENT_PROBE_FORMAT_H_
#define TALLY_CLIENT_PROBE_FORMAT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tally/v1/agent.pb.h"

namespace tally::cli {

std::vector<std::string> ProbeHeader();
std::vector<std::string> ProbeRow(const std::string& node,
                                  const v1::Probe& probe, absl::Time now);
std::string StateName(v1::ProbeState state);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_PROBE_FORMAT_H_
