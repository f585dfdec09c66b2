// The real CounterOpener: resolve the hook against this kernel, then load and
// attach the CO-RE counter.
#ifndef TALLY_AGENT_KERNEL_COUNTER_OPENER_H_
#define TALLY_AGENT_KERNEL_COUNTER_OPENER_H_

#include "agent/kernel_features.h"
#include "agent/probe_counter.h"

namespace tally {

// `features` must outlive the opener.
CounterOpener KernelCounterOpener(const KernelFeatures* features);

}  // namespace tally

#endif  // TALLY_AGENT_KERNEL_COUNTER_OPENER_H_
