#include "tests/testing/standin_agent.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/api_convert.h"
#include "common/attach_kind.h"
#include "common/files.h"
#include "common/hook_spec.h"
#include "common/probe_name.h"
#include "common/status_macros.h"
#include "tally/v1/agent.grpc.pb.h"

namespace tally::testing {
namespace {

constexpr absl::Duration kMinInterval = absl::Milliseconds(100);
constexpr uint32_t kMaxTopN = 100;

// The next multiple of `interval` after `now`, as tallyd's sampler aligns.
absl::Time NextAligned(absl::Time now, absl::Duration interval) {
  return absl::UnixEpoch() + absl::Floor(now - absl::UnixEpoch(), interval) +
         interval;
}

grpc::Status Error(grpc::StatusCode code, std::string message) {
  return grpc::Status(code, std::move(message));
}

// One value a stream owes: a probe's count at a tick, or a heartbeat.
struct Sample {
  std::string probe;  // empty for a heartbeat
  uint64_t probe_id = 0;
  uint64_t seq = 0;
  absl::Time time;
  uint64_t total = 0;
  std::string mechanism;
  v1::ProbeState state = v1::PROBE_STATE_RUNNING;
};

}  // namespace

// One WatchCounts stream: one write in flight, the latest sample per probe
// while it is (coalescing), like tallyd's WatchReactor.
class WatchStream : public grpc::ServerWriteReactor<v1::WatchCountsResponse> {
 public:
  WatchStream(std::string node, std::string epoch, std::set<std::string> probes,
              absl::Duration interval)
      : node_(std::move(node)),
        epoch_(std::move(epoch)),
        probes_(std::move(probes)),
        interval_(interval) {}

  bool Wants(const std::string& probe) const {
    return probes_.empty() || probes_.count(probe) > 0;
  }
  absl::Duration interval() const { return interval_; }
  bool done() const { return done_.load(); }

  // The agent's lock guards these two.
  absl::Time next_due = absl::InfinitePast();

  void Offer(const Sample& sample) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      pending_[sample.probe] = sample;
    }
    MaybeWrite();
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    std::optional<grpc::Status> deferred;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      deferred.swap(deferred_finish_);
    }
    if (deferred) {
      Finish(*std::move(deferred));
      return;
    }
    if (!ok) {
      FinishOnce(Error(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    MaybeWrite();
  }

  void OnCancel() override {
    FinishOnce(Error(grpc::StatusCode::CANCELLED, "watch cancelled"));
  }
  void OnDone() override { done_.store(true); }

  void FinishOnce(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
      pending_.clear();
      if (writing_) {
        deferred_finish_ = std::move(status);
        return;
      }
    }
    Finish(std::move(status));
  }

 private:
  void MaybeWrite() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || writing_ || pending_.empty()) return;
      auto oldest = std::min_element(
          pending_.begin(), pending_.end(), [](const auto& a, const auto& b) {
            return a.second.seq < b.second.seq;
          });
      const Sample s = std::move(oldest->second);
      pending_.erase(oldest);
      response_.Clear();
      response_.set_node(node_);
      response_.set_epoch(epoch_);
      response_.set_seq(s.seq);
      ToProto(s.time, response_.mutable_time());
      if (s.probe.empty()) {
        response_.set_heartbeat(true);
      } else {
        response_.set_probe(s.probe);
        response_.set_probe_id(s.probe_id);
        response_.set_total(s.total);
        response_.set_mechanism(s.mechanism);
        response_.set_state(s.state);
        auto sent = sent_.find(s.probe);
        if (sent == sent_.end() || sent->second.first != s.probe_id) {
          response_.set_snapshot(true);
          response_.set_delta(sent == sent_.end() ? 0 : s.total);
        } else {
          response_.set_delta(s.total - std::min(s.total, sent->second.second));
        }
        if (s.state == v1::PROBE_STATE_RUNNING) {
          sent_[s.probe] = {s.probe_id, s.total};
        } else {
          sent_.erase(s.probe);
        }
      }
      writing_ = true;
    }
    StartWrite(&response_);  // outside the lock: reactions may run inline
  }

  const std::string node_;
  const std::string epoch_;
  const std::set<std::string> probes_;
  const absl::Duration interval_;
  std::atomic<bool> done_{false};

  absl::Mutex mu_;
  std::map<std::string, Sample> pending_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::pair<uint64_t, uint64_t>> sent_
      ABSL_GUARDED_BY(mu_);
  v1::WatchCountsResponse response_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> deferred_finish_ ABSL_GUARDED_BY(mu_);
};

