// One attached instance of the CO-RE counter.
//
// Lifecycle (libbpf-bootstrap's): open a fresh skeleton, enable exactly the
// program for the attach kind, set the attach target, the read-only filters
// and the key-map bound, load, attach. After attaching, the probe keeps only
// what it needs: the link (detaches on destruction) and fds of the two maps.
// Both can be pinned under /sys/fs/bpf and re-opened, which is how a restarted
// agent could adopt a probe.
#ifndef TALLY_AGENT_COUNTER_PROBE_H_
#define TALLY_AGENT_COUNTER_PROBE_H_

#include <bpf/libbpf.h>

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "agent/counter_reader.h"
#include "agent/hook_spec.h"
#include "agent/probe_counter.h"

namespace tally {

struct CounterOptions {
  GroupBy group_by = GroupBy::kNone;
  uint32_t tgid = 0;       // count only this process; 0 = all
  uint64_t cgroup_id = 0;  // count only this cgroup (v2 id); 0 = all
  uint32_t max_keys = 10240;  // bound of the per-key map when grouping
};

struct LinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using OwnedLink = std::unique_ptr<bpf_link, LinkDeleter>;

class CounterProbe : public ProbeCounter {
 public:
  // Attaches to `point` as given: no feature checks (see hook_resolver.h).
  // NOT_FOUND for a missing event, function, binary or symbol;
  // FAILED_PRECONDITION with the verifier log's tail when the verifier
  // rejects the program; PERMISSION_DENIED naming a missing capability.
  static absl::StatusOr<std::unique_ptr<CounterProbe>> Create(
      const AttachPoint& point, const CounterOptions& options);

  CounterProbe(const CounterProbe&) = delete;
  CounterProbe& operator=(const CounterProbe&) = delete;

  const AttachPoint& point() const { return point_; }
  const CounterOptions& options() const { return options_; }
  absl::StatusOr<CounterSnapshot> Read(size_t top_n) const override {
    return reader_.Read(top_n);
  }
  void Detach() override { link_.reset(); }
  bpf_link* link() const { return link_.get(); }
  const CounterReader& reader() const { return reader_; }

 private:
  CounterProbe(AttachPoint point, CounterOptions options, OwnedLink link,
               CounterReader reader);

  AttachPoint point_;
  CounterOptions options_;
  OwnedLink link_;
  CounterReader reader_;
};

}  // namespace tally

#endif  // TALLY_AGENT_COUNTER_PROBE_H_
