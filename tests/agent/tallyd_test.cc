// End to end: a real tallyd process, real gRPC over its unix socket, real BPF
// on the running kernel.
#include <bpf/bpf.h>
#include <grpcpp/generic/generic_stub.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/events.h"

namespace tally {
namespace {

using ::tally::testing::CallGetppid;
using ::tally::testing::GetppidProbe;

using ::tally::testing::AgentProcess;
using ::tally::testing::HeldBpfIds;
using ::tally::testing::ContextWithDeadline;
using ::testing::HasSubstr;

constexpr int kEvents = 500;



class TallydTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TALLY_REQUIRE_BPF();
    StartAgent({});
  }

  void StartAgent(std::vector<std::string> args) {
    AgentProcess::Options options;
    options.args = std::move(args);
    auto agent = AgentProcess::Start(options);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
    stub_ = agent_->NewStub();
  }

  grpc::Status Start(const v1::StartProbeRequest& req,
                     v1::StartProbeResponse* resp) {
    return stub_->StartProbe(ContextWithDeadline().get(), req, resp);
  }
  grpc::Status Stop(const std::string& name, v1::StopProbeResponse* resp) {
    v1::StopProbeRequest req;
    req.set_name(name);
    return stub_->StopProbe(ContextWithDeadline().get(), req, resp);
  }
  std::vector<v1::Probe> List() {
    v1::ListProbesResponse resp;
    grpc::Status s =
        stub_->ListProbes(ContextWithDeadline().get(), {}, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.probes().begin(), resp.probes().end()};
  }

  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<v1::Agent::Stub> stub_;
};

TEST_F(TallydTest, GetInfoDescribesNodeKernelAndLimits) {
  v1::GetInfoResponse info;
  ASSERT_TRUE(stub_->GetInfo(ContextWithDeadline().get(), {}, &info).ok());
  EXPECT_EQ(info.node(), "test-node");
  struct utsname u;
  uname(&u);
  EXPECT_EQ(info.kernel_release(), u.release);
  EXPECT_EQ(info.btf_source(), "/sys/kernel/btf/vmlinux");
  EXPECT_FALSE(info.agent_version().empty());
  EXPECT_EQ(info.epoch().size(), 16u);
  std::map<std::string, bool> kinds;
  for (const auto& k : info.attach_kinds()) {
    kinds[k.kind()] = k.supported();
    if (!k.supported()) {
      EXPECT_FALSE(k.reason().empty()) << k.kind();
    }
  }
  EXPECT_EQ(kinds.size(), 9u);
  EXPECT_TRUE(kinds["tracepoint"]);
  EXPECT_TRUE(kinds["raw_tp"]);
  EXPECT_EQ(kinds["kprobe"],
            access("/sys/bus/event_source/devices/kprobe", F_OK) == 0);
  EXPECT_GT(info.limits().max_probes(), 0u);
  EXPECT_GT(info.limits().min_interval().nanos() +
                info.limits().min_interval().seconds(),
            0);
}

