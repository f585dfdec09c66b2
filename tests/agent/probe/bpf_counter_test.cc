// Privileged: loads and attaches the real counter on the running kernel and
// checks exact counts of events this test makes itself.
#include "agent/probe/bpf_counter.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <functional>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/probe/hook_resolver.h"
#include "agent/probe/feature_probe.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/events.h"
#include "tests/testing/status_matchers.h"

// Called from the test to drive uprobes; noinline and extern "C" so the
// symbol exists under this exact name.
extern "C" __attribute__((noinline, used)) int tally_test_uprobe_target(int x) {
  asm volatile("" ::: "memory");
  return x + 1;
}

namespace tally {
namespace {

using ::tally::testing::CallGetppid;

using ::tally::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int kCalls = 1000;


uint32_t SelfTgid() { return static_cast<uint32_t>(getpid()); }

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : "/proc/self/exe";
}

const KernelFeatures& Features() {
  static const KernelFeatures* features =
      new KernelFeatures(ProbeKernelFeatures());
  return *features;
}

absl::StatusOr<std::unique_ptr<BpfCounter>> StartSpec(
    const std::string& spec, const CounterOptions& options) {
  absl::StatusOr<HookSpec> parsed = ParseHookSpec(spec);
  if (!parsed.ok()) return parsed.status();
  std::unique_ptr<KernelSymbols> symbols = NewKernelSymbols();
  absl::StatusOr<ResolvedHook> resolved =
      ResolveHook(*parsed, Features(), *symbols);
  if (!resolved.ok()) return resolved.status();
  return BpfCounter::Create(resolved->point, options);
}

uint64_t Total(const BpfCounter& probe) {
  absl::StatusOr<CounterSnapshot> snap = probe.Read(0);
  EXPECT_TRUE(snap.ok()) << snap.status();
  return snap.ok() ? snap->total : 0;
}

class BpfCounterTest : public ::testing::Test {
 protected:
  void SetUp() override { TALLY_REQUIRE_BPF(); }
};

TEST_F(BpfCounterTest, TracepointCountsExactlyOwnCalls) {
  CounterOptions options;
  options.tgid = SelfTgid();
  auto probe = StartSpec("tracepoint:syscalls:sys_enter_getppid", options);
  ASSERT_OK(probe);
  EXPECT_EQ((*probe)->point().kind, AttachKind::kTracepoint);
  EXPECT_EQ(Total(**probe), 0u);
  CallGetppid(kCalls);
  EXPECT_EQ(Total(**probe), static_cast<uint64_t>(kCalls));
}

TEST_F(BpfCounterTest, SyscallAliasCountsExactlyOwnCalls) {
  CounterOptions options;
  options.tgid = SelfTgid();
  auto probe = StartSpec("syscall:getppid", options);
  ASSERT_OK(probe);
  // The alias picks fentry where the kernel has it, else the tracepoint.
  AttachKind want = Features().Check(AttachKind::kFentry).ok()
                        ? AttachKind::kFentry
                        : AttachKind::kTracepoint;
  EXPECT_EQ((*probe)->point().kind, want);
  CallGetppid(kCalls);
  EXPECT_EQ(Total(**probe), static_cast<uint64_t>(kCalls));
}

TEST_F(BpfCounterTest, RawAndBtfTracepointsCountSysEnter) {
  for (const char* spec : {"rawtracepoint:sys_enter", "tp_btf:sys_enter"}) {
    SCOPED_TRACE(spec);
    CounterOptions options;
    options.tgid = SelfTgid();
    auto probe = StartSpec(spec, options);
    ASSERT_OK(probe);
    uint64_t before = Total(**probe);
    CallGetppid(kCalls);
    // Every syscall of this process enters; at least our own calls count.
    EXPECT_GE(Total(**probe) - before, static_cast<uint64_t>(kCalls));
  }
}

TEST_F(BpfCounterTest, UprobeAndUretprobeCountExactCalls) {
  for (const char* kind : {"uprobe", "uretprobe"}) {
    SCOPED_TRACE(kind);
    CounterOptions options;
    options.tgid = SelfTgid();
    auto probe = StartSpec(
        absl::StrCat(kind, ":", SelfExe(), ":tally_test_uprobe_target"),
        options);
    ASSERT_OK(probe);
    int sum = 0;
    for (int i = 0; i < kCalls; ++i) sum += tally_test_uprobe_target(i);
    EXPECT_GT(sum, 0);
    EXPECT_EQ(Total(**probe), static_cast<uint64_t>(kCalls));
  }
}

TEST_F(BpfCounterTest, GroupByCommCountsEachChildExactly) {
  CounterOptions options;
  options.group_by = GroupBy::kComm;
  auto probe = StartSpec("tracepoint:syscalls:sys_enter_getppid", options);
  ASSERT_OK(probe);

  // Distinct, test-unique names; child i calls getppid 100 * (i + 1) times.
  std::map<std::string, uint64_t> want;
  std::vector<pid_t> children;
  for (int i = 0; i < 3; ++i) {
    std::string name = absl::StrCat("tly", getpid() % 100000, "_", i);
    int calls = 100 * (i + 1);
    want[name] = calls;
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      prctl(PR_SET_NAME, name.c_str());
      CallGetppid(calls);
      _exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }

  absl::StatusOr<CounterSnapshot> snap = (*probe)->Read(100000);
  ASSERT_OK(snap);
  std::map<std::string, uint64_t> got;
  for (const KeyCount& kc : snap->top_keys) {
    if (want.count(kc.key)) got[kc.key] = kc.count;
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(snap->dropped_keys, 0u);
}

TEST_F(BpfCounterTest, RawTracepointCountsExecs) {
  CounterOptions options;
  options.group_by = GroupBy::kComm;
  auto probe = StartSpec("rawtracepoint:sched_process_exec", options);
  ASSERT_OK(probe);
  constexpr int kExecs = 5;
  for (int i = 0; i < kExecs; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      execl("/bin/true", "true", static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  absl::StatusOr<CounterSnapshot> snap = (*probe)->Read(100000);
  ASSERT_OK(snap);
  EXPECT_GE(snap->total, static_cast<uint64_t>(kExecs));
  uint64_t true_execs = 0;
  for (const KeyCount& kc : snap->top_keys) {
    if (kc.key == "true") true_execs = kc.count;
  }
  EXPECT_GE(true_execs, static_cast<uint64_t>(kExecs));
}

TEST_F(BpfCounterTest, FullKeyMapOverflowsIntoDroppedKeys) {
  constexpr int kThreads = 10;
  constexpr int kPerThread = 200;
  CounterOptions options;
  options.tgid = SelfTgid();
  options.group_by = GroupBy::kPid;
  options.max_keys = 4;
  auto probe = StartSpec("tracepoint:syscalls:sys_enter_getppid", options);
  ASSERT_OK(probe);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([] { CallGetppid(kPerThread); });
  }
  for (std::thread& t : threads) t.join();

  absl::StatusOr<CounterSnapshot> snap = (*probe)->Read(100);
  ASSERT_OK(snap);
  EXPECT_EQ(snap->total, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(snap->distinct_keys, 4u);
  uint64_t keyed = 0;
  for (const KeyCount& kc : snap->top_keys) {
    EXPECT_EQ(kc.count, static_cast<uint64_t>(kPerThread));
    keyed += kc.count;
  }
  EXPECT_EQ(keyed + snap->dropped_keys, snap->total);
  EXPECT_EQ(snap->dropped_keys,
            static_cast<uint64_t>((kThreads - 4) * kPerThread));
}

// Polls (bounded) until the probe has reclaimed `keys` keys: the kernel
// frees a task an RCU grace period after it is reaped.
absl::StatusOr<CounterSnapshot> AwaitReclaimed(const BpfCounter& probe,
                                               uint64_t keys) {
  absl::StatusOr<CounterSnapshot> snap = probe.Read(0);
  for (absl::Time deadline = absl::Now() + absl::Seconds(20);
       snap.ok() && snap->reclaimed_keys < keys && absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(10))) {
    snap = probe.Read(0);
  }
  return snap;
}

// Forks a child that calls the uprobe target `calls` times (after `setup`,
// if given) and reaps it. Returns its pid.
pid_t RunChild(int calls, const std::function<void()>& setup = nullptr) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setup) setup();
    int sum = 0;
    for (int i = 0; i < calls; ++i) sum += tally_test_uprobe_target(i);
    _exit(sum > 0 || calls == 0 ? 0 : 1);
  }
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return pid;
}