class StandinAgent : public v1::Agent::CallbackService {
 public:
  StandinAgent(std::string node, double rate, std::function<void()> wake)
      : node_(std::move(node)),
        epoch_(absl::StrCat(node_, "-", absl::ToUnixNanos(absl::Now()))),
        start_time_(absl::Now()),
        rate_(rate),
        wake_(std::move(wake)) {}

  ~StandinAgent() override {
    Thaw();  // held calls must finish before the server can stop
    if (server_ != nullptr) {
      server_->Shutdown(absl::ToChronoTime(absl::Now()));
      server_->Wait();
    }
    absl::MutexLock lock(&mu_);
    for (WatchStream* s : streams_) delete s;
  }

  void set_server(std::unique_ptr<grpc::Server> server) {
    server_ = std::move(server);
  }
  const std::string& node() const { return node_; }

  void Freeze() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    frozen_ = true;
  }

  void Thaw() ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<std::function<void()>> held;
    {
      absl::MutexLock lock(&mu_);
      frozen_ = false;
      held.swap(held_);
    }
    for (auto& answer : held) answer();
    wake_();
  }

  size_t streams() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return std::count_if(streams_.begin(), streams_.end(),
                         [](WatchStream* s) { return !s->done(); });
  }

  // Offers what is due at `now`; returns when it next has something due.
  absl::Time Tick(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    streams_.erase(std::remove_if(streams_.begin(), streams_.end(),
                                  [](WatchStream* s) {
                                    if (!s->done()) return false;
                                    delete s;
                                    return true;
                                  }),
                   streams_.end());
    if (frozen_) return absl::InfiniteFuture();  // Thaw wakes the ticker
    absl::Time next = absl::InfiniteFuture();
    for (WatchStream* s : streams_) {
      if (s->next_due <= now) {
        s->next_due = NextAligned(now, s->interval());
        bool any = false;
        for (const auto& [name, probe] : probes_) {
          if (!s->Wants(name)) continue;
          s->Offer(SampleLocked(name, probe, now));
          any = true;
        }
        if (!any) {
          Sample heartbeat;
          heartbeat.seq = ++seq_;
          heartbeat.time = now;
          s->Offer(heartbeat);
        }
      }
      next = std::min(next, s->next_due);
    }
    return next;
  }

  grpc::ServerUnaryReactor* GetInfo(grpc::CallbackServerContext* context,
                                    const v1::GetInfoRequest*,
                                    v1::GetInfoResponse* response) override {
    return Answer(context, [this, response]()
                               ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                                 response->set_node(node_);
                                 response->set_agent_version("standin");
                                 response->set_kernel_release("standin");
                                 response->set_epoch(epoch_);
                                 ToProto(start_time_,
                                         response->mutable_start_time());
                                 for (const AttachKindInfo& k : kAttachKinds) {
                                   auto* s = response->add_attach_kinds();
                                   s->set_kind(std::string(k.name));
                                   s->set_supported(true);
                                 }
                                 return grpc::Status::OK;
                               });
  }

  grpc::ServerUnaryReactor* StartProbe(
      grpc::CallbackServerContext* context,
      const v1::StartProbeRequest* request,
      v1::StartProbeResponse* response) override {
    return Answer(context, [this, request, response]()
                               ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                                 return StartLocked(*request, response);
                               });
  }

  grpc::ServerUnaryReactor* StopProbe(grpc::CallbackServerContext* context,
                                      const v1::StopProbeRequest* request,
                                      v1::StopProbeResponse* response) override {
    return Answer(context, [this, request, response]()
                               ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                                 return StopLocked(request->name(), response);
                               });
  }

  grpc::ServerUnaryReactor* ListProbes(
      grpc::CallbackServerContext* context, const v1::ListProbesRequest*,
      v1::ListProbesResponse* response) override {
    return Answer(context, [this, response]()
                               ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                                 response->set_node(node_);
                                 const absl::Time now = absl::Now();
                                 for (const auto& [name, p] : probes_) {
                                   ProbeLocked(name, p, now,
                                               response->add_probes());
                                 }
                                 return grpc::Status::OK;
                               });
  }

  grpc::ServerWriteReactor<v1::WatchCountsResponse>* WatchCounts(
      grpc::CallbackServerContext*,
      const v1::WatchCountsRequest* request) override {
    absl::Duration interval = request->has_interval()
                                  ? FromProto(request->interval())
                                  : absl::Seconds(1);
    std::set<std::string> wanted(request->probes().begin(),
                                 request->probes().end());
    auto* stream = new WatchStream(node_, epoch_, wanted, interval);
    grpc::Status invalid;
    if (interval < kMinInterval) {
      invalid = Error(grpc::StatusCode::INVALID_ARGUMENT,
                      "interval is below the agent's minimum of 100ms");
    } else if (request->top_n() > kMaxTopN) {
      invalid = Error(grpc::StatusCode::INVALID_ARGUMENT, "top_n above 100");
    }
    {
      absl::MutexLock lock(&mu_);
      for (const std::string& name : wanted) {
        if (invalid.ok() && probes_.count(name) == 0) {
          invalid = Error(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("no probe named ", name, " on ", node_));
        }
      }
      // Registered either way: the ticker deletes it once it is done.
      streams_.push_back(stream);
    }
    if (!invalid.ok()) {
      stream->FinishOnce(invalid);
    } else {
      wake_();
    }
    return stream;
  }

 private:
  struct Probe {
    uint64_t id = 0;
    std::string hook;
    std::string mechanism;
    absl::Time started_at;
  };

  // Runs `answer` under the lock and finishes the call with its status; a
  // frozen agent holds the call until Thaw.
  grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context,
                                   std::function<grpc::Status()> answer)
      ABSL_LOCKS_EXCLUDED(mu_) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto run = [this, reactor, answer = std::move(answer)] {
      grpc::Status status;
      {
        absl::MutexLock lock(&mu_);
        status = answer();
      }
      reactor->Finish(status);
    };
    {
      absl::MutexLock lock(&mu_);
      if (frozen_) {
        held_.push_back(std::move(run));
        return reactor;
      }
    }
    run();
    return reactor;
  }

  uint64_t TotalAt(const Probe& p, absl::Time now) const {
    return static_cast<uint64_t>(
        std::floor(rate_ * absl::ToDoubleSeconds(now - p.started_at)));
  }

  Sample SampleLocked(const std::string& name, const Probe& p, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Sample s;
    s.probe = name;
    s.probe_id = p.id;
    s.seq = ++seq_;
    s.time = now;
    s.total = TotalAt(p, now);
    s.mechanism = p.mechanism;
    return s;
  }

  void ProbeLocked(const std::string& name, const Probe& p, absl::Time now,
                   v1::Probe* out) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    out->set_name(name);
    out->set_hook(p.hook);
    out->set_attached(p.hook);
    out->set_mechanism(p.mechanism);
    out->set_state(v1::PROBE_STATE_RUNNING);
    out->set_total(TotalAt(p, now));
    out->set_probe_id(p.id);
    ToProto(p.started_at, out->mutable_started_at());
  }

  grpc::Status StartLocked(const v1::StartProbeRequest& request,
                           v1::StartProbeResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    response->set_node(node_);
    absl::StatusOr<HookSpec> hook = ParseHookSpec(request.hook());
    if (!hook.ok()) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   std::string(hook.status().message()));
    }
    const std::string spec = hook->ToSpec();
    const std::string name =
        request.name().empty() ? DefaultProbeName(spec) : request.name();
    if (absl::Status s = ValidateProbeName(name); !s.ok()) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   std::string(s.message()));
    }
    auto it = probes_.find(name);
    if (it != probes_.end() && it->second.hook != spec) {
      return Error(grpc::StatusCode::ALREADY_EXISTS,
                   absl::StrCat("probe ", name, " runs ", it->second.hook));
    }
    const bool created = it == probes_.end();
    if (created) {
      Probe p;
      p.id = ++next_probe_id_;
      p.hook = spec;
      p.mechanism = hook->point ? std::string(AttachKindName(hook->point->kind))
                                : "tracepoint";
      p.started_at = absl::Now();
      it = probes_.emplace(name, std::move(p)).first;
    }
    ProbeLocked(name, it->second, absl::Now(), response->mutable_probe());
    response->set_created(created);
    return grpc::Status::OK;
  }

  grpc::Status StopLocked(const std::string& name,
                          v1::StopProbeResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    response->set_node(node_);
    auto it = probes_.find(name);
    if (it == probes_.end()) {
      return Error(grpc::StatusCode::NOT_FOUND,
                   absl::StrCat("no probe named ", name, " on ", node_));
    }
    const absl::Time now = absl::Now();
    ProbeLocked(name, it->second, now, response->mutable_probe());
    response->mutable_probe()->set_state(v1::PROBE_STATE_STOPPED);
    Sample final_sample = SampleLocked(name, it->second, now);
    final_sample.state = v1::PROBE_STATE_STOPPED;
    for (WatchStream* s : streams_) {
      if (s->Wants(name)) s->Offer(final_sample);
    }
    probes_.erase(it);
    return grpc::Status::OK;
  }

  const std::string node_;
  const std::string epoch_;
  const absl::Time start_time_;
  const double rate_;
  const std::function<void()> wake_;
  std::unique_ptr<grpc::Server> server_;

  absl::Mutex mu_;
  std::map<std::string, Probe> probes_ ABSL_GUARDED_BY(mu_);
  uint64_t next_probe_id_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<WatchStream*> streams_ ABSL_GUARDED_BY(mu_);
  bool frozen_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::function<void()>> held_ ABSL_GUARDED_BY(mu_);
};