// A restart on the same boot (upgrade of config, crash) answers from the
// first start's probe, and says so.
TEST_F(TallydTest, RestartOnTheSameBootServesCachedKernelFeatures) {
  const std::string cache =
      absl::StrCat(::testing::TempDir(), "/features-", getpid());
  auto info = [&] {
    v1::GetInfoResponse r;
    grpc::Status s = stub_->GetInfo(ContextWithDeadline().get(), {}, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return r;
  };
  auto kinds = [](const v1::GetInfoResponse& r) {
    std::map<std::string, std::string> out;
    for (const auto& k : r.attach_kinds()) {
      out[k.kind()] = k.supported() ? "yes" : k.reason();
    }
    return out;
  };
  StartAgent({"--feature_cache=" + cache});
  v1::GetInfoResponse first = info();
  EXPECT_TRUE(absl::StartsWith(first.attach_kinds_source(),
                               "probed at start-up in "))
      << first.attach_kinds_source();
  StartAgent({"--feature_cache=" + cache});
  v1::GetInfoResponse second = info();
  EXPECT_TRUE(absl::StartsWith(second.attach_kinds_source(), "cached: "))
      << second.attach_kinds_source();
  EXPECT_THAT(second.attach_kinds_source(), HasSubstr(cache));
  EXPECT_EQ(kinds(second), kinds(first));
  EXPECT_THAT(agent_->Log(), HasSubstr("(cached: probed by this binary"));
  // Without a cache every start probes.
  StartAgent({"--feature_cache="});
  EXPECT_TRUE(absl::StartsWith(info().attach_kinds_source(), "probed"));
}

TEST_F(TallydTest, StartCountWatchStopWithFinalUpdate) {
  v1::StartProbeResponse started;
  ASSERT_TRUE(Start(GetppidProbe("getppid"), &started).ok());
  EXPECT_TRUE(started.created());
  EXPECT_EQ(started.probe().mechanism(), "tracepoint");
  EXPECT_EQ(started.probe().attached(), "tracepoint:syscalls:sys_enter_getppid");
  EXPECT_EQ(started.probe().state(), v1::PROBE_STATE_RUNNING);

  grpc::ClientContext watch_ctx;
  watch_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::WatchCountsRequest wreq;
  wreq.add_probes("getppid");
  wreq.mutable_interval()->set_nanos(100 * 1000 * 1000);
  auto reader = stub_->WatchCounts(&watch_ctx, wreq);

  v1::WatchCountsResponse update;
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_TRUE(update.snapshot());
  EXPECT_EQ(update.node(), "test-node");
  EXPECT_EQ(update.probe(), "getppid");
  EXPECT_EQ(update.total(), 0u);

  CallGetppid(kEvents);
  uint64_t last_seq = update.seq();
  while (update.total() < kEvents && reader->Read(&update)) {
    EXPECT_GT(update.seq(), last_seq);
    last_seq = update.seq();
  }
  ASSERT_EQ(update.total(), static_cast<uint64_t>(kEvents));
  EXPECT_EQ(update.state(), v1::PROBE_STATE_RUNNING);

  std::vector<v1::Probe> probes = List();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0].total(), static_cast<uint64_t>(kEvents));

  v1::StopProbeResponse stopped;
  ASSERT_TRUE(Stop("getppid", &stopped).ok());
  EXPECT_EQ(stopped.probe().total(), static_cast<uint64_t>(kEvents));
  EXPECT_EQ(stopped.probe().state(), v1::PROBE_STATE_STOPPED);

  // The final update follows, whatever periodic ones (or a heartbeat, for a
  // tick that found the probe already detaching) came before it.
  while ((update.heartbeat() || update.state() == v1::PROBE_STATE_RUNNING) &&
         reader->Read(&update)) {
  }
  EXPECT_EQ(update.state(), v1::PROBE_STATE_STOPPED);
  EXPECT_EQ(update.total(), static_cast<uint64_t>(kEvents));
  EXPECT_TRUE(List().empty());
  watch_ctx.TryCancel();
}

TEST_F(TallydTest, StartIsIdempotentByNameAndConflictsOnOtherSpec) {
  v1::StartProbeResponse first, again, conflict;
  ASSERT_TRUE(Start(GetppidProbe("same"), &first).ok());
  ASSERT_TRUE(Start(GetppidProbe("same"), &again).ok());
  EXPECT_TRUE(first.created());
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.probe().probe_id(), first.probe().probe_id());

  v1::StartProbeRequest other = GetppidProbe("same");
  other.set_hook("rawtracepoint:sys_enter");
  grpc::Status s = Start(other, &conflict);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(s.error_message(), HasSubstr("already runs"));
  EXPECT_EQ(List().size(), 1u);
}

TEST_F(TallydTest, DefaultNameComesFromTheHook) {
  v1::StartProbeRequest req = GetppidProbe("");
  req.set_hook("syscall:getppid");
  v1::StartProbeResponse resp;
  ASSERT_TRUE(Start(req, &resp).ok());
  EXPECT_EQ(resp.probe().name(), "syscall-getppid");
  EXPECT_EQ(resp.probe().hook(), "syscall:getppid");
  EXPECT_FALSE(resp.probe().mechanism_note().empty());
  CallGetppid(kEvents);
  std::vector<v1::Probe> probes = List();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0].total(), static_cast<uint64_t>(kEvents));
}