uint64_t KeyCountOf(const CounterSnapshot& snap, const std::string& key) {
  for (const KeyCount& kc : snap.top_keys) {
    if (kc.key == key) return kc.count;
  }
  return 0;
}

// Every event is in a key, dropped or reclaimed: nothing is lost silently.
void ExpectAddsUp(const CounterSnapshot& snap) {
  uint64_t keyed = 0;
  for (const KeyCount& kc : snap.top_keys) keyed += kc.count;
  EXPECT_EQ(keyed + snap.dropped_keys + snap.reclaimed, snap.total);
}

// A long-running probe grouped by process: ended processes' keys fill the
// map, yet a new process still gets its own key (before reclaiming, its
// events all went to dropped keys).
TEST_F(BpfCounterTest, EndedProcessesMakeRoomForNewOnes) {
  CounterOptions options;  // every process running this binary
  options.group_by = GroupBy::kTgid;
  options.max_keys = 4;
  auto probe = StartSpec(
      absl::StrCat("uprobe:", SelfExe(), ":tally_test_uprobe_target"), options);
  ASSERT_OK(probe);
  for (int i = 0; i < 4; ++i) RunChild(10 * (i + 1));
  absl::StatusOr<CounterSnapshot> snap = AwaitReclaimed(**probe, 4);
  ASSERT_OK(snap);
  EXPECT_EQ(snap->reclaimed_keys, 4u);
  EXPECT_EQ(snap->reclaimed, 100u);

  // The newcomer stays alive until the parent has read: its own key would
  // be reclaimed once it ends.
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t live = fork();
  ASSERT_GE(live, 0);
  if (live == 0) {
    close(go[1]);
    for (int i = 0; i < 9; ++i) tally_test_uprobe_target(i);
    char c;
    (void)!read(go[0], &c, 1);  // until the parent has read the counts
    _exit(0);
  }
  close(go[0]);
  absl::StatusOr<CounterSnapshot> got;
  for (absl::Time deadline = absl::Now() + absl::Seconds(20);
       absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(5))) {
    got = (*probe)->Read(100);
    if (!got.ok() || KeyCountOf(*got, absl::StrCat(live)) == 9) break;
  }
  ASSERT_OK(got);
  EXPECT_EQ(KeyCountOf(*got, absl::StrCat(live)), 9u);
  EXPECT_EQ(got->dropped_keys, 0u);
  EXPECT_EQ(got->total, 100u + 9u);
  ExpectAddsUp(*got);
  close(go[1]);
  ASSERT_EQ(waitpid(live, nullptr, 0), live);
}

