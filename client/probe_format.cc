#include "client/probe_format.h"

#include "absl/strings/str_cat.h"
#include "client/output.h"

namespace tally::cli {

std::vector<std::string> ProbeHeader() {
  return {"NODE", "PROBE", "HOOK", "ATTACHED", "TOTAL", "STATE", "TTL", "NOTE"};
}

std::string StateName(v1::ProbeState state) {
  switch (state) {
    case v1::PROBE_STATE_RUNNING:
      return "running";
    case v1::PROBE_STATE_STOPPED:
      return "stopped";
    case v1::PROBE_STATE_EXPIRED:
      return "expired";
    default:
      return "-";
  }
}

std::vector<std::string> ProbeRow(const std::string& node,
                                  const v1::Probe& probe, absl::Time now) {
  std::string ttl = "-";
  if (probe.has_expires_at() && probe.state() == v1::PROBE_STATE_RUNNING) {
    absl::Time expires = absl::FromUnixSeconds(probe.expires_at().seconds()) +
                         absl::Nanoseconds(probe.expires_at().nanos());
    ttl = HumanDuration(expires - now);
  }
  return {node,
          probe.name(),
          probe.hook(),
          probe.attached(),
          absl::StrCat(probe.total()),
          StateName(probe.state()),
          ttl,
          probe.mechanism_note()};
}

}  // namespace tally::cli
