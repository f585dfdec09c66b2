// tallyctl's own TLS to the agents, against stand-in agents on loopback:
// calls go through, and every way a connection fails is named for what most
// likely happened instead of gRPC's "Socket closed".
#include "client/tls_tunnel.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/channels.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tally/v1/agent.grpc.pb.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/standin_agent.h"

namespace tally::cli {
namespace {

using ::tally::testing::MakeTempDir;
using ::tally::testing::RunfilePath;
using ::tally::testing::StandinFleet;
using ::tally::testing::StandinOptions;
using ::testing::HasSubstr;
using ::testing::Not;

// Two PKIs: the agents' own, and another CA with its own client certificate.
class TlsTunnelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir());
    for (const char* pki : {"pki", "other"}) {
      ASSERT_EQ(std::system(absl::StrCat(RunfilePath("scripts/gen-certs.sh"),
                                         " ", *dir_, "/", pki, " >/dev/null")
                                .c_str()),
                0);
    }
    StandinOptions tls;
    tls.tls_cert = Pki("server.pem");
    tls.tls_key = Pki("server.key");
    tls.tls_client_ca = Pki("ca.pem");
    auto fleet = StandinFleet::Start(1, tls);
    ASSERT_TRUE(fleet.ok()) << fleet.status();
    tls_agent_ = fleet->release();
    auto plain = StandinFleet::Start(1, StandinOptions());
    ASSERT_TRUE(plain.ok()) << plain.status();
    plain_agent_ = plain->release();
  }

  static void TearDownTestSuite() {
    delete tls_agent_;
    delete plain_agent_;
    std::system(absl::StrCat("rm -rf ", *dir_).c_str());
    delete dir_;
  }

  static std::string Pki(const std::string& file) {
    return absl::StrCat(*dir_, "/pki/", file);
  }
  static std::string Other(const std::string& file) {
    return absl::StrCat(*dir_, "/other/", file);
  }
  static TlsOptions Good() {
    return TlsOptions{Pki("ca.pem"), Pki("client.pem"), Pki("client.key"), ""};
  }

  // ListProbes on `address` through a factory made of `tls`: "" when it
  // worked, else the failure as tallyctl describes it.
  static std::string Call(const TlsOptions& tls, const std::string& address,
                          absl::Duration patience = absl::Seconds(10)) {
    absl::StatusOr<ChannelFactory> factory = ChannelFactory::Create(tls);
    if (!factory.ok()) return std::string(factory.status().message());
    AgentTarget target{address, address, "", ""};
    AgentConnection c = factory->Connect(target, patience);
    absl::Notification settled;
    bool ready = false;
    c.WhenReady([&](bool up) {
      ready = up;
      settled.Notify();
    });
    settled.WaitForNotification();
    grpc::Status status(grpc::StatusCode::UNAVAILABLE, "not ready");
    if (ready) {
      auto stub = v1::Agent::NewStub(c.channel);
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + patience));
      v1::ListProbesResponse response;
      status = stub->ListProbes(&context, {}, &response);
    }
    return status.ok() ? "" : factory->Describe(status, c);
  }

  static std::string* dir_;
  static StandinFleet* tls_agent_;
  static StandinFleet* plain_agent_;
};

std::string* TlsTunnelTest::dir_ = nullptr;
StandinFleet* TlsTunnelTest::tls_agent_ = nullptr;
StandinFleet* TlsTunnelTest::plain_agent_ = nullptr;

TEST_F(TlsTunnelTest, MutualTlsCallGoesThrough) {
  EXPECT_EQ(Call(Good(), tls_agent_->address(0)), "");
}

TEST_F(TlsTunnelTest, ClientCertificateFromAnotherCa) {
  TlsOptions tls = Good();
  tls.cert = Other("client.pem");
  tls.key = Other("client.key");
  std::string error = Call(tls, tls_agent_->address(0));
  EXPECT_THAT(error, HasSubstr("UNAVAILABLE: "));
  EXPECT_THAT(error, HasSubstr("most likely it does not trust this client's "
                               "certificate"));
  // And tallyctl noticed its certificate does not chain to --tls-ca.
  EXPECT_THAT(error, HasSubstr("--tls-cert does not verify against --tls-ca"));
}