// The same for threads, grouped by thread id.
TEST_F(BpfCounterTest, EndedThreadsMakeRoomForNewOnes) {
  CounterOptions options;
  options.tgid = SelfTgid();
  options.group_by = GroupBy::kPid;
  options.max_keys = 4;
  auto probe = StartSpec("tracepoint:syscalls:sys_enter_getppid", options);
  ASSERT_OK(probe);
  for (int i = 0; i < 4; ++i) std::thread([] { CallGetppid(50); }).join();
  absl::StatusOr<CounterSnapshot> snap = AwaitReclaimed(**probe, 4);
  ASSERT_OK(snap);
  EXPECT_EQ(snap->reclaimed, 200u);

  absl::Mutex mu;
  bool done = false;
  pid_t tid = 0;
  std::thread live([&] {
    CallGetppid(30);
    absl::MutexLock lock(&mu);
    tid = gettid();
    mu.Await(absl::Condition(&done));
  });
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(+[](pid_t* t) { return *t != 0; }, &tid));
  }
  absl::StatusOr<CounterSnapshot> got = (*probe)->Read(100);
  ASSERT_OK(got);
  EXPECT_EQ(KeyCountOf(*got, absl::StrCat(tid)), 30u);
  EXPECT_EQ(got->dropped_keys, 0u);
  EXPECT_EQ(got->total, 230u);
  ExpectAddsUp(*got);
  {
    absl::MutexLock lock(&mu);
    done = true;
  }
  live.join();
}

// The cgroup v2 mount, if any.
std::string Cgroup2Root() {
  std::ifstream in("/proc/self/mounts");
  std::string dev, dir, type;
  std::string rest;
  while (in >> dev >> dir >> type && std::getline(in, rest)) {
    if (type == "cgroup2") return dir;
  }
  return "";
}

