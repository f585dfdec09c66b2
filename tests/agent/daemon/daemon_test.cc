// The whole daemon in-process on fake counters and a fake clock: real gRPC
// over a unix socket, no root, no BPF. What tallyd_test checks on the real
// kernel, here deterministically: codes, idempotency, watch order, the final
// update on stop and the order of shutdown.
#include "agent/daemon/daemon.h"

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/agent/daemon/fake_counter.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/http_client.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::ContextWithDeadline;
using ::tally::testing::FakeClock;
using ::tally::testing::FakeCounterState;
using ::tally::testing::FakeStore;
using ::testing::HasSubstr;

KernelFeatures AllKinds() {
  KernelFeatures f;
  f.release = "6.0.0-fake";
  for (AttachKind kind : kAllAttachKinds) f.kinds[kind] = absl::OkStatus();
  return f;
}

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    DaemonConfig config;
    config.identity = {"fake-node", "epoch-1", clock_.Now()};
    config.listen.address = absl::StrCat("unix:", dir_, "/tallyd.sock");
    config.shutdown_grace = absl::Seconds(5);
    config.metrics_listen = "127.0.0.1:0";
    config.bpf_stats = &stats_;
    absl::StatusOr<std::unique_ptr<Daemon>> d =
        Daemon::Start(config, &features_, &store_, &clock_);
    ASSERT_OK(d.status());
    daemon_ = *std::move(d);
    stub_ = v1::Agent::NewStub(grpc::CreateChannel(
        daemon_->address(), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }

  grpc::Status Start(const std::string& name, const std::string& hook,
                     v1::StartProbeResponse* resp = nullptr) {
    v1::StartProbeRequest req;
    req.set_name(name);
    req.set_hook(hook);
    v1::StartProbeResponse ignored;
    return stub_->StartProbe(ContextWithDeadline().get(), req,
                             resp ? resp : &ignored);
  }

  FakeClock clock_;
  FakeStore store_;
  testing::FakeBpfStats stats_;
  KernelFeatures features_ = AllKinds();
  std::string dir_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<v1::Agent::Stub> stub_;
};

TEST_F(DaemonTest, StartIsIdempotentAndListed) {
  v1::StartProbeResponse first, second;
  ASSERT_TRUE(Start("execs", "rawtracepoint:sched_process_exec", &first).ok());
  EXPECT_TRUE(first.created());
  EXPECT_EQ(first.node(), "fake-node");
  EXPECT_EQ(first.probe().mechanism(), "raw_tp");
  ASSERT_TRUE(Start("execs", "rt:sched_process_exec", &second).ok());
  EXPECT_FALSE(second.created());
  EXPECT_EQ(second.probe().probe_id(), first.probe().probe_id());

  v1::ListProbesResponse list;
  ASSERT_TRUE(stub_->ListProbes(ContextWithDeadline().get(), {}, &list).ok());
  ASSERT_EQ(list.probes_size(), 1);
  EXPECT_EQ(list.probes(0).name(), "execs");
  EXPECT_EQ(store_.opens(), 1);
}

TEST_F(DaemonTest, ListProbesCarriesEachProbesCost) {
  v1::StartProbeResponse started;
  ASSERT_TRUE(Start("execs", "rawtracepoint:sched_process_exec", &started).ok());
  EXPECT_FALSE(started.probe().has_cost()) << "only ListProbes reads costs";
  {
    std::shared_ptr<FakeCounterState> c =
        store_.Latest("rawtracepoint:sched_process_exec");
    absl::MutexLock lock(&c->mu);
    c->cost.runs = 200;
    c->cost.run_time = absl::Nanoseconds(9000);
    c->cost.map_bytes = 4096;
  }
  EXPECT_EQ(stats_.holds(), 0);
  v1::ListProbesResponse list;
  ASSERT_TRUE(stub_->ListProbes(ContextWithDeadline().get(), {}, &list).ok());
  ASSERT_EQ(list.probes_size(), 1);
  const v1::ProbeCost& cost = list.probes(0).cost();
  EXPECT_EQ(cost.run_count(), 200u);
  EXPECT_EQ(cost.run_time().nanos(), 9000);
  EXPECT_EQ(cost.map_bytes(), 4096u);
  EXPECT_TRUE(cost.stats_on()) << "a listing asks for run-time statistics";
  EXPECT_EQ(cost.stats_since().seconds(), absl::ToUnixSeconds(clock_.Now()));
  EXPECT_EQ(cost.stats_problem(), "");
  EXPECT_EQ(stats_.holds(), 1);

  stats_.FailWith(absl::PermissionDeniedError("needs CAP_SYS_ADMIN"));
  clock_.Advance(absl::Minutes(11));  // the hold lapses...
  for (absl::Time deadline = absl::Now() + absl::Seconds(10);
       stats_.holds() > 0 && absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(2))) {
  }
  ASSERT_EQ(stats_.holds(), 0);
  ASSERT_TRUE(stub_->ListProbes(ContextWithDeadline().get(), {}, &list).ok());
  EXPECT_FALSE(list.probes(0).cost().stats_on());  // ...and cannot come back
  EXPECT_FALSE(list.probes(0).cost().has_stats_since());
  EXPECT_EQ(list.probes(0).cost().stats_problem(), "needs CAP_SYS_ADMIN");
}

