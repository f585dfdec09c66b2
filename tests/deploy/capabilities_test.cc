// tallyd with exactly the capabilities the DaemonSet and the systemd unit
// grant (deploy/capabilities.txt, the single source both are rendered from):
//
//  - it starts, counts the test's own getppid() calls exactly, and stops;
//  - with any one of those capabilities removed, it still starts, StartProbe
//    fails with PERMISSION_DENIED naming the missing capability, and it keeps
//    serving (no crash);
//  - its memory stays inside the DaemonSet's requests and limits;
//  - the runtime image's file tree (deploy/collect-runtime.sh, as the
//    Dockerfile runs it) runs it the way Kubernetes would: chrooted, with
//    read-only bind mounts of BTF and tracefs only, and the same capabilities.
//
// The capability set is made the way a container runtime or systemd makes it
// for a root process: everything else is dropped from the bounding set
// (capsh --drop) before exec'ing tallyd as uid 0, so its permitted and
// effective sets are exactly the listed ones. Each test reads
// /proc/PID/status to prove it.
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tally/v1/agent.grpc.pb.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/events.h"
#include "tests/testing/subprocess.h"

namespace tally {
namespace {

using ::tally::testing::CallGetppid;
using ::tally::testing::GetppidProbe;

using ::tally::testing::AgentProcess;
using ::tally::testing::ContextWithDeadline;
using ::tally::testing::RunfilePath;
using ::testing::HasSubstr;

constexpr int kEvents = 1000;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "CAP_BPF" names from deploy/capabilities.txt, in file order.
std::vector<std::string> ListedCapabilities() {
  std::vector<std::string> names;
  for (absl::string_view line :
       absl::StrSplit(ReadFile(RunfilePath("deploy/capabilities.txt")), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    names.emplace_back(words[0]);
  }
  return names;
}

// The capability's number, as libcap knows it ("cap_bpf (39) [...]").
int CapabilityNumber(const std::string& name) {
  testing::RunResult r = testing::Run(
      {"capsh", absl::StrCat("--explain=", absl::AsciiStrToLower(name))});
  std::smatch m;
  static const std::regex kNumber(R"(\((\d+)\))");
  int number = -1;
  if (r.exit_code == 0 && std::regex_search(r.out, m, kNumber)) {
    absl::SimpleAtoi(m[1].str(), &number);
  }
  return number;
}

int LastCapability() {
  int last = 40;
  absl::SimpleAtoi(
      absl::StripAsciiWhitespace(ReadFile("/proc/sys/kernel/cap_last_cap")),
      &last);
  return last;
}

// A command-line prefix that runs the rest with only `keep` (as uid 0).
std::vector<std::string> CapshKeeping(const std::set<int>& keep) {
  std::vector<std::string> drop;
  for (int cap = 0; cap <= LastCapability(); ++cap) {
    if (keep.count(cap) == 0) drop.push_back(absl::StrCat(cap));
  }
  return {"capsh", absl::StrCat("--drop=", absl::StrJoin(drop, ",")), "--",
          "-c", "exec \"$0\" \"$@\""};
}

uint64_t Mask(const std::set<int>& caps) {
  uint64_t mask = 0;
  for (int cap : caps) mask |= uint64_t{1} << cap;
  return mask;
}

// "CapEff" etc. from /proc/PID/status; "VmRSS" in kB.
std::map<std::string, std::string> ProcStatus(pid_t pid) {
  std::map<std::string, std::string> fields;
  for (absl::string_view line :
       absl::StrSplit(ReadFile(absl::StrCat("/proc/", pid, "/status")), '\n')) {
    std::vector<absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits(':', 1));
    if (kv.size() == 2) {
      fields[std::string(kv[0])] =
          std::string(absl::StripAsciiWhitespace(kv[1]));
    }
  }
  return fields;
}

uint64_t HexField(const std::map<std::string, std::string>& status,
                  const std::string& key) {
  uint64_t value = ~uint64_t{0};
  auto it = status.find(key);
  if (it != status.end()) absl::SimpleHexAtoi(it->second, &value);
  return value;
}

uint64_t KbField(const std::map<std::string, std::string>& status,
                 const std::string& key) {
  uint64_t kb = 0;
  auto it = status.find(key);
  if (it != status.end()) {
    absl::SimpleAtoi(absl::StripSuffix(it->second, " kB"), &kb);
  }
  return kb;
}

// The tallyd container's memory request and limit in MiB, from
// deploy/kubernetes/daemonset.yaml ("resources:", "requests:"/"limits:",
// "memory: NMi").
std::map<std::string, uint64_t> DaemonSetMemoryMiB() {
  std::map<std::string, uint64_t> out;
  std::string section;
  bool in_resources = false;
  size_t resources_indent = 0;
  for (absl::string_view line : absl::StrSplit(
           ReadFile(RunfilePath("deploy/kubernetes/daemonset.yaml")), '\n')) {
    absl::string_view text = absl::StripLeadingAsciiWhitespace(line);
    size_t indent = line.size() - text.size();
    if (text.empty() || text[0] == '#') continue;
    if (!in_resources) {
      if (text == "resources:") {
        in_resources = true;
        resources_indent = indent;
      }
      continue;
    }
    if (indent <= resources_indent) break;
    if (text == "requests:" || text == "limits:") {
      section = std::string(absl::StripSuffix(text, ":"));
    } else if (absl::ConsumePrefix(&text, "memory: ") &&
               absl::ConsumeSuffix(&text, "Mi")) {
      uint64_t mib = 0;
      if (absl::SimpleAtoi(text, &mib)) out[section] = mib;
    }
  }
  return out;
}

class DeployCapabilitiesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TALLY_REQUIRE_BPF();
    // The host's job in production (systemd mounts it; the DaemonSet
    // mounts the host's); tallyd has no CAP_SYS_ADMIN to do it.
    if (access("/sys/kernel/tracing/events", F_OK) != 0 &&
        access("/sys/kernel/debug/tracing/events", F_OK) != 0) {
      ASSERT_EQ(mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nullptr), 0)
          << "mounting tracefs: " << strerror(errno);
    }
    names_ = ListedCapabilities();
    ASSERT_FALSE(names_.empty()) << "deploy/capabilities.txt lists nothing";
    for (const std::string& name : names_) {
      int number = CapabilityNumber(name);
      ASSERT_GE(number, 0) << "capsh does not know " << name;
      numbers_[name] = number;
    }
  }

  std::set<int> Listed() const {
    std::set<int> caps;
    for (const auto& [name, number] : numbers_) caps.insert(number);
    return caps;
  }

  // Starts tallyd behind `wrapper` and checks that it runs with exactly
  // `caps` (permitted, effective and bounding).
  std::unique_ptr<AgentProcess> StartWith(const std::set<int>& caps,
                                          std::vector<std::string> wrapper) {
    AgentProcess::Options options;
    options.wrapper = std::move(wrapper);
    auto agent = AgentProcess::Start(options);
    EXPECT_TRUE(agent.ok()) << agent.status();
    if (!agent.ok()) return nullptr;
    std::map<std::string, std::string> status = ProcStatus((*agent)->pid());
    EXPECT_EQ(status["Name"], "tallyd");
    EXPECT_EQ(HexField(status, "CapEff"), Mask(caps)) << status["CapEff"];
    EXPECT_EQ(HexField(status, "CapPrm"), Mask(caps)) << status["CapPrm"];
    EXPECT_EQ(HexField(status, "CapBnd"), Mask(caps)) << status["CapBnd"];
    EXPECT_EQ(HexField(status, "CapAmb"), 0u) << status["CapAmb"];
    return *std::move(agent);
  }

  // Counts kEvents of this process's getppid() calls and stops the probe.
  void ExpectExactCount(AgentProcess& agent) {
    auto stub = agent.NewStub();
    v1::StartProbeResponse started;
    grpc::Status s = stub->StartProbe(ContextWithDeadline().get(),
                                      GetppidProbe("getppid"), &started);
    ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message() << "\n"
                        << agent.Log();
    EXPECT_EQ(started.probe().mechanism(), "tracepoint");
    CallGetppid(kEvents);
    v1::StopProbeRequest stop;
    stop.set_name("getppid");
    v1::StopProbeResponse stopped;
    s = stub->StopProbe(ContextWithDeadline().get(), stop, &stopped);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(stopped.probe().total(), static_cast<uint64_t>(kEvents));
  }

  void ExpectCleanExit(AgentProcess& agent) {
    agent.Signal(SIGTERM);
    absl::StatusOr<int> code = agent.WaitExit(absl::Seconds(20));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0) << agent.Log();
  }

  std::vector<std::string> names_;
  std::map<std::string, int> numbers_;
};

