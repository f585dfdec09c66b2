// What one watch stream sends: the latest update per incarnation, oldest
// first, with the delta the proto promises.
#include "agent/daemon/pending_updates.h"

#include <string>

#include "gtest/gtest.h"

namespace tally {
namespace {

// The stream starts at kStreamStart; probes in Update() started before it
// unless told otherwise.
const absl::Time kStreamStart = absl::FromUnixSeconds(1000);

CountUpdate Update(const std::string& probe, uint64_t id, uint64_t seq,
                   uint64_t total, ProbeState state = ProbeState::kRunning,
                   absl::Time started_at = kStreamStart - absl::Seconds(1)) {
  CountUpdate u;
  u.started_at = started_at;
  u.probe = probe;
  u.probe_id = id;
  u.seq = seq;
  u.counts.total = total;
  u.state = state;
  u.mechanism = "raw_tp";
  return u;
}

v1::WatchCountsResponse Pop(PendingUpdates& p) {
  v1::WatchCountsResponse out;
  p.PopInto("node", "epoch", 10, &out);
  return out;
}

TEST(PendingUpdatesTest, LaterUpdatesOfOneIncarnationReplaceUnsentOnes) {
  PendingUpdates p(kStreamStart);
  p.Offer(Update("a", 1, 1, 10));
  p.Offer(Update("a", 1, 2, 20));
  p.Offer(Update("a", 1, 3, 30));
  ASSERT_EQ(p.size(), 1u);
  v1::WatchCountsResponse r = Pop(p);
  EXPECT_EQ(r.seq(), 3u);
  EXPECT_EQ(r.total(), 30u);
  EXPECT_TRUE(r.snapshot());
  EXPECT_EQ(r.node(), "node");
  EXPECT_EQ(r.epoch(), "epoch");
  EXPECT_TRUE(p.empty());
}

TEST(PendingUpdatesTest, DeltaIsAgainstWhatThisStreamLastSent) {
  PendingUpdates p(kStreamStart);
  p.Offer(Update("a", 1, 1, 10));
  EXPECT_EQ(Pop(p).delta(), 0u);  // the snapshot
  p.Offer(Update("a", 1, 2, 15));
  p.Offer(Update("a", 1, 3, 22));  // coalesced: 12 since the snapshot
  v1::WatchCountsResponse r = Pop(p);
  EXPECT_FALSE(r.snapshot());
  EXPECT_EQ(r.delta(), 12u);
}

TEST(PendingUpdatesTest, OldestFirstAcrossProbes) {
  PendingUpdates p(kStreamStart);
  p.Offer(Update("b", 2, 5, 1));
  p.Offer(Update("a", 1, 4, 1));
  p.Offer(Update("c", 3, 6, 1));
  EXPECT_EQ(Pop(p).seq(), 4u);
  EXPECT_EQ(Pop(p).seq(), 5u);
  EXPECT_EQ(Pop(p).seq(), 6u);
}

TEST(PendingUpdatesTest, FinalUpdateOfAStoppedIncarnationSurvivesItsSuccessor) {
  PendingUpdates p(kStreamStart);
  p.Offer(Update("a", 1, 1, 10));
  Pop(p);
  p.Offer(Update("a", 1, 2, 40, ProbeState::kStopped));
  // Restarted under the same name while the stream watched.
  p.Offer(Update("a", 2, 3, 5, ProbeState::kRunning,
                 kStreamStart + absl::Seconds(5)));
  ASSERT_EQ(p.size(), 2u);
  v1::WatchCountsResponse final_update = Pop(p);
  EXPECT_EQ(final_update.probe_id(), 1u);
  EXPECT_EQ(final_update.state(), v1::PROBE_STATE_STOPPED);
  EXPECT_EQ(final_update.delta(), 30u);
  EXPECT_EQ(Pop(p).probe_id(), 2u);
}

// Found by an outside client: a probe stopped and started again under the
// same name opened with delta 0, so a client summing deltas lost its first
// events. An incarnation started while the stream watches counts in full.
TEST(PendingUpdatesTest, RestartedIncarnationOpensWithItsWholeTotal) {
  PendingUpdates p(kStreamStart);
  p.Offer(Update("a", 1, 1, 10));
  Pop(p);
  p.Offer(Update("a", 1, 2, 12, ProbeState::kStopped));
  EXPECT_EQ(Pop(p).delta(), 2u);
  p.Offer(Update("a", 2, 3, 50, ProbeState::kRunning,
                 kStreamStart + absl::Seconds(3)));
  v1::WatchCountsResponse r = Pop(p);
  EXPECT_TRUE(r.snapshot());
  EXPECT_EQ(r.probe_id(), 2u);
  EXPECT_EQ(r.delta(), 50u);
}

TEST(PendingUpdatesTest, ProbesOlderThanTheStreamOpenWithDeltaZero) {
  PendingUpdates p(kStreamStart);
  p.Offer(Update("old", 1, 1, 70));
  p.Offer(Update("new", 2, 2, 4, ProbeState::kRunning,
                 kStreamStart + absl::Seconds(1)));
  EXPECT_EQ(Pop(p).delta(), 0u);
  EXPECT_EQ(Pop(p).delta(), 4u);
}

TEST(PendingUpdatesTest, BoundedByDroppingTheOldest) {
  PendingUpdates p(kStreamStart, 2);
  p.Offer(Update("a", 1, 1, 1));
  p.Offer(Update("b", 2, 2, 1));
  p.Offer(Update("c", 3, 3, 1));
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(Pop(p).probe(), "b");
  EXPECT_EQ(Pop(p).probe(), "c");
}

CountUpdate Heartbeat(uint64_t seq) {
  CountUpdate u;
  u.heartbeat = true;
  u.seq = seq;
  u.time = absl::FromUnixSeconds(1'700'000'000 + seq);
  return u;
}

TEST(PendingUpdatesTest, HeartbeatCarriesNodeEpochSeqAndTimeOnly) {
  PendingUpdates p(kStreamStart);
  p.Offer(Heartbeat(7));
  v1::WatchCountsResponse r = Pop(p);
  EXPECT_TRUE(r.heartbeat());
  EXPECT_EQ(r.node(), "node");
  EXPECT_EQ(r.epoch(), "epoch");
  EXPECT_EQ(r.seq(), 7u);
  EXPECT_EQ(r.time().seconds(), 1'700'000'007);
  EXPECT_EQ(r.probe(), "");
  EXPECT_FALSE(r.snapshot());
  EXPECT_EQ(r.state(), v1::PROBE_STATE_UNSPECIFIED);
}

TEST(PendingUpdatesTest, HeartbeatsCoalesceAndNeverDisplaceAProbe) {
  PendingUpdates p(kStreamStart, 2);
  p.Offer(Heartbeat(1));
  p.Offer(Heartbeat(2));
  ASSERT_EQ(p.size(), 1u);  // the later replaces the unsent one
  p.Offer(Update("a", 1, 3, 10));
  p.Offer(Update("b", 2, 4, 20));  // past the bound: the heartbeat goes
  p.Offer(Heartbeat(5));           // and a new one does not push out a probe
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(Pop(p).probe(), "a");
  EXPECT_EQ(Pop(p).probe(), "b");
  EXPECT_TRUE(p.empty());
}

TEST(PendingUpdatesTest, HeartbeatLeavesDeltasAlone) {
  PendingUpdates p(kStreamStart);
  p.Offer(Update("a", 1, 1, 10));
  Pop(p);
  p.Offer(Heartbeat(2));
  EXPECT_TRUE(Pop(p).heartbeat());
  p.Offer(Update("a", 1, 3, 15));
  v1::WatchCountsResponse r = Pop(p);
  EXPECT_FALSE(r.snapshot());
  EXPECT_EQ(r.delta(), 5u);
}

TEST(PendingUpdatesTest, TopKeysAreCutToTheStreamsTopN) {
  PendingUpdates p(kStreamStart);
  CountUpdate u = Update("a", 1, 1, 6);
  for (int i = 0; i < 3; ++i) {
    u.counts.top_keys.push_back({std::to_string(i), uint64_t(3 - i)});
  }
  p.Offer(u);
  v1::WatchCountsResponse out;
  p.PopInto("n", "e", 2, &out);
  ASSERT_EQ(out.top_keys_size(), 2);
  EXPECT_EQ(out.top_keys(0).key(), "0");
}

// What the keys do not hold is still accounted for: dropped and reclaimed.
TEST(PendingUpdatesTest, CarriesDroppedAndReclaimedCounts) {
  PendingUpdates p(kStreamStart);
  CountUpdate u = Update("a", 1, 1, 100);
  u.counts.top_keys.push_back({"7", 60});
  u.counts.dropped_keys = 15;
  u.counts.reclaimed = 25;
  u.counts.reclaimed_keys = 3;
  p.Offer(u);
  v1::WatchCountsResponse out = Pop(p);
  EXPECT_EQ(out.dropped_keys(), 15u);
  EXPECT_EQ(out.reclaimed(), 25u);
  EXPECT_EQ(out.reclaimed_keys(), 3u);
  EXPECT_EQ(out.top_keys(0).count() + out.dropped_keys() + out.reclaimed(),
            out.total());
}

}  // namespace
}  // namespace tally
