#include "agent/probe/kernel_counter_opener.h"

#include <memory>
#include <utility>

#include "agent/probe/bpf_counter.h"
#include "agent/probe/hook_resolver.h"
#include "agent/probe/kernel_symbols.h"
#include "common/status_macros.h"

namespace tally {

CounterOpener KernelCounterOpener(const KernelFeatures* features,
                                  MapReadOptions read_options) {
  return [features, read_options](
             const HookSpec& hook,
             const CounterOptions& options) -> absl::StatusOr<OpenedCounter> {
    std::unique_ptr<KernelSymbols> symbols = NewKernelSymbols();
    ASSIGN_OR_RETURN(ResolvedHook resolved,
                     ResolveHook(hook, *features, *symbols));
    ASSIGN_OR_RETURN(std::unique_ptr<BpfCounter> probe,
                     BpfCounter::Create(resolved.point, options, read_options));
    return OpenedCounter{std::move(probe), resolved.point, resolved.note};
  };
}

}  // namespace tally