TEST_F(BpfCounterTest, RemovedCgroupsAreReclaimed) {
  std::string root = Cgroup2Root();
  if (root.empty()) GTEST_SKIP() << "skipped: no cgroup v2 mount";
  std::string dir = absl::StrCat(root, "/tally-test-", getpid());
  if (mkdir(dir.c_str(), 0755) != 0) {
    GTEST_SKIP() << "skipped: cannot create " << dir << ": " << strerror(errno);
  }
  CounterOptions options;
  options.group_by = GroupBy::kCgroup;
  auto probe = StartSpec(
      absl::StrCat("uprobe:", SelfExe(), ":tally_test_uprobe_target"), options);
  ASSERT_OK(probe);
  RunChild(12, [&] {
    std::ofstream(dir + "/cgroup.procs") << getpid() << std::endl;
  });
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  absl::StatusOr<CounterSnapshot> before = (*probe)->Read(10);
  ASSERT_OK(before);
  EXPECT_EQ(KeyCountOf(*before, absl::StrCat(st.st_ino)), 12u);
  ASSERT_EQ(rmdir(dir.c_str()), 0) << strerror(errno);
  absl::StatusOr<CounterSnapshot> after = AwaitReclaimed(**probe, 1);
  ASSERT_OK(after);
  EXPECT_EQ(after->reclaimed_keys, 1u);
  EXPECT_EQ(after->reclaimed, 12u);
  absl::StatusOr<CounterSnapshot> keys = (*probe)->Read(10);
  ASSERT_OK(keys);
  EXPECT_EQ(KeyCountOf(*keys, absl::StrCat(st.st_ino)), 0u);
}

// More threads than a CPU's slots, moving between CPUs: each thread's
// count is spread over slots of several rows and the key map, and must add
// up exactly.
TEST_F(BpfCounterTest, ManyThreadsCountExactlyAcrossSlotsAndTheKeyMap) {
  constexpr int kThreads = 150;
  CounterOptions options;
  options.tgid = SelfTgid();
  options.group_by = GroupBy::kPid;
  options.max_keys = 1024;
  auto probe = StartSpec("tracepoint:syscalls:sys_enter_getppid", options);
  ASSERT_OK(probe);
  absl::Mutex mu;
  int ready = 0;
  bool done = false;
  std::map<std::string, uint64_t> want;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      // In bursts, yielding between them, so threads interleave on CPUs.
      for (int burst = 0; burst <= i % 7; ++burst) {
        CallGetppid(i + 1);
        std::this_thread::yield();
      }
      absl::MutexLock lock(&mu);
      want[absl::StrCat(gettid())] = static_cast<uint64_t>(i + 1) * (i % 7 + 1);
      ++ready;
      mu.Await(absl::Condition(&done));  // alive until the read
    });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == kThreads; }, &ready));
  }
  absl::StatusOr<CounterSnapshot> snap = (*probe)->Read(1000);
  {
    absl::MutexLock lock(&mu);
    done = true;
  }
  for (std::thread& t : threads) t.join();
  ASSERT_OK(snap);
  std::map<std::string, uint64_t> got;
  for (const KeyCount& kc : snap->top_keys) got[kc.key] = kc.count;
  EXPECT_EQ(got, want);
  EXPECT_EQ(snap->dropped_keys, 0u);
  EXPECT_EQ(snap->reclaimed, 0u);
  ExpectAddsUp(*snap);
}

TEST_F(BpfCounterTest, GroupByTgidAndUid) {
  for (GroupBy g : {GroupBy::kTgid, GroupBy::kUid}) {
    CounterOptions options;
    options.tgid = SelfTgid();
    options.group_by = g;
    auto probe = StartSpec("tracepoint:syscalls:sys_enter_getppid", options);
    ASSERT_OK(probe);
    CallGetppid(kCalls);
    absl::StatusOr<CounterSnapshot> snap = (*probe)->Read(10);
    ASSERT_OK(snap);
    ASSERT_EQ(snap->top_keys.size(), 1u);
    std::string want = g == GroupBy::kTgid ? absl::StrCat(getpid())
                                           : absl::StrCat(getuid());
    EXPECT_EQ(snap->top_keys[0].key, want);
    EXPECT_EQ(snap->top_keys[0].count, static_cast<uint64_t>(kCalls));
  }
}