TEST_F(DeployCapabilitiesTest, ListedSetStartsCountsAndStops) {
  std::set<int> caps = Listed();
  std::unique_ptr<AgentProcess> agent = StartWith(caps, CapshKeeping(caps));
  ASSERT_NE(agent, nullptr);

  v1::GetInfoResponse info;
  ASSERT_TRUE(
      agent->NewStub()->GetInfo(ContextWithDeadline().get(), {}, &info).ok());
  std::map<std::string, v1::AttachKindSupport> kinds;
  for (const auto& k : info.attach_kinds()) kinds[k.kind()] = k;
  // What the DaemonSet promises (docs/deploy.md): these work with the set.
  for (const char* kind : {"tracepoint", "raw_tp", "tp_btf"}) {
    EXPECT_TRUE(kinds[kind].supported())
        << kind << ": " << kinds[kind].reason();
  }

  ExpectExactCount(*agent);
  ExpectCleanExit(*agent);
}

// Durable probes under exactly the deployed capabilities: pinned in bpffs,
// re-adopted by the next agent after a kill -9, counting on throughout
// (this kernel pins tracepoint links).
TEST_F(DeployCapabilitiesTest, ProbesArePinnedAndReadoptedWithTheListedSet) {
  std::set<int> caps = Listed();
  const std::string pin_dir =
      absl::StrCat("/sys/fs/bpf/tally-test-caps-", getpid());
  auto start = [&] {
    AgentProcess::Options options;
    options.wrapper = CapshKeeping(caps);
    options.pin_dir = pin_dir;
    auto agent = AgentProcess::Start(options);
    EXPECT_TRUE(agent.ok()) << agent.status();
    return agent.ok() ? *std::move(agent) : nullptr;
  };
  std::unique_ptr<AgentProcess> agent = start();
  ASSERT_NE(agent, nullptr);
  v1::GetInfoResponse info;
  ASSERT_TRUE(
      agent->NewStub()->GetInfo(ContextWithDeadline().get(), {}, &info).ok());
  EXPECT_EQ(info.pin_dir(), pin_dir);
  EXPECT_EQ(info.warnings_size(), 0) << info.warnings(0);
  v1::StartProbeResponse started;
  ASSERT_TRUE(agent->NewStub()
                  ->StartProbe(ContextWithDeadline().get(),
                               GetppidProbe("durable"), &started)
                  .ok());
  CallGetppid(kEvents);
  agent->Signal(SIGKILL);
  ASSERT_TRUE(agent->WaitExit(absl::Seconds(20)).ok());
  CallGetppid(kEvents);  // nobody's watching: the pinned link counts on
  agent = start();
  ASSERT_NE(agent, nullptr);
  v1::ListProbesResponse list;
  ASSERT_TRUE(agent->NewStub()
                  ->ListProbes(ContextWithDeadline().get(), {}, &list)
                  .ok());
  ASSERT_EQ(list.probes_size(), 1);
  EXPECT_EQ(list.probes(0).probe_id(), started.probe().probe_id());
  EXPECT_TRUE(list.probes(0).readopted());
  EXPECT_EQ(list.probes(0).total(), 2u * kEvents)
      << list.probes(0).continuity();
  v1::StopProbeRequest stop;
  stop.set_name("durable");
  v1::StopProbeResponse stopped;
  ASSERT_TRUE(agent->NewStub()
                  ->StopProbe(ContextWithDeadline().get(), stop, &stopped)
                  .ok());
  ExpectCleanExit(*agent);
  std::error_code ignored;
  std::filesystem::remove_all(pin_dir, ignored);
}

