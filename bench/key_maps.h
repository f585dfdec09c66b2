// Fills the key maps of a running tallyd from the benchmark (found through
// /proc/PID/fdinfo), with ids no task has: the maps hold exactly the keys a
// row says, the reader cannot tell them from counted ones, and no reclaimer
// ever removes them.
#ifndef TALLY_BENCH_KEY_MAPS_H_
#define TALLY_BENCH_KEY_MAPS_H_

#include <sys/types.h>

#include <cstdint>

namespace tally::bench {

// Writes `n` keys into every key map of `pid`; returns how many maps.
int FillKeyMaps(pid_t pid, uint64_t n);

}  // namespace tally::bench

#endif  // TALLY_BENCH_KEY_MAPS_H_