TEST_F(TallydTest, TtlExpiryStopsTheProbeAndRestartRenews) {
  v1::StartProbeRequest req = GetppidProbe("short");
  req.mutable_ttl()->set_nanos(500 * 1000 * 1000);
  v1::StartProbeResponse resp;
  ASSERT_TRUE(Start(req, &resp).ok());
  EXPECT_TRUE(resp.probe().has_expires_at());

  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::WatchCountsRequest wreq;
  wreq.add_probes("short");
  auto reader = stub_->WatchCounts(&ctx, wreq);
  CallGetppid(10);
  v1::WatchCountsResponse update;
  bool expired = false;
  while (reader->Read(&update)) {
    if (update.state() == v1::PROBE_STATE_EXPIRED) {
      expired = true;
      break;
    }
  }
  ASSERT_TRUE(expired) << "no final EXPIRED update";
  EXPECT_EQ(update.total(), 10u);
  // Listed as expired with its final total until stopped or started again.
  std::vector<v1::Probe> listed = List();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state(), v1::PROBE_STATE_EXPIRED);
  EXPECT_EQ(listed[0].total(), 10u);

  // Starting it again creates a fresh incarnation.
  v1::StartProbeResponse again;
  ASSERT_TRUE(Start(req, &again).ok());
  EXPECT_TRUE(again.created());
  EXPECT_NE(again.probe().probe_id(), resp.probe().probe_id());
  ctx.TryCancel();
}

TEST_F(TallydTest, WatchAllIncludesProbesStartedLater) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::WatchCountsRequest wreq;
  wreq.mutable_interval()->set_nanos(100 * 1000 * 1000);
  auto reader = stub_->WatchCounts(&ctx, wreq);
  v1::StartProbeResponse resp;
  ASSERT_TRUE(Start(GetppidProbe("later"), &resp).ok());
  CallGetppid(kEvents);
  v1::WatchCountsResponse update;
  while (reader->Read(&update)) {
    if (update.probe() == "later" && update.total() == kEvents) break;
  }
  EXPECT_EQ(update.probe(), "later");
  EXPECT_EQ(update.total(), static_cast<uint64_t>(kEvents));
  ctx.TryCancel();
}

struct BadStart {
  const char* what;
  std::function<void(v1::StartProbeRequest&)> mutate;
  grpc::StatusCode code;
  const char* message;
};