TEST_F(DeployCapabilitiesTest,
       EachMissingCapabilityIsNamedAndTallydKeepsServing) {
  for (const std::string& missing : names_) {
    SCOPED_TRACE(absl::StrCat("without ", missing));
    std::set<int> caps = Listed();
    caps.erase(numbers_[missing]);
    std::unique_ptr<AgentProcess> agent = StartWith(caps, CapshKeeping(caps));
    ASSERT_NE(agent, nullptr);
    auto stub = agent->NewStub();

    for (const char* hook : {"tracepoint:syscalls:sys_enter_getppid",
                             "rawtracepoint:sys_enter", "tp_btf:sys_enter"}) {
      v1::StartProbeRequest req = GetppidProbe("denied");
      req.set_hook(hook);
      v1::StartProbeResponse resp;
      grpc::Status s =
          stub->StartProbe(ContextWithDeadline().get(), req, &resp);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
          << hook << ": " << s.error_message();
      EXPECT_THAT(s.error_message(), HasSubstr(missing)) << hook;
    }
    // Still serving, nothing half-started.
    v1::ListProbesResponse list;
    ASSERT_TRUE(stub->ListProbes(ContextWithDeadline().get(), {}, &list).ok());
    EXPECT_EQ(list.probes_size(), 0);
    v1::GetInfoResponse info;
    ASSERT_TRUE(stub->GetInfo(ContextWithDeadline().get(), {}, &info).ok());
    for (const auto& k : info.attach_kinds()) {
      EXPECT_FALSE(k.supported()) << k.kind();
      EXPECT_THAT(k.reason(), HasSubstr(missing)) << k.kind();
    }
    ExpectCleanExit(*agent);
  }
}

