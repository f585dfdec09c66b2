// Routes libbpf's own messages into glog, once per process.
#ifndef TALLY_AGENT_PROBE_LIBBPF_LOGGING_H_
#define TALLY_AGENT_PROBE_LIBBPF_LOGGING_H_

namespace tally {

// Every libbpf failure also reaches the caller as an absl::Status (with the
// verifier log's tail), so libbpf's warnings go to VLOG(1) and its debug
// output to VLOG(2): run with -v=1 or -v=2 to see them.
void InstallLibbpfLogging();

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_LIBBPF_LOGGING_H_
