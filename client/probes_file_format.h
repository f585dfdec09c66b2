// The sentence tallyctl prints under a table (info, status) for a node whose
// probes file is not in effect, so both commands say it alike.
#ifndef TALLY_CLIENT_PROBES_FILE_FORMAT_H_
#define TALLY_CLIENT_PROBES_FILE_FORMAT_H_

#include <string>

namespace tally::cli {

// "probes file not in effect on NODE: ERROR\n" (ERROR is FILE:LINE: what, as
// the agent reports it); "" when `error` is empty.
std::string ProbesFileErrorLine(const std::string& node,
                                const std::string& error);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_PROBES_FILE_FORMAT_H_