// Uprobes need CAP_SYS_ADMIN: Linux restricts the uprobe PMU that libbpf
// attaches through to it (kernel/events/core.c, perf_uprobe_event_init), and
// deploy/capabilities.txt deliberately leaves it out. What a user needs is a
// PERMISSION_DENIED naming it.
TEST_F(DeployCapabilitiesTest, UprobeWithoutSysAdminSaysWhatIsMissing) {
  std::set<int> caps = Listed();
  std::unique_ptr<AgentProcess> agent = StartWith(caps, CapshKeeping(caps));
  ASSERT_NE(agent, nullptr);
  v1::StartProbeRequest req = GetppidProbe("uprobe");
  req.set_hook("uprobe:/bin/sh:main");
  v1::StartProbeResponse resp;
  grpc::Status s =
      agent->NewStub()->StartProbe(ContextWithDeadline().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("CAP_SYS_ADMIN"));
  ExpectCleanExit(*agent);
}

// The DaemonSet's requests and limits come from this measurement: idle,
// then 12 probes (a third grouped by comm) and 4 watch streams.
TEST_F(DeployCapabilitiesTest, FootprintFitsTheDaemonSetResources) {
  std::map<std::string, uint64_t> mib = DaemonSetMemoryMiB();
  ASSERT_GT(mib["requests"], 0u) << "no memory request in daemonset.yaml";
  ASSERT_GT(mib["limits"], 0u) << "no memory limit in daemonset.yaml";

  std::set<int> caps = Listed();
  std::unique_ptr<AgentProcess> agent = StartWith(caps, CapshKeeping(caps));
  ASSERT_NE(agent, nullptr);
  auto stub = agent->NewStub();
  uint64_t idle_kb = KbField(ProcStatus(agent->pid()), "VmRSS");

  const char* hooks[] = {"tracepoint:syscalls:sys_enter_openat",
                         "rawtracepoint:sys_enter", "tp_btf:sched_switch"};
  for (int i = 0; i < 12; ++i) {
    v1::StartProbeRequest req;
    req.set_name(absl::StrCat("p", i));
    req.set_hook(hooks[i % 3]);
    if (i % 3 == 2) req.set_group_by(v1::GROUP_BY_COMM);
    v1::StartProbeResponse resp;
    grpc::Status s = stub->StartProbe(ContextWithDeadline().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << req.hook() << ": " << s.error_message();
  }
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::WatchCountsResponse>>>
      readers;
  for (int w = 0; w < 4; ++w) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    v1::WatchCountsRequest wreq;
    wreq.mutable_interval()->set_nanos(100 * 1000 * 1000);
    wreq.set_top_n(10);
    readers.push_back(stub->WatchCounts(contexts.back().get(), wreq));
  }
  // Twenty rounds of updates on every stream.
  for (auto& reader : readers) {
    v1::WatchCountsResponse update;
    for (int i = 0; i < 20 * 12 && reader->Read(&update); ++i) {
    }
  }
  std::map<std::string, std::string> status = ProcStatus(agent->pid());
  uint64_t busy_kb = KbField(status, "VmRSS");
  uint64_t peak_kb = KbField(status, "VmHWM");
  RecordProperty("idle_rss_kb", static_cast<int>(idle_kb));
  RecordProperty("busy_rss_kb", static_cast<int>(busy_kb));
  RecordProperty("peak_rss_kb", static_cast<int>(peak_kb));
  std::cout << "tallyd RSS: idle " << idle_kb << " kB, 12 probes + 4 watchers "
            << busy_kb << " kB, peak " << peak_kb << " kB\n";
  EXPECT_LT(busy_kb, mib["requests"] * 1024) << "over the memory request";
  EXPECT_LT(peak_kb, mib["limits"] * 1024) << "over the memory limit";

  for (auto& context : contexts) context->TryCancel();
  for (auto& reader : readers) reader->Finish();
  ExpectCleanExit(*agent);
}

