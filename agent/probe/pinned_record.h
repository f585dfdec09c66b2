// A ProbeRecord as kept in a probe's pin directory (PinnedProbe, in
// proto/tally/internal), with what a later agent needs to read it safely:
// the map layout and the BPF object it came from.
#ifndef TALLY_AGENT_PROBE_PINNED_RECORD_H_
#define TALLY_AGENT_PROBE_PINNED_RECORD_H_

#include <string>

#include "absl/status/statusor.h"
#include "agent/probe/counter.h"

namespace tally {

struct PinnedRecord {
  ProbeRecord record;
  uint32_t layout_version = 0;  // TALLY_MAP_LAYOUT_VERSION of its maps
  std::string object_id;        // the BPF object that made them
  bool links_pinned = false;
  bool ended = false;  // the record of an expired probe, alone
};

std::string SerializePinned(const PinnedRecord& pinned);
// INVALID_ARGUMENT for bytes that are not a record, or a record whose spec
// does not parse.
absl::StatusOr<PinnedRecord> ParsePinned(const std::string& bytes);

// This build's BPF object, for PinnedRecord::object_id.
const std::string& CounterObjectId();

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_PINNED_RECORD_H_