StandinFleet::StandinFleet(StandinOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<StandinFleet>> StandinFleet::Start(
    int count, StandinOptions options) {
  std::unique_ptr<StandinFleet> fleet(new StandinFleet(std::move(options)));
  const StandinOptions& o = fleet->options_;
  if (o.tls_cert.empty()) {
    fleet->credentials_ = grpc::InsecureServerCredentials();
  } else {
    grpc::SslServerCredentialsOptions ssl(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadFile(o.tls_client_ca));
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    ASSIGN_OR_RETURN(pair.private_key, ReadFile(o.tls_key));
    ASSIGN_OR_RETURN(pair.cert_chain, ReadFile(o.tls_cert));
    ssl.pem_key_cert_pairs.push_back(std::move(pair));
    fleet->credentials_ = grpc::SslServerCredentials(ssl);
  }
  for (int i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<StandinAgent> agent,
                     fleet->StartAgent(i, 0));
    absl::MutexLock lock(&fleet->mu_);
    fleet->agents_.push_back(std::move(agent));
  }
  fleet->ticker_ = std::thread([f = fleet.get()] { f->Tick(); });
  return fleet;
}

absl::StatusOr<std::unique_ptr<StandinAgent>> StandinFleet::StartAgent(
    size_t i, int port) {
  auto agent = std::make_unique<StandinAgent>(
      absl::StrCat(options_.node_prefix, i), options_.events_per_second,
      [this] {
        absl::MutexLock lock(&mu_);
        woken_ = true;
      });
  grpc::ServerBuilder builder;
  int bound = 0;
  const std::string host = options_.host.find(':') != std::string::npos
                               ? absl::StrCat("[", options_.host, "]")
                               : options_.host;
  builder.AddListeningPort(absl::StrCat(host, ":", port), credentials_,
                           &bound);
  builder.RegisterService(agent.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound == 0) {
    return absl::UnavailableError(
        absl::StrCat("stand-in agent ", i, " cannot listen on ", options_.host,
                     ":", port));
  }
  agent->set_server(std::move(server));
  if (i >= addresses_.size()) {
    addresses_.push_back(absl::StrCat(host, ":", bound));
    ports_.push_back(bound);
  }
  return agent;
}

