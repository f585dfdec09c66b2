// Kernel features are probed once per kernel boot, not once per agent start.
//
// Probing really loads and attaches a counter of every kind (~100 ms); an
// agent restarted by an upgrade, a crash or an OOM kill on the same boot
// would get the same answers. The first start of a boot writes them to a
// file (default /run/tally/kernel-features: tmpfs, gone at reboot); later
// starts use them only if everything the answers depend on is unchanged:
// the boot (boot_id), the kernel release, this very binary (its build ID),
// its capabilities, and the kernel's lockdown and perf_event_paranoid
// settings. Anything else misses and probes again. A cached answer is thus
// the answer start-up probing gave earlier on this boot, by this binary,
// with these privileges; it never claims more than that probe saw.
#ifndef TALLY_AGENT_PROBE_FEATURE_CACHE_H_
#define TALLY_AGENT_PROBE_FEATURE_CACHE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/probe/kernel_features.h"

namespace tally {

// What the answers depend on, each as text.
struct FeatureCacheKey {
  std::string boot_id;
  std::string release;
  std::string build;     // build ID of this binary (else its inode, size, mtime)
  std::string caps;      // effective capabilities (CapEff)
  std::string lockdown;  // /sys/kernel/security/lockdown, "unknown" if unreadable
  std::string perf_event_paranoid;

  bool operator==(const FeatureCacheKey& o) const;
};

FeatureCacheKey CurrentFeatureCacheKey();

// The features stored at `path` for `key`. NOT_FOUND when there are none,
// or they were stored for another key; DATA_LOSS for a damaged file.
absl::StatusOr<KernelFeatures> ReadFeatureCache(const std::string& path,
                                                const FeatureCacheKey& key);

// Stores `features` for `key` (atomically: a reader sees the old file or
// the new one), creating the directory (0700) if needed.
absl::Status WriteFeatureCache(const std::string& path,
                               const FeatureCacheKey& key,
                               const KernelFeatures& features,
                               absl::Time probed_at);

// tallyd's start-up: the cached features when `path` holds them for this
// key, else ProbeKernelFeatures(), stored at `path` for the next start.
// `path` empty: always probe. `source` says which, and when.
KernelFeatures CachedOrProbedKernelFeatures(const std::string& path);

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_FEATURE_CACHE_H_
