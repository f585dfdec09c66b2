#ifndef TALLY_AGENT_DAEMON_VERSION_H_
#define TALLY_AGENT_DAEMON_VERSION_H_

namespace tally {

inline constexpr char kAgentVersion[] = "0.1.0";

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_VERSION_H_