// The runtime image's tree, staged by deploy/collect-runtime.sh exactly as
// deploy/Dockerfile does, runs tallyd as the DaemonSet would: chrooted into
// it, in its own mount namespace with /proc, a read-only /sys, read-only
// binds of the host's BTF and tracefs and a writable one of its bpffs (the
// DaemonSet's hostPath volumes), and the listed capabilities.
TEST_F(DeployCapabilitiesTest, RuntimeImageTreeRunsLikeTheDaemonSet) {
  const std::string root = testing::MakeTempDir() + "/rootfs";
  testing::RunResult staged = testing::Run(
      {RunfilePath("deploy/collect-runtime.sh"), root,
       RunfilePath("agent/tallyd"), RunfilePath("client/tallyctl")});
  ASSERT_EQ(staged.exit_code, 0) << staged.err;

  std::set<int> caps = Listed();
  std::vector<std::string> capsh = CapshKeeping(caps);
  // In the mount namespace: mount what a container runtime would, bind the
  // agent's temp dir (socket, ready file) at the same path, then chroot,
  // drop capabilities and exec the image's tallyd with tallyd's arguments
  // ($1, the host tallyd, is not used).
  const std::string script =
      absl::StrCat(R"(
    set -e
    root=$0
    shift
    for a in "$@"; do
      case $a in --ready_file=*) dir=$(dirname "${a#--ready_file=}") ;; esac
    done
    mkdir -p "$root/proc" "$root/sys" "$root$dir"
    mount -t proc proc "$root/proc"
    mount -t sysfs -o ro sysfs "$root/sys"
    for path in /sys/kernel/btf /sys/kernel/tracing; do
      mount --bind "$path" "$root$path"
      mount -o remount,bind,ro "$root$path"
    done
    # The host's bpffs, writable: probes are pinned there (hostPath).
    mount --bind /sys/fs/bpf "$root/sys/fs/bpf"
    mount --bind "$dir" "$root$dir"
    exec capsh --chroot="$root" )",
                   capsh[1], R"( --shell=/usr/local/bin/tallyd -- "$@"
  )");
  std::vector<std::string> wrapper = {"unshare", "--mount", "--propagation",
                                      "private", "--",      "sh",
                                      "-c",      script,    root};
  std::unique_ptr<AgentProcess> agent = StartWith(caps, wrapper);
  ASSERT_NE(agent, nullptr);
  EXPECT_EQ(std::filesystem::read_symlink(
                absl::StrCat("/proc/", agent->pid(), "/root")),
            root);

  ExpectExactCount(*agent);
  ExpectCleanExit(*agent);
  std::error_code ignored;
  std::filesystem::remove_all(std::filesystem::path(root).parent_path(),
                              ignored);
}

}  // namespace
}  // namespace tally
