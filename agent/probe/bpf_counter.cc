#include "agent/probe/bpf_counter.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/probe/attach_kinds.h"
#include "agent/probe/bpf_errors.h"
#include "agent/probe/bpf_stats.h"
#include "agent/probe/core_btf.h"
#include "agent/probe/map_layout.h"
#include "agent/probe/privileges.h"
#include "agent/probe/tracefs.h"
#include "bpf/counter.h"
#include "bpf/counter.skel.h"
#include "common/pid_namespace.h"
#include "common/status_macros.h"

namespace tally {
namespace {

struct SkelDeleter {
  void operator()(counter_bpf* skel) const { counter_bpf__destroy(skel); }
};
using OwnedSkel = std::unique_ptr<counter_bpf, SkelDeleter>;

constexpr size_t kVerifierLogSize = 256 * 1024;

// The two enums are one vocabulary: the daemon's GroupBy goes into rodata.
static_assert(static_cast<uint32_t>(GroupBy::kNone) == TALLY_GROUP_NONE &&
                  static_cast<uint32_t>(GroupBy::kPid) == TALLY_GROUP_PID &&
                  static_cast<uint32_t>(GroupBy::kTgid) == TALLY_GROUP_TGID &&
                  static_cast<uint32_t>(GroupBy::kComm) == TALLY_GROUP_COMM &&
                  static_cast<uint32_t>(GroupBy::kCgroup) ==
                      TALLY_GROUP_CGROUP &&
                  static_cast<uint32_t>(GroupBy::kUid) == TALLY_GROUP_UID,
              "GroupBy must match enum tally_group_by in bpf/counter.h");

// libbpf 1.1 frees the kernel BTF that bpf_program__set_attach_target()
// parses (vmlinux's, and every module's when the target is not in vmlinux)
// only at the end of bpf_object__load(): closing an object that was never
// loaded leaks it, about 6 MB per request (fixed in libbpf 1.3, a687461).
// Loading the object with nothing enabled runs that clean-up and creates
// nothing in the kernel.
void ReleaseKernelBtf(bpf_object* obj) {
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj)
      bpf_program__set_autoload(prog, false);
  bpf_map* map;
  bpf_object__for_each_map(map, obj) bpf_map__set_autocreate(map, false);
  (void)bpf_object__load(obj);
}

absl::StatusOr<ScopedFd> DupMapFd(bpf_map* map) {
  int fd = fcntl(bpf_map__fd(map), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("duplicating a map fd failed: ", ErrnoName(errno)));
  }
  return ScopedFd(fd);
}

// Pin names inside a probe's directory.
constexpr char kLinkPin[] = "link";
constexpr char kReclaimerPin[] = "reclaimer";
constexpr const char* kMapPins[] = {"totals", "keys", "slots"};
// The programs, for their run statistics after a restart.
constexpr char kProgPin[] = "prog";
constexpr char kReclaimerProgPin[] = "reclaimer_prog";

std::string PinPath(const std::string& dir, const char* name) {
  return absl::StrCat(dir, "/", name);
}

// Pins `fd` at `path`; false where the kernel cannot pin that link (a perf
// event attached without a BPF link, before Linux 5.15).
bool TryPin(int fd, const std::string& path) {
  return fd >= 0 && bpf_obj_pin(fd, path.c_str()) == 0;
}

absl::StatusOr<ScopedFd> OpenPin(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("opening ", path, ": ", ErrnoName(errno)));
  }
  return ScopedFd(fd);
}