TEST_F(DaemonTest, ServesMetricsUntilShutdown) {
  ASSERT_TRUE(Start("execs", "rawtracepoint:sched_process_exec").ok());
  store_.Latest("rawtracepoint:sched_process_exec")->Add(7);
  const std::string address = daemon_->metrics_address();
  ASSERT_FALSE(address.empty());
  absl::StatusOr<testing::HttpResponse> r =
      testing::HttpRequest(address, "GET", "/metrics");
  ASSERT_OK(r.status());
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("tally_probe_events_total{probe=\"execs\""));
  EXPECT_THAT(r->body, HasSubstr("tally_agent_info{version="));
  ASSERT_OK(daemon_->Shutdown());
  EXPECT_FALSE(testing::HttpRequest(address, "GET", "/metrics").ok())
      << "the metrics port closes on shutdown";
}

TEST(DaemonStartTest, MetricsAndStatisticsProblemsAtStart) {
  FakeClock clock;
  FakeStore store;
  KernelFeatures features = AllKinds();
  const std::string dir = testing::MakeTempDir();
  DaemonConfig config;
  config.identity = {"fake-node", "epoch-1", clock.Now()};
  config.listen.address = absl::StrCat("unix:", dir, "/tallyd.sock");
  config.metrics_listen = "[::1]:0";
  EXPECT_THAT(Daemon::Start(config, &features, &store, &clock).status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("IPv6")));
  // Always-on statistics the kernel refuses: serving anyway, with a warning.
  testing::FakeBpfStats stats;
  stats.FailWith(absl::PermissionDeniedError("needs CAP_SYS_ADMIN"));
  config.metrics_listen = "";
  config.bpf_stats = &stats;
  config.bpf_stats_mode = BpfStatsMode::kAlways;
  absl::StatusOr<std::unique_ptr<Daemon>> d =
      Daemon::Start(config, &features, &store, &clock);
  ASSERT_OK(d.status());
  auto stub = v1::Agent::NewStub(grpc::CreateChannel(
      (*d)->address(), grpc::InsecureChannelCredentials()));
  v1::GetInfoResponse info;
  ASSERT_TRUE(stub->GetInfo(ContextWithDeadline().get(), {}, &info).ok());
  ASSERT_EQ(info.warnings_size(), 1);
  EXPECT_THAT(info.warnings(0), HasSubstr("--bpf_stats=always"));
  EXPECT_THAT(info.warnings(0), HasSubstr("needs CAP_SYS_ADMIN"));
  d->reset();
  std::filesystem::remove_all(dir);
}