TEST_F(TallydTest, InvalidRequestsGetExactCodesAndTheAgentKeepsServing) {
  const bool has_kprobes =
      access("/sys/bus/event_source/devices/kprobe", F_OK) == 0;
  std::vector<BadStart> cases = {
      {"empty hook", [](auto& r) { r.set_hook(""); },
       grpc::StatusCode::INVALID_ARGUMENT, "hook is empty"},
      {"bad syntax", [](auto& r) { r.set_hook("bogus:x"); },
       grpc::StatusCode::INVALID_ARGUMENT, "unknown probe type 'bogus'"},
      {"unknown tracepoint",
       [](auto& r) { r.set_hook("tracepoint:sched:no_such_event"); },
       grpc::StatusCode::NOT_FOUND, "no_such_event"},
      {"unknown syscall", [](auto& r) { r.set_hook("syscall:no_such_call"); },
       grpc::StatusCode::NOT_FOUND, "unknown syscall"},
      {"unknown symbol",
       [](auto& r) { r.set_hook("uprobe:/bin/true:no_such_symbol"); },
       grpc::StatusCode::NOT_FOUND, "no_such_symbol"},
      {"bad name", [](auto& r) { r.set_name("bad name!"); },
       grpc::StatusCode::INVALID_ARGUMENT, "probe name"},
      {"bad group_by",
       [](auto& r) { r.set_group_by(static_cast<v1::GroupBy>(99)); },
       grpc::StatusCode::INVALID_ARGUMENT, "group_by"},
      {"too many keys", [](auto& r) { r.set_max_keys(1u << 30); },
       grpc::StatusCode::INVALID_ARGUMENT, "max_keys"},
      // Outside-run finding: accepted silently, bounding nothing.
      {"max_keys without group_by", [](auto& r) { r.set_max_keys(100); },
       grpc::StatusCode::INVALID_ARGUMENT, "give group_by too"},
      {"negative ttl", [](auto& r) { r.mutable_ttl()->set_seconds(-5); },
       grpc::StatusCode::INVALID_ARGUMENT, "ttl must be positive"},
      {"no such pid", [](auto& r) { r.set_pid(999999999); },
       grpc::StatusCode::NOT_FOUND, "no process with pid 999999999"},
      {"ttl beyond a year", [](auto& r) { r.mutable_ttl()->set_seconds(1ll << 40); },
       grpc::StatusCode::INVALID_ARGUMENT, "at most"},
      {"uprobe on a non-ELF file",
       [](auto& r) { r.set_hook("uprobe:/etc/passwd:main"); },
       grpc::StatusCode::INVALID_ARGUMENT, "not an ELF binary"},
      {"uprobe on a directory", [](auto& r) { r.set_hook("uprobe:/tmp:main"); },
       grpc::StatusCode::INVALID_ARGUMENT, "not a regular file"},
  };
  if (!has_kprobes) {
    cases.push_back({"kprobe on a kernel without kprobes",
                     [](auto& r) { r.set_hook("kprobe:vfs_read"); },
                     grpc::StatusCode::FAILED_PRECONDITION,
                     "cannot attach kprobe"});
  }
  for (const BadStart& c : cases) {
    SCOPED_TRACE(c.what);
    v1::StartProbeRequest req = GetppidProbe("bad");
    c.mutate(req);
    v1::StartProbeResponse resp;
    grpc::Status s = Start(req, &resp);
    EXPECT_EQ(s.error_code(), c.code) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.message));
  }

  v1::StopProbeResponse stop;
  EXPECT_EQ(Stop("nope", &stop).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Stop("", &stop).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Stop("bad name!", &stop).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  auto watch_error = [&](const v1::WatchCountsRequest& req) {
    auto ctx = ContextWithDeadline();
    auto reader = stub_->WatchCounts(ctx.get(), req);
    v1::WatchCountsResponse ignored;
    while (reader->Read(&ignored)) {
    }
    return reader->Finish();
  };
  v1::WatchCountsRequest fast;
  fast.mutable_interval()->set_nanos(1000);
  grpc::Status s = watch_error(fast);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("below this agent's minimum"));
  v1::WatchCountsRequest many;
  many.set_top_n(100000);
  EXPECT_EQ(watch_error(many).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::WatchCountsRequest unknown;
  unknown.add_probes("nope");
  s = watch_error(unknown);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("no probe named 'nope'"));

  // Still serving, and nothing was left behind.
  v1::GetInfoResponse info;
  EXPECT_TRUE(stub_->GetInfo(ContextWithDeadline().get(), {}, &info).ok());
  EXPECT_TRUE(List().empty());
}

TEST_F(TallydTest, ProbeAndWatcherLimitsAreResourceExhausted) {
  StartAgent({"--max_probes=2", "--max_watchers=2"});
  v1::StartProbeResponse resp;
  ASSERT_TRUE(Start(GetppidProbe("a"), &resp).ok());
  ASSERT_TRUE(Start(GetppidProbe("b"), &resp).ok());
  grpc::Status s = Start(GetppidProbe("c"), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("limit is 2"));

  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::WatchCountsResponse>>>
      readers;
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(ContextWithDeadline());
    readers.push_back(stub_->WatchCounts(contexts.back().get(), {}));
    v1::WatchCountsResponse first;
    ASSERT_TRUE(readers.back()->Read(&first));  // registered
  }
  auto ctx = ContextWithDeadline();
  auto third = stub_->WatchCounts(ctx.get(), {});
  v1::WatchCountsResponse ignored;
  EXPECT_FALSE(third->Read(&ignored));
  s = third->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("watchers"));
  for (auto& c : contexts) c->TryCancel();
}

