// One attached instance of the CO-RE counter: the real Counter.
//
// Lifecycle (libbpf-bootstrap's): open a fresh skeleton, enable exactly the
// program for the attach kind, set the attach target, the read-only filters
// and the key maps' bounds and key size, load, attach. Groupings whose keys
// can end (pid, tgid, cgroup) also get a reclaimer (counter.bpf.c). After
// attaching, the probe keeps only what it needs: the links (detach on
// destruction) and fds of the three maps. Both can be pinned under
// /sys/fs/bpf and re-opened, which is how a restarted agent could adopt a
// probe.
#ifndef TALLY_AGENT_PROBE_BPF_COUNTER_H_
#define TALLY_AGENT_PROBE_BPF_COUNTER_H_

#include <bpf/libbpf.h>

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "agent/probe/counter.h"
#include "agent/probe/map_reader.h"
#include "common/hook_spec.h"

namespace tally {

struct LinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using OwnedLink = std::unique_ptr<bpf_link, LinkDeleter>;

class BpfCounter : public Counter {
 public:
  // Attaches to `point` as given: no feature checks (see hook_resolver.h).
  // NOT_FOUND for a missing event, function, binary or symbol;
  // FAILED_PRECONDITION with the verifier log's tail when the verifier
  // rejects the program; PERMISSION_DENIED naming a missing capability.
  static absl::StatusOr<std::unique_ptr<BpfCounter>> Create(
      const AttachPoint& point, const CounterOptions& options,
      const MapReadOptions& read_options = {});

  BpfCounter(const BpfCounter&) = delete;
  BpfCounter& operator=(const BpfCounter&) = delete;

  const AttachPoint& point() const { return point_; }
  const CounterOptions& options() const { return options_; }
  absl::StatusOr<CounterSnapshot> Read(size_t top_n) const override {
    return reader_->Read(top_n);
  }
  void Detach() override {
    link_.reset();
    reclaimer_link_.reset();
  }
  bpf_link* link() const { return link_.get(); }
  // The reclaimer's link; null for groupings whose keys never end.
  bpf_link* reclaimer_link() const { return reclaimer_link_.get(); }
  const MapReader& reader() const { return *reader_; }

 private:
  BpfCounter(AttachPoint point, CounterOptions options, OwnedLink link,
             OwnedLink reclaimer_link, std::unique_ptr<MapReader> reader);

  AttachPoint point_;
  CounterOptions options_;
  OwnedLink link_;
  OwnedLink reclaimer_link_;
  std::unique_ptr<MapReader> reader_;
};

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_BPF_COUNTER_H_
