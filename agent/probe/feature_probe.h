// Finds what this kernel can do by really trying it once at start-up.
#ifndef TALLY_AGENT_PROBE_FEATURE_PROBE_H_
#define TALLY_AGENT_PROBE_FEATURE_PROBE_H_

#include "agent/probe/kernel_features.h"

namespace tally {

// Loads and attaches a counter of every kind to a target that exists on
// every kernel (attach_kinds.h), then detaches it. Takes tens of
// milliseconds; call once.
KernelFeatures ProbeKernelFeatures();

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_FEATURE_PROBE_H_