// An agent without pinning (--pin_dir=): its probes end with it. (A durable
// agent's outlive it: tallyd_durable_test.)
TEST_F(TallydTest, SigtermEndsStreamsAndLeavesNothingAttached) {
  agent_.reset();
  AgentProcess::Options ephemeral;
  ephemeral.pin_dir = "-";
  ephemeral.args = {"--pin_dir="};
  auto agent = AgentProcess::Start(ephemeral);
  ASSERT_TRUE(agent.ok()) << agent.status();
  agent_ = *std::move(agent);
  stub_ = agent_->NewStub();
  v1::StartProbeResponse resp;
  ASSERT_TRUE(Start(GetppidProbe("one"), &resp).ok());
  v1::StartProbeRequest two = GetppidProbe("two");
  two.set_hook("rawtracepoint:sys_enter");
  ASSERT_TRUE(Start(two, &resp).ok());

  std::set<uint32_t> links = HeldBpfIds(agent_->pid(), "link_id:");
  std::set<uint32_t> progs;
  for (uint32_t link_id : links) {
    int fd = bpf_link_get_fd_by_id(link_id);
    ASSERT_GE(fd, 0);
    bpf_link_info info = {};
    uint32_t len = sizeof(info);
    ASSERT_EQ(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
    progs.insert(info.prog_id);
    close(fd);
  }
  ASSERT_EQ(progs.size(), 2u) << "expected one attached program per probe";

  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  auto reader = stub_->WatchCounts(&ctx, {});
  v1::WatchCountsResponse update;
  ASSERT_TRUE(reader->Read(&update));

  agent_->Signal(SIGTERM);
  std::set<std::string> finals;
  while (reader->Read(&update)) {
    if (update.state() == v1::PROBE_STATE_STOPPED) finals.insert(update.probe());
  }
  grpc::Status end = reader->Finish();
  EXPECT_TRUE(end.ok()) << end.error_message();
  EXPECT_EQ(finals, (std::set<std::string>{"one", "two"}));

  absl::StatusOr<int> code = agent_->WaitExit(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << agent_->Log();
  // The kernel frees programs and links after the last reference goes,
  // partly from deferred work: poll, bounded.
  auto gone = [](int (*get_fd)(uint32_t), uint32_t id) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      int fd = get_fd(id);
      if (fd < 0) return true;
      close(fd);
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  };
  for (uint32_t id : progs) {
    EXPECT_TRUE(gone(&bpf_prog_get_fd_by_id, id))
        << "program " << id << " is still loaded";
  }
  for (uint32_t id : links) {
    EXPECT_TRUE(gone(&bpf_link_get_fd_by_id, id)) << "link " << id << " still exists";
  }
}

// Calls grpc.health.v1.Health/Check for `service` ("": the whole server);
// the raw response.
absl::StatusOr<std::string> HealthCheck(std::shared_ptr<grpc::Channel> channel,
                                        const std::string& service = "") {
  grpc::GenericStub generic(channel);
  // HealthCheckRequest{service}: field 1, length-delimited; "" is no bytes.
  std::string encoded;
  if (!service.empty()) {
    encoded = std::string("\x0a") + static_cast<char>(service.size()) + service;
  }
  grpc::Slice slice(encoded);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  auto ctx = ContextWithDeadline();
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  generic.UnaryCall(ctx.get(), "/grpc.health.v1.Health/Check", {}, &request,
                    &response, [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      status = s;
                      done = true;
                      cv.notify_one();
                    });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return absl::InternalError("bad response");
  std::string bytes;
  for (const grpc::Slice& sl : slices) {
    bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  }
  return bytes;
}

// HealthCheckResponse{status: SERVING (1)}.
const std::string kServing("\x08\x01", 2);

TEST_F(TallydTest, HealthServiceReportsServing) {
  absl::StatusOr<std::string> health = HealthCheck(agent_->NewChannel());
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, kServing);
}

// Outside-client finding: health answered only for "", and NOT_FOUND for the
// API's own service name, which probes configured by service ask for.
TEST_F(TallydTest, HealthServiceAnswersForTheApiByName) {
  absl::StatusOr<std::string> health =
      HealthCheck(agent_->NewChannel(), "tally.v1.Agent");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, kServing);
}

TEST_F(TallydTest, HealthListenerServesHealthButNotTheApi) {
  StartAgent({"--health_listen=127.0.0.1:0"});
  std::ifstream ready(agent_->dir() + "/ready");
  std::string api, health_address;
  ASSERT_TRUE(std::getline(ready, api) && std::getline(ready, health_address));
  auto channel = grpc::CreateChannel(health_address,
                                     grpc::InsecureChannelCredentials());
  absl::StatusOr<std::string> health = HealthCheck(channel);
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, kServing);
  // Plaintext here must not reach anything that loads kernel programs.
  v1::GetInfoResponse info;
  grpc::Status s = v1::Agent::NewStub(channel)->GetInfo(
      ContextWithDeadline().get(), {}, &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace tally
