// The N highest-counted keys of a scan, in a bounded heap: a scan of any
// size keeps N candidates and formats only those as strings.
#ifndef TALLY_AGENT_PROBE_TOP_KEYS_H_
#define TALLY_AGENT_PROBE_TOP_KEYS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "agent/probe/counter.h"
#include "common/group_by.h"

namespace tally {

class TopKeys {
 public:
  TopKeys(size_t n, GroupBy group_by);

  // `key` is a `keys` map key of group_by's size (map_layout.h).
  void Offer(const uint8_t* key, uint64_t count);

  // Highest count first; equal counts by key (ids numerically, names
  // bytewise). Leaves this empty.
  std::vector<KeyCount> Take();

 private:
  struct Candidate {
    uint64_t count;
    uint64_t id;                  // numeric groupings
    std::array<char, 16> name;    // comm
  };
  static bool Better(const Candidate& a, const Candidate& b);

  size_t n_;
  bool comm_;
  std::vector<Candidate> heap_;  // front: the worst kept
};

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_TOP_KEYS_H_
