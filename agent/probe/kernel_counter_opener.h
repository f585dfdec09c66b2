// The real CounterOpener: resolve the hook against this kernel, then load and
// attach the CO-RE counter.
#ifndef TALLY_AGENT_PROBE_KERNEL_COUNTER_OPENER_H_
#define TALLY_AGENT_PROBE_KERNEL_COUNTER_OPENER_H_

#include "agent/probe/counter.h"
#include "agent/probe/kernel_features.h"
#include "agent/probe/map_reader.h"

namespace tally {

// `features` must outlive the opener. `read_options` choose how the
// counters' maps are read (map_reader.h).
CounterOpener KernelCounterOpener(const KernelFeatures* features,
                                  MapReadOptions read_options = {});

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_KERNEL_COUNTER_OPENER_H_