StandinFleet::~StandinFleet() {
  std::vector<std::unique_ptr<StandinAgent>> agents;
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    agents.swap(agents_);
  }
  if (ticker_.joinable()) ticker_.join();
  agents.clear();  // each stops its server
}

std::string StandinFleet::node(size_t i) const {
  return absl::StrCat(options_.node_prefix, i);
}

void StandinFleet::Freeze(size_t i) {
  absl::MutexLock lock(&mu_);
  if (agents_[i]) agents_[i]->Freeze();
}

void StandinFleet::Thaw(size_t i) {
  StandinAgent* agent;
  {
    absl::MutexLock lock(&mu_);
    agent = agents_[i].get();
  }
  // Outside the lock: Thaw answers held calls and wakes the ticker.
  if (agent != nullptr) agent->Thaw();
}

size_t StandinFleet::streams(size_t i) {
  absl::MutexLock lock(&mu_);
  return agents_[i] ? agents_[i]->streams() : 0;
}

void StandinFleet::Stop(size_t i) {
  std::unique_ptr<StandinAgent> agent;
  {
    absl::MutexLock lock(&mu_);
    agent.swap(agents_[i]);
  }
  agent.reset();  // outside the lock: its streams' reactions may wake us
}

absl::Status StandinFleet::Restart(size_t i) {
  Stop(i);
  ASSIGN_OR_RETURN(std::unique_ptr<StandinAgent> agent,
                   StartAgent(i, ports_[i]));
  absl::MutexLock lock(&mu_);
  agents_[i] = std::move(agent);
  woken_ = true;
  return absl::OkStatus();
}

void StandinFleet::Tick() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    woken_ = false;
    const absl::Time now = absl::Now();
    absl::Time next = absl::InfiniteFuture();
    for (auto& agent : agents_) {
      if (agent) next = std::min(next, agent->Tick(now));
    }
    // Done streams are deleted on a tick; come back for them now and then.
    next = std::min(next, now + absl::Seconds(1));
    auto woken = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return woken_ || stop_;
    };
    mu_.AwaitWithDeadline(absl::Condition(&woken), next);
  }
}

}  // namespace tally::testing
