// tallyctl status: where each probe runs across the fleet, and where and
// why it does not (skipped, failed, expired, missing), from every agent's
// GetInfo and ListProbes.
#ifndef TALLY_CLIENT_STATUS_ROLLUP_H_
#define TALLY_CLIENT_STATUS_ROLLUP_H_

#include <string>
#include <vector>

#include "tally/v1/agent.pb.h"
#include "tally/v1/cli_output.pb.h"

namespace tally::cli {

// What one agent answered; `error` set when it did not.
struct NodeReport {
  std::string agent;
  std::string node;
  std::string error;
  v1::GetInfoResponse info;
  v1::ListProbesResponse probes;
};

// StatusLines: one PROBE line per probe name (sorted), then FILE_ERROR and
// UNREACHABLE lines, in the agents' order.
std::vector<v1::StatusLine> RollUp(const std::vector<NodeReport>& reports);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_STATUS_ROLLUP_H_