// The cgroup v2 id of this process is the inode number of its directory.
absl::StatusOr<uint64_t> OwnCgroupId() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) != 0) continue;
    for (const char* root : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
      struct stat st;
      std::string dir = absl::StrCat(root, line.substr(3));
      if (stat(dir.c_str(), &st) == 0 &&
          access(absl::StrCat(root, "/cgroup.controllers").c_str(), F_OK) == 0) {
        return static_cast<uint64_t>(st.st_ino);
      }
    }
  }
  return absl::NotFoundError("no cgroup v2 hierarchy mounted");
}

TEST_F(BpfCounterTest, CgroupFilter) {
  absl::StatusOr<uint64_t> cgroup = OwnCgroupId();
  if (!cgroup.ok()) GTEST_SKIP() << "skipped: " << cgroup.status().message();
  CounterOptions mine;
  mine.cgroup_id = *cgroup;
  mine.group_by = GroupBy::kTgid;
  CounterOptions other;
  other.cgroup_id = ~0ull;
  auto in_cgroup = StartSpec("tracepoint:syscalls:sys_enter_getppid", mine);
  ASSERT_OK(in_cgroup);
  auto elsewhere = StartSpec("tracepoint:syscalls:sys_enter_getppid", other);
  ASSERT_OK(elsewhere);
  CallGetppid(kCalls);
  absl::StatusOr<CounterSnapshot> snap = (*in_cgroup)->Read(1000);
  ASSERT_OK(snap);
  uint64_t own = 0;
  for (const KeyCount& kc : snap->top_keys) {
    if (kc.key == absl::StrCat(getpid())) own = kc.count;
  }
  EXPECT_EQ(own, static_cast<uint64_t>(kCalls));
  EXPECT_EQ(Total(**elsewhere), 0u);
}

TEST_F(BpfCounterTest, DestroyingTheProbeDetachesIt) {
  CounterOptions options;
  options.tgid = SelfTgid();
  auto probe = StartSpec("tracepoint:syscalls:sys_enter_getppid", options);
  ASSERT_OK(probe);
  bpf_link_info info = {};
  uint32_t len = sizeof(info);
  ASSERT_EQ(bpf_obj_get_info_by_fd((*probe)->link_fd(), &info, &len),
            0);
  ASSERT_NE(info.prog_id, 0u);
  int fd = bpf_prog_get_fd_by_id(info.prog_id);
  ASSERT_GE(fd, 0) << "the attached program should exist";
  close(fd);
  probe->reset();
  // Releasing the link and maps frees the program once nothing refers to it
  // (partly from deferred kernel work: poll, bounded).
  bool gone = false;
  for (absl::Time deadline = absl::Now() + absl::Seconds(10);
       !gone && absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(20))) {
    int fd = bpf_prog_get_fd_by_id(info.prog_id);
    gone = fd < 0;
    if (fd >= 0) close(fd);
  }
  EXPECT_TRUE(gone) << "program " << info.prog_id << " is still loaded";
}