TEST_F(TlsTunnelTest, NoClientCertificate) {
  TlsOptions tls = Good();
  tls.cert.clear();
  tls.key.clear();
  EXPECT_THAT(Call(tls, tls_agent_->address(0)),
              HasSubstr("requires a client certificate: pass --tls-cert and "
                        "--tls-key"));
}

TEST_F(TlsTunnelTest, AgentCertificateFromAnotherCa) {
  TlsOptions tls = Good();
  tls.ca = Other("ca.pem");
  EXPECT_THAT(Call(tls, tls_agent_->address(0)),
              HasSubstr("the agent's certificate is not signed by the CA in "
                        "--tls-ca"));
}

TEST_F(TlsTunnelTest, CertificateThatDoesNotNameTheAgent) {
  TlsOptions tls = Good();
  tls.server_name = "elsewhere.example";
  EXPECT_THAT(Call(tls, tls_agent_->address(0)),
              HasSubstr("the agent's certificate does not name "
                        "elsewhere.example"));
}

TEST_F(TlsTunnelTest, TlsToAPlaintextAgent) {
  EXPECT_THAT(Call(Good(), plain_agent_->address(0)),
              HasSubstr("the agent does not speak TLS"));
}

TEST_F(TlsTunnelTest, PlaintextToATlsAgent) {
  EXPECT_THAT(Call(TlsOptions(), tls_agent_->address(0)),
              HasSubstr("most likely it requires TLS (pass --tls-ca, "
                        "--tls-cert and --tls-key)"));
}

TEST_F(TlsTunnelTest, AgentThatAcceptsButNeverAnswersIsHung) {
  // A listening socket nobody accepts on: the kernel completes TCP, as for
  // a SIGSTOPped agent, and nothing more ever comes.
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(s, 16), 0);
  socklen_t len = sizeof(addr);
  getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string address = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  EXPECT_THAT(Call(Good(), address, absl::Milliseconds(300)),
              HasSubstr("DEADLINE_EXCEEDED: connected, but no TLS handshake "
                        "within 300ms: the agent is most likely hung"));
  close(s);
}

TEST_F(TlsTunnelTest, NobodyListening) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  close(s);  // bound once, listened never: refused
  EXPECT_THAT(Call(Good(), absl::StrCat("127.0.0.1:", ntohs(addr.sin_port))),
              HasSubstr("UNAVAILABLE: connection refused"));
}

TEST_F(TlsTunnelTest, KeyThatDoesNotMatchTheCertificateIsABadArgument) {
  TlsOptions tls = Good();
  tls.key = Pki("server.key");
  absl::StatusOr<ChannelFactory> factory = ChannelFactory::Create(tls);
  ASSERT_FALSE(factory.ok());
  EXPECT_EQ(factory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(factory.status().message(), HasSubstr("does not match"));
}

TEST_F(TlsTunnelTest, ManyCallsShareOneContext) {
  // One factory, many agents' worth of tunnels through it, all answered.
  absl::StatusOr<ChannelFactory> factory = ChannelFactory::Create(Good());
  ASSERT_TRUE(factory.ok()) << factory.status();
  AgentTarget target{tls_agent_->address(0), tls_agent_->address(0), "", ""};
  for (int i = 0; i < 20; ++i) {
    AgentConnection c = factory->Connect(target, absl::Seconds(10));
    absl::Notification settled;
    c.WhenReady([&](bool) { settled.Notify(); });
    settled.WaitForNotification();
    auto stub = v1::Agent::NewStub(c.channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::GetInfoResponse info;
    ASSERT_TRUE(stub->GetInfo(&context, {}, &info).ok());
    EXPECT_EQ(info.node(), tls_agent_->node(0));
  }
}

}  // namespace
}  // namespace tally::cli