TEST_F(DaemonTest, BadRequestsGetTheirCodes) {
  EXPECT_EQ(Start("x", "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Start("x", "nope:thing").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Start("bad name", "rt:x").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  store_.FailWith("kprobe:missing_fn",
                  absl::NotFoundError("kernel function missing_fn"));
  grpc::Status missing = Start("k", "kprobe:missing_fn");
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(missing.error_message(), HasSubstr("missing_fn"));
  ASSERT_TRUE(Start("p", "rt:x").ok());
  EXPECT_EQ(Start("p", "rt:y").error_code(), grpc::StatusCode::ALREADY_EXISTS);

  v1::StopProbeRequest stop;
  v1::StopProbeResponse stopped;
  stop.set_name("absent");
  EXPECT_EQ(stub_->StopProbe(ContextWithDeadline().get(), stop, &stopped)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);

  auto watch_code = [&](const v1::WatchCountsRequest& req) {
    grpc::ClientContext ctx;
    auto reader = stub_->WatchCounts(&ctx, req);
    v1::WatchCountsResponse u;
    while (reader->Read(&u)) {
    }
    return reader->Finish().error_code();
  };
  v1::WatchCountsRequest fast;
  fast.mutable_interval()->set_nanos(1000);
  EXPECT_EQ(watch_code(fast), grpc::StatusCode::INVALID_ARGUMENT);
  v1::WatchCountsRequest many_keys;
  many_keys.set_top_n(100000);
  EXPECT_EQ(watch_code(many_keys), grpc::StatusCode::INVALID_ARGUMENT);
  v1::WatchCountsRequest unknown;
  unknown.add_probes("absent");
  EXPECT_EQ(watch_code(unknown), grpc::StatusCode::NOT_FOUND);
}

TEST_F(DaemonTest, WatchGetsSnapshotTicksAndTheFinalUpdateOnStop) {
  ASSERT_TRUE(Start("p", "rt:x").ok());
  std::shared_ptr<FakeCounterState> c = store_.Latest("rawtracepoint:x");
  c->Add(5);
  grpc::ClientContext ctx;
  v1::WatchCountsRequest req;
  auto reader = stub_->WatchCounts(&ctx, req);
  v1::WatchCountsResponse u;
  ASSERT_TRUE(reader->Read(&u));
  EXPECT_TRUE(u.snapshot());
  EXPECT_EQ(u.total(), 5u);
  const uint64_t first_seq = u.seq();

  c->Add(2);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(reader->Read(&u));
  EXPECT_EQ(u.total(), 7u);
  EXPECT_EQ(u.delta(), 2u);
  EXPECT_GT(u.seq(), first_seq);

  c->Add(1);
  v1::StopProbeRequest stop;
  stop.set_name("p");
  v1::StopProbeResponse stopped;
  ASSERT_TRUE(
      stub_->StopProbe(ContextWithDeadline().get(), stop, &stopped).ok());
  EXPECT_EQ(stopped.probe().total(), 8u);
  ASSERT_TRUE(reader->Read(&u));
  EXPECT_EQ(u.state(), v1::PROBE_STATE_STOPPED);
  EXPECT_EQ(u.total(), 8u);
  EXPECT_EQ(u.delta(), 1u);
  ctx.TryCancel();
}

TEST_F(DaemonTest, ShutdownSendsFinalUpdatesThenEndsStreamsAndDetaches) {
  ASSERT_TRUE(Start("a", "rt:a").ok());
  ASSERT_TRUE(Start("b", "rt:b").ok());
  store_.Latest("rawtracepoint:a")->Add(4);
  grpc::ClientContext ctx;
  auto reader = stub_->WatchCounts(&ctx, v1::WatchCountsRequest());
  v1::WatchCountsResponse u;
  ASSERT_TRUE(reader->Read(&u));
  ASSERT_TRUE(reader->Read(&u));  // both snapshots

  std::thread shutdown([&] { EXPECT_OK(daemon_->Shutdown()); });
  std::map<std::string, v1::WatchCountsResponse> finals;
  while (reader->Read(&u)) finals[u.probe()] = u;
  EXPECT_TRUE(reader->Finish().ok());
  shutdown.join();

  ASSERT_EQ(finals.size(), 2u);
  EXPECT_EQ(finals["a"].state(), v1::PROBE_STATE_STOPPED);
  EXPECT_EQ(finals["a"].total(), 4u);
  EXPECT_EQ(finals["b"].state(), v1::PROBE_STATE_STOPPED);
  for (const char* hook : {"rawtracepoint:a", "rawtracepoint:b"}) {
    std::shared_ptr<FakeCounterState> c = store_.Latest(hook);
    absl::MutexLock lock(&c->mu);
    EXPECT_TRUE(c->destroyed) << hook;
  }
}

// Outside-client finding: stop a probe, start it again under the same name,
// make 50 events: the watch-all stream's first update of the new
// incarnation said delta 0, so a client summing deltas lost the 50.
TEST_F(DaemonTest, RestartedProbeOpensWithItsWholeTotalAsDelta) {
  ASSERT_TRUE(Start("p", "rt:x").ok());
  grpc::ClientContext ctx;
  auto reader = stub_->WatchCounts(&ctx, v1::WatchCountsRequest());
  v1::WatchCountsResponse u;
  ASSERT_TRUE(reader->Read(&u));  // the snapshot
  v1::StopProbeRequest stop;
  stop.set_name("p");
  v1::StopProbeResponse stopped;
  ASSERT_TRUE(
      stub_->StopProbe(ContextWithDeadline().get(), stop, &stopped).ok());
  ASSERT_TRUE(reader->Read(&u));
  ASSERT_EQ(u.state(), v1::PROBE_STATE_STOPPED);
  // No tick until the events are made: the first update of the new
  // incarnation then carries them all.
  ASSERT_TRUE(Start("p", "rt:x").ok());
  store_.Latest("rawtracepoint:x")->Add(50);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(reader->Read(&u));
  EXPECT_TRUE(u.snapshot());
  EXPECT_EQ(u.total(), 50u);
  EXPECT_EQ(u.delta(), 50u);
  ctx.TryCancel();
}

// Outside-client finding: a hook over ~8 KB made the error larger than a
// default client accepts (RESOURCE_EXHAUSTED instead of INVALID_ARGUMENT).
TEST_F(DaemonTest, HugeInputGetsInvalidArgumentWithAShortMessage) {
  grpc::Status s = Start("x", "tracepoint:sched:" + std::string(20000, 'y'));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << s.error_message();
  EXPECT_LT(s.error_message().size(), 1024u);
  s = Start(std::string(20000, 'n'), "rt:x");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(s.error_message().size(), 1024u);
}

// Outside-client finding: Durations with seconds and nanos of opposite signs
// or |nanos| >= 1e9 were accepted for interval and ttl.
TEST_F(DaemonTest, InvalidDurationsAreInvalidArgument) {
  auto start_with_ttl = [&](int64_t seconds, int32_t nanos) {
    v1::StartProbeRequest req;
    req.set_name("ttl");
    req.set_hook("rt:x");
    req.mutable_ttl()->set_seconds(seconds);
    req.mutable_ttl()->set_nanos(nanos);
    v1::StartProbeResponse resp;
    return stub_->StartProbe(ContextWithDeadline().get(), req, &resp);
  };
  for (auto [sec, nanos] : std::vector<std::pair<int64_t, int32_t>>{
           {10, -5}, {-1, 5}, {1, 1000000000}, {0, -1000000000}}) {
    grpc::Status s = start_with_ttl(sec, nanos);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << sec << "s " << nanos << "ns";
    EXPECT_THAT(s.error_message(), HasSubstr("ttl is not a valid Duration"));
  }
  EXPECT_TRUE(start_with_ttl(10, 5).ok());

  v1::WatchCountsRequest req;
  req.mutable_interval()->set_seconds(2);
  req.mutable_interval()->set_nanos(-1);
  grpc::ClientContext ctx;
  auto reader = stub_->WatchCounts(&ctx, req);
  v1::WatchCountsResponse u;
  while (reader->Read(&u)) {
  }
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("interval is not a valid Duration"));
}

// Outside-client finding: only reflection v1alpha was served; clients that
// ask for v1 (current grpcurl) found nothing.
TEST_F(DaemonTest, ServesReflectionV1) {
  auto stub =
      grpc::reflection::v1::ServerReflection::NewStub(grpc::CreateChannel(
          daemon_->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  auto stream = stub->ServerReflectionInfo(&ctx);
  grpc::reflection::v1::ServerReflectionRequest req;
  grpc::reflection::v1::ServerReflectionResponse resp;

  req.set_list_services("");
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  std::set<std::string> services;
  for (const auto& s : resp.list_services_response().service()) {
    services.insert(s.name());
  }
  EXPECT_TRUE(services.count("tally.v1.Agent"));
  EXPECT_TRUE(services.count("grpc.reflection.v1.ServerReflection"));

  req.set_file_containing_symbol("tally.v1.Agent");
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  std::set<std::string> files;
  for (const std::string& bytes :
       resp.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    files.insert(file.name());
  }
  EXPECT_TRUE(files.count("tally/v1/agent.proto"));
  EXPECT_TRUE(files.count("google/protobuf/duration.proto"));

  req.set_file_containing_symbol("tally.v1.NoSuchThing");
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

}  // namespace
}  // namespace tally