TEST_F(BpfCounterTest, UnknownTargetsAreNotFound) {
  CounterOptions options;
  EXPECT_THAT(StartSpec("tracepoint:sched:no_such_event", options),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no_such_event")));
  EXPECT_THAT(StartSpec("rawtracepoint:no_such_event", options),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no_such_event")));
  EXPECT_THAT(StartSpec("tp_btf:no_such_event", options),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no_such_event")));
  EXPECT_THAT(StartSpec("syscall:no_such_call", options),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("unknown syscall 'no_such_call'")));
  EXPECT_THAT(
      StartSpec(absl::StrCat("uprobe:", SelfExe(), ":no_such_symbol"), options),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("no_such_symbol")));
  EXPECT_THAT(StartSpec("uprobe:/no/such/binary:main", options),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/no/such/binary")));
}

// kprobes exist exactly when the kernel registers the kprobe PMU.
bool KernelHasKprobes() {
  return access("/sys/bus/event_source/devices/kprobe", F_OK) == 0;
}

TEST_F(BpfCounterTest, KprobeWorksOrFailsWithPreconditionNamingAlternatives) {
  CounterOptions options;
  options.tgid = SelfTgid();
  auto probe = StartSpec(absl::StrCat("kprobe:", SyscallFunction("getppid")),
                         options);
  if (KernelHasKprobes()) {
    ASSERT_OK(probe);
    CallGetppid(kCalls);
    EXPECT_EQ(Total(**probe), static_cast<uint64_t>(kCalls));
  } else {
    EXPECT_THAT(probe, StatusIs(absl::StatusCode::kFailedPrecondition,
                                AllOf(HasSubstr("cannot attach kprobe"),
                                      HasSubstr("CONFIG_KPROBES"),
                                      HasSubstr("kinds that work here"),
                                      HasSubstr("tracepoint"))));
  }
}

TEST_F(BpfCounterTest, FentryWorksOrFailsWithPreconditionNamingAlternatives) {
  CounterOptions options;
  options.tgid = SelfTgid();
  auto probe = StartSpec("fentry:vfs_read", options);
  if (Features().Check(AttachKind::kFentry).ok()) {
    ASSERT_OK(probe);
    int fd = open("/dev/zero", O_RDONLY);
    ASSERT_GE(fd, 0);
    char c;
    for (int i = 0; i < kCalls; ++i) ASSERT_EQ(read(fd, &c, 1), 1);
    close(fd);
    EXPECT_EQ(Total(**probe), static_cast<uint64_t>(kCalls));
  } else {
    EXPECT_THAT(probe, StatusIs(absl::StatusCode::kFailedPrecondition,
                                AllOf(HasSubstr("cannot attach fentry"),
                                      HasSubstr("kinds that work here"),
                                      HasSubstr("tracepoint"))));
    // And the real attempt fails too, not only the feature check.
    auto direct = BpfCounter::Create(
        {AttachKind::kFentry, "", "vfs_read", ""}, options);
    EXPECT_FALSE(direct.ok());
  }
}

TEST_F(BpfCounterTest, FeatureProbeAgreesWithKernel) {
  const KernelFeatures& f = Features();
  EXPECT_FALSE(f.release.empty());
  EXPECT_EQ(f.btf_source, "/sys/kernel/btf/vmlinux");
  for (AttachKind kind :
       {AttachKind::kTracepoint, AttachKind::kRawTracepoint, AttachKind::kTpBtf,
        AttachKind::kUprobe, AttachKind::kUretprobe}) {
    EXPECT_OK(f.Check(kind)) << AttachKindName(kind);
  }
  EXPECT_EQ(f.Check(AttachKind::kKprobe).ok(), KernelHasKprobes());
  EXPECT_EQ(f.Check(AttachKind::kKretprobe).ok(), KernelHasKprobes());
}

// Runs `fn` in a child process whose effective capabilities lack `drop`, and
// returns the status message it reports, prefixed by its code.
std::string InChildWithout(std::vector<int> drop,
                           absl::Status (*fn)()) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    syscall(SYS_capget, &header, data);
    for (int cap : drop) data[cap / 32].effective &= ~(1u << (cap % 32));
    syscall(SYS_capset, &header, data);
    absl::Status s = fn();
    std::string out = absl::StrCat(absl::StatusCodeToString(s.code()), ": ",
                                   s.message());
    (void)!write(fds[1], out.data(), out.size());
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  return out;
}

TEST_F(BpfCounterTest, MissingCapabilitiesArePermissionDenied) {
  constexpr int kCapPerfmon = 38, kCapBpf = 39;
  std::string out = InChildWithout(
      {CAP_SYS_ADMIN, kCapBpf, kCapPerfmon}, [] {
        return BpfCounter::Create(
                   {AttachKind::kRawTracepoint, "", "sys_enter", ""},
                   CounterOptions{})
            .status();
      });
  EXPECT_THAT(out, AllOf(HasSubstr("PERMISSION_DENIED"), HasSubstr("CAP_BPF"),
                         HasSubstr("CAP_PERFMON")));
  out = InChildWithout({CAP_SYS_ADMIN, kCapPerfmon}, [] {
    KernelFeatures f = ProbeKernelFeatures();
    return f.Check(AttachKind::kTracepoint);
  });
  EXPECT_THAT(out, AllOf(HasSubstr("PERMISSION_DENIED"),
                         HasSubstr("lacks CAP_PERFMON")));
}

}  // namespace
}  // namespace tally
