// One attached instance of the CO-RE counter: the real Counter.
//
// Lifecycle (libbpf-bootstrap's): open a fresh skeleton, enable exactly the
// program for the attach kind, set the attach target, the read-only filters
// and the key maps' bounds and key size, load, attach. Groupings whose keys
// can end (pid, tgid, cgroup) also get a reclaimer (counter.bpf.c). After
// attaching, the probe keeps only what it needs: the links and fds of the
// three maps. Pinned (CounterPins), maps and links outlive the agent, and a
// restarted agent re-opens them (Adopt) or attaches a fresh program to the
// pinned maps where the kernel could not pin the link.
#ifndef TALLY_AGENT_PROBE_BPF_COUNTER_H_
#define TALLY_AGENT_PROBE_BPF_COUNTER_H_

#include <bpf/libbpf.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/probe/counter.h"
#include "agent/probe/map_reader.h"
#include "common/hook_spec.h"
#include "common/scoped_fd.h"

namespace tally {

struct LinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using OwnedLink = std::unique_ptr<bpf_link, LinkDeleter>;

// A link this process holds: made here, or re-opened from its pin. Closing
// it detaches the program unless a pin keeps the link.
class HeldLink {
 public:
  HeldLink() = default;
  explicit HeldLink(OwnedLink link) : link_(std::move(link)) {}
  explicit HeldLink(ScopedFd fd) : fd_(std::move(fd)) {}
  bool held() const { return link_ != nullptr || fd_.valid(); }
  int fd() const { return link_ ? bpf_link__fd(link_.get()) : fd_.get(); }
  void Reset() {
    link_.reset();
    fd_.reset();
  }

 private:
  OwnedLink link_;
  ScopedFd fd_;
};

// Where a counter is pinned (one bpffs directory per probe, see
// pin_root.h): its maps by their names in counter.bpf.c, its links as
// "link" and "reclaimer" where the kernel can pin them.
struct CounterPins {
  std::string dir;  // empty: not pinned
  // Attach a fresh program to the maps already pinned in `dir` (an agent
  // restarted where the kernel could not pin the link) instead of making
  // new ones.
  bool reuse_maps = false;
};

class BpfCounter : public Counter {
 public:
  // Attaches to `point` as given: no feature checks (see hook_resolver.h).
  // NOT_FOUND for a missing event, function, binary or symbol;
  // FAILED_PRECONDITION with the verifier log's tail when the verifier
  // rejects the program; PERMISSION_DENIED naming a missing capability.
  // With `pins.dir` the maps and links are pinned there (links where this
  // kernel can pin them: see links_pinned()).
  static absl::StatusOr<std::unique_ptr<BpfCounter>> Create(
      const AttachPoint& point, const CounterOptions& options,
      const MapReadOptions& read_options = {}, const CounterPins& pins = {});

  // Re-opens a counter pinned in `dir` whose link is pinned too: it never
  // stopped counting. NOT_FOUND when the link is not pinned (attach afresh
  // with CounterPins::reuse_maps); FAILED_PRECONDITION when the maps are
  // not of this build's layout.
  static absl::StatusOr<std::unique_ptr<BpfCounter>> Adopt(
      const std::string& dir, const AttachPoint& point,
      const CounterOptions& options, const MapReadOptions& read_options = {});

  BpfCounter(const BpfCounter&) = delete;
  BpfCounter& operator=(const BpfCounter&) = delete;

  const AttachPoint& point() const { return point_; }
  const CounterOptions& options() const { return options_; }
  absl::StatusOr<CounterSnapshot> Read(size_t top_n) const override {
    return reader_->Read(top_n);
  }
  // Stops counting now: unpins the links (if pinned) and closes them.
  void Detach() override;
  // The programs' run statistics (kept through fds of the programs, also
  // pinned, so a re-adopted probe has them without CAP_SYS_ADMIN) and the
  // maps' memory, measured once: their sizes are fixed at creation.
  absl::StatusOr<CounterCost> Cost() const override;
  // The counting link's fd, and the reclaimer's (-1 for groupings whose keys
  // never end).
  int link_fd() const { return link_.fd(); }
  int reclaimer_link_fd() const {
    return reclaimer_link_.held() ? reclaimer_link_.fd() : -1;
  }
  // Whether the counting link is pinned, so it outlives this agent.
  bool links_pinned() const { return links_pinned_; }
  // The pins were moved (a probe directory renamed into place).
  void SetPinDir(std::string dir) { pins_dir_ = std::move(dir); }
  const MapReader& reader() const { return *reader_; }

 private:
  BpfCounter(AttachPoint point, CounterOptions options, HeldLink link,
             HeldLink reclaimer_link, std::unique_ptr<MapReader> reader);
  // Sums the maps' memory into map_bytes_.
  void MeasureMaps();

  AttachPoint point_;
  CounterOptions options_;
  HeldLink link_;
  HeldLink reclaimer_link_;
  std::unique_ptr<MapReader> reader_;
  // The programs, for their statistics; invalid when unknown (a probe an
  // older agent pinned, re-adopted without CAP_SYS_ADMIN).
  ScopedFd prog_;
  ScopedFd reclaimer_prog_;
  uint64_t map_bytes_ = 0;
  bool links_pinned_ = false;
  std::string pins_dir_;  // where its links are pinned; empty: not
};

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_BPF_COUNTER_H_
