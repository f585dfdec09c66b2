// tallyd over TCP: mutual TLS by default, plaintext only when asked for.
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/files.h"
#include "tests/testing/agent_process.h"

namespace tally {
namespace {

using ::tally::testing::AgentProcess;
using ::tally::testing::ContextWithDeadline;
using ::testing::HasSubstr;

class TallydTlsTest : public ::testing::Test {
 protected:
  // TLS needs neither root nor BPF: these run everywhere.
  void SetUp() override {
    pki_ = ::tally::testing::MakeTempDir();
    std::string gen = ::tally::testing::RunfilePath("scripts/gen-certs.sh");
    ASSERT_EQ(std::system((gen + " " + pki_ + "/a >/dev/null").c_str()), 0);
    // A second, unrelated CA and client: valid certificates the agent must
    // still refuse.
    ASSERT_EQ(std::system((gen + " " + pki_ + "/rogue >/dev/null").c_str()), 0);
  }
  void TearDown() override {
    if (!pki_.empty()) std::system(("rm -rf " + pki_).c_str());
  }

  std::string File(const std::string& name) {
    absl::StatusOr<std::string> data = ReadFile(pki_ + "/" + name);
    EXPECT_TRUE(data.ok()) << data.status();
    return data.ok() ? *data : "";
  }

  std::unique_ptr<AgentProcess> StartTlsAgent() {
    AgentProcess::Options options;
    options.unix_socket = false;
    options.args = {"--listen=127.0.0.1:0",
                    "--tls_cert=" + pki_ + "/a/server.pem",
                    "--tls_key=" + pki_ + "/a/server.key",
                    "--tls_client_ca=" + pki_ + "/a/ca.pem"};
    auto agent = AgentProcess::Start(options);
    EXPECT_TRUE(agent.ok()) << agent.status();
    return agent.ok() ? *std::move(agent) : nullptr;
  }

  grpc::Status GetInfo(const std::string& address,
                       std::shared_ptr<grpc::ChannelCredentials> creds) {
    auto stub = v1::Agent::NewStub(grpc::CreateChannel(address, creds));
    v1::GetInfoResponse info;
    return stub->GetInfo(ContextWithDeadline(absl::Seconds(10)).get(), {},
                         &info);
  }

  grpc::SslCredentialsOptions ClientTls(const std::string& set) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = File("a/ca.pem");
    if (!set.empty()) {
      tls.pem_cert_chain = File(set + "/client.pem");
      tls.pem_private_key = File(set + "/client.key");
    }
    return tls;
  }

  std::string pki_;
};

TEST_F(TallydTlsTest, ClientCertificateSignedByTheClientCaIsServed) {
  auto agent = StartTlsAgent();
  ASSERT_NE(agent, nullptr);
  grpc::Status s =
      GetInfo(agent->address(), grpc::SslCredentials(ClientTls("a")));
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(TallydTlsTest, ClientWithoutCertificateIsRefused) {
  auto agent = StartTlsAgent();
  ASSERT_NE(agent, nullptr);
  grpc::Status s = GetInfo(agent->address(), grpc::SslCredentials(ClientTls("")));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(TallydTlsTest, ClientCertificateFromAnotherCaIsRefused) {
  auto agent = StartTlsAgent();
  ASSERT_NE(agent, nullptr);
  grpc::Status s =
      GetInfo(agent->address(), grpc::SslCredentials(ClientTls("rogue")));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(TallydTlsTest, PlaintextClientIsRefused) {
  auto agent = StartTlsAgent();
  ASSERT_NE(agent, nullptr);
  grpc::Status s =
      GetInfo(agent->address(), grpc::InsecureChannelCredentials());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(TallydTlsTest, PlaintextTcpNeedsTheExplicitFlag) {
  AgentProcess::Options options;
  options.unix_socket = false;
  options.wait_ready = false;
  options.args = {"--listen=127.0.0.1:0"};
  auto refused = AgentProcess::Start(options);
  ASSERT_TRUE(refused.ok()) << refused.status();
  absl::StatusOr<int> code = (*refused)->WaitExit(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1);
  EXPECT_THAT((*refused)->Log(), HasSubstr("refusing plaintext TCP"));
  EXPECT_THAT((*refused)->Log(), HasSubstr("--insecure_plaintext"));

  options.wait_ready = true;
  options.args = {"--listen=127.0.0.1:0", "--insecure_plaintext"};
  auto allowed = AgentProcess::Start(options);
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_THAT((*allowed)->Log(), HasSubstr("serving plaintext TCP"));
  grpc::Status s =
      GetInfo((*allowed)->address(), grpc::InsecureChannelCredentials());
  EXPECT_TRUE(s.ok()) << s.error_message();
}

}  // namespace
}  // namespace tally
