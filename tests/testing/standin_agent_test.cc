// The stand-in agent keeps tallyd's contract where tallyctl relies on it:
// node and epoch per agent, idempotent start, snapshot then updates, a
// heartbeat when there is no probe, a final update on stop, hang and restart
// on cue. Loopback only.
#include "tests/testing/standin_agent.h"

#include <grpcpp/grpcpp.h>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tally/v1/agent.grpc.pb.h"

namespace tally::testing {
namespace {

std::unique_ptr<v1::Agent::Stub> Stub(const std::string& address) {
  return v1::Agent::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

std::unique_ptr<grpc::ClientContext> Within(absl::Duration d) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(absl::ToChronoTime(absl::Now() + d));
  return c;
}

class StandinAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fleet = StandinFleet::Start(2, StandinOptions());
    ASSERT_TRUE(fleet.ok()) << fleet.status();
    fleet_ = *std::move(fleet);
  }
  std::unique_ptr<StandinFleet> fleet_;
};

TEST_F(StandinAgentTest, EachAgentIsItsOwnNodeWithItsOwnEpoch) {
  v1::GetInfoResponse a, b;
  ASSERT_TRUE(Stub(fleet_->address(0))
                  ->GetInfo(Within(absl::Seconds(10)).get(), {}, &a)
                  .ok());
  ASSERT_TRUE(Stub(fleet_->address(1))
                  ->GetInfo(Within(absl::Seconds(10)).get(), {}, &b)
                  .ok());
  EXPECT_EQ(a.node(), fleet_->node(0));
  EXPECT_EQ(b.node(), fleet_->node(1));
  EXPECT_NE(a.epoch(), b.epoch());
}

TEST_F(StandinAgentTest, IdleWatchGetsHeartbeatsThenProbeUpdatesAndAFinal) {
  auto stub = Stub(fleet_->address(0));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::WatchCountsRequest req;
  req.mutable_interval()->set_nanos(100 * 1000 * 1000);
  auto reader = stub->WatchCounts(&ctx, req);
  v1::WatchCountsResponse u;
  ASSERT_TRUE(reader->Read(&u));
  EXPECT_TRUE(u.heartbeat());
  EXPECT_EQ(u.node(), fleet_->node(0));

  v1::StartProbeRequest start;
  start.set_hook("syscall:execve");
  v1::StartProbeResponse started;
  ASSERT_TRUE(stub->StartProbe(Within(absl::Seconds(10)).get(), start, &started)
                  .ok());
  EXPECT_TRUE(started.created());
  EXPECT_EQ(started.probe().name(), "syscall-execve");
  v1::StartProbeResponse again;
  ASSERT_TRUE(
      stub->StartProbe(Within(absl::Seconds(10)).get(), start, &again).ok());
  EXPECT_FALSE(again.created());
  start.set_hook("syscall:openat");
  start.set_name("syscall-execve");
  EXPECT_EQ(stub->StartProbe(Within(absl::Seconds(10)).get(), start, &again)
                .error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  uint64_t seq = u.seq(), total = 0;
  int updates = 0;
  while (updates < 3 && reader->Read(&u)) {
    EXPECT_GT(u.seq(), seq);
    seq = u.seq();
    if (u.heartbeat()) continue;
    EXPECT_EQ(u.probe(), "syscall-execve");
    EXPECT_GE(u.total(), total);
    total = u.total();
    ++updates;
  }
  ASSERT_EQ(updates, 3);

  v1::StopProbeRequest stop;
  stop.set_name("syscall-execve");
  v1::StopProbeResponse stopped;
  ASSERT_TRUE(
      stub->StopProbe(Within(absl::Seconds(10)).get(), stop, &stopped).ok());
  while (reader->Read(&u) && u.state() != v1::PROBE_STATE_STOPPED) {
  }
  EXPECT_EQ(u.state(), v1::PROBE_STATE_STOPPED);
  EXPECT_EQ(u.total(), stopped.probe().total());
  ctx.TryCancel();
}

TEST_F(StandinAgentTest, FrozenAgentAnswersNothingUntilThawed) {
  auto stub = Stub(fleet_->address(1));
  v1::ListProbesResponse list;
  ASSERT_TRUE(stub->ListProbes(Within(absl::Seconds(10)).get(), {}, &list).ok());
  fleet_->Freeze(1);
  EXPECT_EQ(stub->ListProbes(Within(absl::Milliseconds(300)).get(), {}, &list)
                .error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  fleet_->Thaw(1);
  EXPECT_TRUE(
      stub->ListProbes(Within(absl::Seconds(10)).get(), {}, &list).ok());
}

TEST_F(StandinAgentTest, RestartKeepsThePortWithANewEpochAndNoProbes) {
  auto stub = Stub(fleet_->address(0));
  v1::GetInfoResponse before, after;
  ASSERT_TRUE(
      stub->GetInfo(Within(absl::Seconds(10)).get(), {}, &before).ok());
  v1::StartProbeRequest start;
  start.set_hook("syscall:execve");
  v1::StartProbeResponse started;
  ASSERT_TRUE(
      stub->StartProbe(Within(absl::Seconds(10)).get(), start, &started).ok());
  fleet_->Stop(0);
  EXPECT_EQ(stub->GetInfo(Within(absl::Seconds(2)).get(), {}, &after)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(fleet_->Restart(0).ok());
  auto fresh = Stub(fleet_->address(0));
  ASSERT_TRUE(fresh->GetInfo(Within(absl::Seconds(10)).get(), {}, &after).ok());
  EXPECT_NE(after.epoch(), before.epoch());
  v1::ListProbesResponse list;
  ASSERT_TRUE(
      fresh->ListProbes(Within(absl::Seconds(10)).get(), {}, &list).ok());
  EXPECT_EQ(list.probes_size(), 0);
}

}  // namespace
}  // namespace tally::testing