ScopedFd DupFd(int fd) {
  return ScopedFd(fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

// The program behind a re-adopted link: its pin, else by id (pins older
// agents left have none; that needs CAP_SYS_ADMIN).
ScopedFd AdoptedProg(const std::string& pin, int link_fd) {
  if (absl::StatusOr<ScopedFd> fd = OpenPin(pin); fd.ok()) {
    return *std::move(fd);
  }
  bpf_link_info info = {};
  uint32_t len = sizeof(info);
  if (link_fd < 0 || bpf_obj_get_info_by_fd(link_fd, &info, &len) != 0) {
    return ScopedFd();
  }
  return ScopedFd(bpf_prog_get_fd_by_id(info.prog_id));
}

absl::StatusOr<OwnedLink> Attach(bpf_program* prog, const AttachPoint& point,
                                 const CounterOptions& options) {
  // With a tgid filter only that process needs a uprobe's breakpoint. The
  // kernel reads that pid in this process's PID namespace while the filter
  // holds a host pid: outside the host's namespace, attach for every process
  // and let the filter (which sees host pids) choose.
  pid_t pid = options.tgid != 0 && InInitialPidNamespace()
                  ? static_cast<pid_t>(options.tgid)
                  : -1;
  bpf_link* link = AttachProgram(prog, point, pid);
  if (link == nullptr) return AttachError(point, errno);
  return OwnedLink(link);
}

// The reclaimer for `group_by` and the raw tracepoint it needs; null when
// the grouping's keys never end.
bpf_program* ReclaimerFor(counter_bpf* skel, GroupBy group_by,
                          const char** tracepoint) {
  switch (group_by) {
    case GroupBy::kPid:
    case GroupBy::kTgid:
      *tracepoint = "sched_process_free";
      return skel->progs.handle__task_free;
    case GroupBy::kCgroup:
      *tracepoint = "cgroup_rmdir";
      return skel->progs.handle__cgroup_rmdir;
    default:
      return nullptr;
  }
}

}  // namespace

BpfCounter::BpfCounter(AttachPoint point, CounterOptions options, HeldLink link,
                       HeldLink reclaimer_link,
                       std::unique_ptr<MapReader> reader)
    : point_(std::move(point)),
      options_(options),
      link_(std::move(link)),
      reclaimer_link_(std::move(reclaimer_link)),
      reader_(std::move(reader)) {}

void BpfCounter::MeasureMaps() {
  map_bytes_ = 0;
  for (int fd : {reader_->totals_fd(), reader_->keys_fd(),
                 reader_->slots_fd()}) {
    if (absl::StatusOr<uint64_t> bytes = MapMemlockBytes(fd); bytes.ok()) {
      map_bytes_ += *bytes;
    }
  }
}

absl::StatusOr<CounterCost> BpfCounter::Cost() const {
  CounterCost cost;
  cost.map_bytes = map_bytes_;
  if (prog_.valid()) {
    ASSIGN_OR_RETURN(ProgRunStats s, ReadProgRunStats(prog_.get()));
    cost.runs = s.runs;
    cost.run_time = s.run_time;
  }
  if (reclaimer_prog_.valid()) {
    ASSIGN_OR_RETURN(ProgRunStats s, ReadProgRunStats(reclaimer_prog_.get()));
    cost.reclaimer_runs = s.runs;
    cost.reclaimer_run_time = s.run_time;
  }
  return cost;
}

void BpfCounter::Detach() {
  if (!pins_dir_.empty()) {
    // A pinned link outlives its fd: the pin goes first.
    unlink(PinPath(pins_dir_, kLinkPin).c_str());
    unlink(PinPath(pins_dir_, kReclaimerPin).c_str());
    unlink(PinPath(pins_dir_, kProgPin).c_str());
    unlink(PinPath(pins_dir_, kReclaimerProgPin).c_str());
  }
  link_.Reset();
  reclaimer_link_.Reset();
}

absl::StatusOr<std::unique_ptr<BpfCounter>> BpfCounter::Adopt(
    const std::string& dir, const AttachPoint& point,
    const CounterOptions& options, const MapReadOptions& read_options) {
  const int num_cpus = libbpf_num_possible_cpus();
  if (num_cpus < 1) {
    return absl::FailedPreconditionError("cannot count possible CPUs");
  }
  ASSIGN_OR_RETURN(ScopedFd link, OpenPin(PinPath(dir, kLinkPin)));
  MapReader::Maps maps;
  ASSIGN_OR_RETURN(maps.totals, OpenPin(PinPath(dir, kMapPins[0])));
  ASSIGN_OR_RETURN(maps.keys, OpenPin(PinPath(dir, kMapPins[1])));
  ASSIGN_OR_RETURN(maps.slots, OpenPin(PinPath(dir, kMapPins[2])));
  absl::StatusOr<std::unique_ptr<MapReader>> reader = MapReader::Open(
      std::move(maps), options.group_by, num_cpus, read_options);
  if (!reader.ok()) {
    return absl::FailedPreconditionError(reader.status().message());
  }
  HeldLink reclaimer;
  if (absl::StatusOr<ScopedFd> fd = OpenPin(PinPath(dir, kReclaimerPin));
      fd.ok()) {
    reclaimer = HeldLink(*std::move(fd));
  }
  std::unique_ptr<BpfCounter> counter(
      new BpfCounter(point, options, HeldLink(std::move(link)),
                     std::move(reclaimer), *std::move(reader)));
  counter->links_pinned_ = true;
  counter->pins_dir_ = dir;
  counter->prog_ =
      AdoptedProg(PinPath(dir, kProgPin), counter->link_.fd());
  if (counter->reclaimer_link_.held()) {
    counter->reclaimer_prog_ = AdoptedProg(PinPath(dir, kReclaimerProgPin),
                                           counter->reclaimer_link_.fd());
  }
  counter->MeasureMaps();
  return counter;
}

absl::StatusOr<std::unique_ptr<BpfCounter>> BpfCounter::Create(
    const AttachPoint& point, const CounterOptions& options,
    const MapReadOptions& read_options, const CounterPins& pins) {
  if (options.group_by != GroupBy::kNone && options.max_keys == 0) {
    return absl::InvalidArgumentError(
        "max_keys must be at least 1 when grouping");
  }
  if (KernelInfo(point.kind).method == AttachMethod::kTracepoint) {
    RETURN_IF_ERROR(EnsureTracefs().status());
  }
  if (Info(point.kind).form == TargetForm::kBinaryAndSymbol &&
      point.binary.find('/') != std::string::npos) {
    struct stat st;
    if (stat(point.binary.c_str(), &st) != 0) {
      return absl::NotFoundError(absl::StrCat(
          "binary ", point.binary, " does not exist (", point.ToSpec(), ")"));
    }
    if (!S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(
          point.binary, " is not a regular file (", point.ToSpec(), ")"));
    }
  }
  // Per-CPU values are read into one slot per possible CPU.
  const int num_cpus = libbpf_num_possible_cpus();
  if (num_cpus < 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot count possible CPUs (", ErrnoName(-num_cpus),
                     "); is /sys/devices/system/cpu/possible readable?"));
  }

  LIBBPF_OPTS(bpf_object_open_opts, open_opts);
  const std::string& core_btf = CoreBtfPath();
  if (!core_btf.empty()) open_opts.btf_custom_path = core_btf.c_str();
  OwnedSkel skel(counter_bpf__open_opts(&open_opts));
  if (skel == nullptr) {
    return absl::InternalError(absl::StrCat(
        "opening the embedded BPF object failed: ", ErrnoName(errno)));
  }
  bpf_program* prog = ProgramFor(skel->obj, point.kind);
  bpf_program__set_autoload(prog, true);
  std::string log(kVerifierLogSize, '\0');
  bpf_program__set_log_buf(prog, log.data(), log.size());

  skel->rodata->targ_tgid = options.tgid;
  skel->rodata->targ_cgroup_id = options.cgroup_id;
  skel->rodata->group_by = static_cast<__u32>(options.group_by);
  skel->rodata->task_btf = KernelCoreBtf().current_task_btf;
  // Without grouping the key maps are never touched; keep them minimal.
  // Keys are as wide as what they hold; slots are rows of per-CPU entries in
  // front of `keys` (bpf/counter.h).
  const GroupBy group_by = options.group_by;
  const bool grouped = group_by != GroupBy::kNone;
  const uint32_t slot_entries = grouped ? SlotEntries(num_cpus) : 0;
  skel->rodata->nr_cpus = slot_entries == 0 ? 0 : num_cpus;
  const char* reclaim_tracepoint = nullptr;
  bpf_program* reclaimer =
      ReclaimerFor(skel.get(), group_by, &reclaim_tracepoint);
  if (bpf_map__set_max_entries(skel->maps.keys,
                               grouped ? options.max_keys : 1) != 0 ||
      bpf_map__set_key_size(skel->maps.keys, KeySize(group_by)) != 0 ||
      bpf_map__set_max_entries(skel->maps.slots, std::max(1u, slot_entries)) !=
          0 ||
      bpf_map__set_value_size(skel->maps.slots,
                              sizeof(uint64_t) + KeySize(group_by)) != 0) {
    return absl::InternalError(
        absl::StrCat("sizing the key maps failed: ", ErrnoName(errno)));
  }
  if (reclaimer != nullptr) bpf_program__set_autoload(reclaimer, true);
  if (pins.reuse_maps) {
    // The maps an earlier agent pinned: the counts go on in them.
    bpf_map* maps[] = {skel->maps.totals, skel->maps.keys, skel->maps.slots};
    for (size_t i = 0; i < std::size(maps); ++i) {
      ASSIGN_OR_RETURN(ScopedFd fd, OpenPin(PinPath(pins.dir, kMapPins[i])));
      if (bpf_map__reuse_fd(maps[i], fd.get()) != 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("reusing the pinned map ", kMapPins[i],
                         " failed: ", ErrnoName(errno)));
      }
    }
  }

  if (KernelInfo(point.kind).method == AttachMethod::kBtfTarget) {
    if (int err = bpf_program__set_attach_target(prog, 0, point.target.c_str());
        err) {
      ReleaseKernelBtf(skel->obj);
      return AttachError(point, -err);
    }
  }

  if (int err = counter_bpf__load(skel.get()); err) {
    return LoadError(point, -err, log);
  }
  if (!pins.reuse_maps) {
    RETURN_IF_ERROR(StampLayout(bpf_map__fd(skel->maps.totals), num_cpus));
  }
  MapReader::Maps maps;
  ASSIGN_OR_RETURN(maps.totals, DupMapFd(skel->maps.totals));
  ASSIGN_OR_RETURN(maps.keys, DupMapFd(skel->maps.keys));
  ASSIGN_OR_RETURN(maps.slots, DupMapFd(skel->maps.slots));
  ASSIGN_OR_RETURN(
      std::unique_ptr<MapReader> reader,
      MapReader::Open(std::move(maps), group_by, num_cpus, read_options));
  // The reclaimer first: every key the counter makes is then removed when
  // its owner ends.
  OwnedLink reclaimer_link;
  if (reclaimer != nullptr) {
    bpf_link* l =
        bpf_program__attach_raw_tracepoint(reclaimer, reclaim_tracepoint);
    if (l == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("attaching the key reclaimer to raw tracepoint ",
                       reclaim_tracepoint, " failed: ", ErrnoName(errno)));
    }
    reclaimer_link.reset(l);
  }
  ASSIGN_OR_RETURN(OwnedLink link, Attach(prog, point, options));
  // The skeleton goes here; the links hold the programs, the fds the maps.
  std::unique_ptr<BpfCounter> counter(
      new BpfCounter(point, options, HeldLink(std::move(link)),
                     HeldLink(std::move(reclaimer_link)), std::move(reader)));
  counter->prog_ = DupFd(bpf_program__fd(prog));
  if (reclaimer != nullptr) {
    counter->reclaimer_prog_ = DupFd(bpf_program__fd(reclaimer));
  }
  counter->MeasureMaps();
  if (!pins.dir.empty()) {
    // Best effort: without them a restarted agent reads the programs by id.
    const std::pair<const char*, int> progs[] = {
        {kProgPin, counter->prog_.get()},
        {kReclaimerProgPin, counter->reclaimer_prog_.get()}};
    for (const auto& [name, fd] : progs) {
      if (fd < 0) continue;
      unlink(PinPath(pins.dir, name).c_str());  // an earlier program's
      (void)TryPin(fd, PinPath(pins.dir, name));
    }
    if (!pins.reuse_maps) {
      const int fds[] = {counter->reader_->totals_fd(),
                         counter->reader_->keys_fd(),
                         counter->reader_->slots_fd()};
      for (size_t i = 0; i < std::size(fds); ++i) {
        if (bpf_obj_pin(fds[i], PinPath(pins.dir, kMapPins[i]).c_str()) != 0) {
          return absl::FailedPreconditionError(
              absl::StrCat("pinning the ", kMapPins[i], " map in ", pins.dir,
                           " failed: ", ErrnoName(errno)));
        }
      }
    }
    counter->links_pinned_ =
        TryPin(counter->link_.fd(), PinPath(pins.dir, kLinkPin));
    if (counter->links_pinned_ && counter->reclaimer_link_.held()) {
      // Where the counting link is pinned the reclaimer must go on too.
      if (!TryPin(counter->reclaimer_link_.fd(),
                  PinPath(pins.dir, kReclaimerPin))) {
        unlink(PinPath(pins.dir, kLinkPin).c_str());
        counter->links_pinned_ = false;
      }
    }
    counter->pins_dir_ = pins.dir;
  }
  return counter;
}

}  // namespace tally
