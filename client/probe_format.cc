#include "client/probe_format.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
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
    case v1::PROBE_STATE_FAILED:
      return "failed";
    case v1::PROBE_STATE_SKIPPED:
      return "skipped";
    default:
      return "-";
  }
}

std::string ReasonHeader() { return "REASON"; }

std::string ReasonCell(const v1::Probe& probe) {
  std::vector<absl::string_view> lines =
      absl::StrSplit(probe.error(), '\n', absl::SkipWhitespace());
  if (lines.empty()) return "-";
  std::string reason = absl::StrJoin(lines, " / ");
  if (reason.size() <= kReasonCellChars) return reason;
  size_t cut = kReasonCellChars;
  // Never split a UTF-8 character (messages quote user input).
  while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  reason.resize(cut);
  return reason + "...";
}

std::vector<std::string> CostHeader() {
  return {"NS/EVENT", "EVENTS/S", "MEMORY"};
}

namespace {

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

absl::Duration DurationOf(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

}  // namespace

std::string HumanBytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1023.95 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

std::vector<std::string> CostCells(const v1::Probe& probe, absl::Time now) {
  std::string ns = "-", rate = "-", memory = "-";
  if (probe.has_cost()) {
    const v1::ProbeCost& cost = probe.cost();
    if (cost.run_count() > 0) {
      ns = absl::StrFormat(
          "%.1f", absl::ToDoubleNanoseconds(DurationOf(cost.run_time())) /
                      static_cast<double>(cost.run_count()));
    }
    memory = HumanBytes(cost.map_bytes());
  }
  if (probe.state() == v1::PROBE_STATE_RUNNING && probe.has_started_at()) {
    absl::Duration counted = now - TimeOf(probe.started_at());
    for (const v1::UncountedWindow& w : probe.uncounted()) {
      counted -= TimeOf(w.to()) - TimeOf(w.from());
    }
    if (counted > absl::ZeroDuration()) {
      rate = HumanCount(static_cast<double>(probe.total()) /
                        absl::ToDoubleSeconds(counted));
    }
  }
  return {ns, rate, memory};
}

std::vector<std::string> ProbeRow(const std::string& node,
                                  const v1::Probe& probe, absl::Time now) {
  std::string ttl = "-";
  if (probe.has_expires_at() && probe.state() == v1::PROBE_STATE_RUNNING) {
    absl::Time expires = absl::FromUnixSeconds(probe.expires_at().seconds()) +
                         absl::Nanoseconds(probe.expires_at().nanos());
    ttl = HumanDuration(expires - now);
  }
  // Empty when nothing attached (a declared probe that never started).
  const std::string attached =
      probe.attached().empty() ? "-" : probe.attached();
  return {node,
          probe.name(),
          probe.hook(),
          attached,
          absl::StrCat(probe.total()),
          StateName(probe.state()),
          ttl,
          probe.mechanism_note()};
}

}  // namespace tally::cli
