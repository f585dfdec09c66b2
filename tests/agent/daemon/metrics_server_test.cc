// The /metrics HTTP server (civetweb) on loopback with a fake body: GET and
// HEAD of /metrics only, and bad requests (another path or method, huge
// headers, garbage, slow and silent clients) get an error or a timeout
// while the server keeps serving; stalled clients up to the documented bound
// never delay a scrape. No root.
#include "agent/daemon/metrics_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/daemon/metrics_exposition.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/http_client.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::ConnectTcp;
using ::tally::testing::HttpRequest;
using ::tally::testing::HttpResponse;
using ::tally::testing::RawExchange;
using ::tally::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kBody[] = "# HELP x X.\n# TYPE x gauge\nx 1\n";

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = MetricsServer::Start("127.0.0.1:0", [this] {
      ++renders_;
      return std::string(kBody);
    });
    ASSERT_OK(server);
    server_ = *std::move(server);
  }

  // A scrape that works: the server still serves.
  void ExpectServing() {
    absl::StatusOr<HttpResponse> r =
        HttpRequest(server_->address(), "GET", "/metrics");
    ASSERT_OK(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, kBody);
  }

  std::atomic<int> renders_{0};
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsServerTest, GetServesTheExposition) {
  EXPECT_THAT(server_->address(), StartsWith("127.0.0.1:"));
  EXPECT_NE(server_->address(), "127.0.0.1:0");
  absl::StatusOr<HttpResponse> r =
      HttpRequest(server_->address(), "GET", "/metrics?x=1");
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-type"], kExpositionContentType);
  EXPECT_EQ(r->body, kBody);
  EXPECT_EQ(renders_, 1);
}

TEST_F(MetricsServerTest, HeadHasNoBody) {
  absl::StatusOr<HttpResponse> r =
      HttpRequest(server_->address(), "HEAD", "/metrics");
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-length"], absl::StrCat(sizeof(kBody) - 1));
  EXPECT_EQ(r->body, "");
}

TEST_F(MetricsServerTest, OtherPathsAre404) {
  for (const char* path : {"/", "/metricsx", "/metrics/x", "/debug", "/../etc"}) {
    absl::StatusOr<HttpResponse> r =
        HttpRequest(server_->address(), "GET", path);
    ASSERT_OK(r);
    EXPECT_EQ(r->status, 404) << path;
  }
  EXPECT_EQ(renders_, 0);
  ExpectServing();
}

TEST_F(MetricsServerTest, OtherMethodsAre405) {
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
    absl::StatusOr<HttpResponse> r =
        HttpRequest(server_->address(), method, "/metrics");
    ASSERT_OK(r);
    EXPECT_EQ(r->status, 405) << method;
    EXPECT_EQ(r->headers["allow"], "GET, HEAD");
  }
  EXPECT_EQ(renders_, 0);
  ExpectServing();
}

TEST_F(MetricsServerTest, HugeHeadersAndGarbageGetAnError) {
  const std::string huge =
      absl::StrCat("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ",
                   std::string(1 << 20, 'a'), "\r\n\r\n");
  for (const std::string& request :
       {huge, std::string("\x01\x02\x03 nonsense\r\n\r\n"),
        std::string("GET /metrics HTTP/9.9\r\n\r\n"),
        std::string(20000, '\n')}) {
    absl::StatusOr<std::string> raw =
        RawExchange(server_->address(), request, absl::Seconds(20));
    ASSERT_OK(raw);
    // An error status (4xx, 5xx), or closed without an answer.
    if (raw->empty()) continue;
    absl::StatusOr<HttpResponse> r = testing::ParseHttpResponse(*raw);
    ASSERT_OK(r);
    EXPECT_GE(r->status, 400) << raw->substr(0, 80);
  }
  EXPECT_EQ(renders_, 0);
  ExpectServing();
}

TEST_F(MetricsServerTest, SlowAndSilentClientsTimeOutAndOthersAreServed) {
  // More stalled connections than the server has threads: some send half a
  // request and stop, some say nothing. Each is cut when its request has not
  // arrived whole in time; a real scrape is served meanwhile or right after.
  std::vector<ScopedFd> stalled;
  for (int i = 0; i < 8; ++i) {
    absl::StatusOr<ScopedFd> fd = ConnectTcp(server_->address());
    ASSERT_OK(fd);
    if (i % 2 == 0) {
      const char partial[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ";
      ASSERT_GT(send(fd->get(), partial, sizeof(partial) - 1, MSG_NOSIGNAL), 0);
    }
    stalled.push_back(*std::move(fd));
  }
  absl::StatusOr<HttpResponse> r = HttpRequest(
      server_->address(), "GET", "/metrics", absl::Seconds(30));
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
  // Every stalled connection was closed by the server (not by us).
  for (ScopedFd& fd : stalled) {
    timeval tv = {30, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[512];
    ssize_t n;
    while ((n = recv(fd.get(), buf, sizeof(buf), 0)) > 0) {
    }
    EXPECT_EQ(n, 0) << "the server should have closed it";
  }
  EXPECT_EQ(renders_, 1);
  ExpectServing();
}

TEST_F(MetricsServerTest, StalledConnectionsWithinTheBoundDoNotDelayAScrape) {
  // As many stalled connections as the documented bound, ahead of the scrape
  // in civetweb's queue: silent ones, request heads that never complete, and
  // requests whose declared body never comes. Before, each held one of 4
  // threads for 5 s and the scrape waited its turn (12 silent: 15 s).
  // Prometheus's default scrape timeout is 10 s.
  std::vector<ScopedFd> stalled;
  for (int i = 0; i < MetricsServer::kMaxStalledConnections; ++i) {
    absl::StatusOr<ScopedFd> fd = ConnectTcp(server_->address());
    ASSERT_OK(fd);
    std::string sent;
    if (i % 3 == 1) sent = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    if (i % 3 == 2) {
      sent = "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000"
             "\r\n\r\nabc";
    }
    if (!sent.empty()) {
      ASSERT_EQ(send(fd->get(), sent.data(), sent.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(sent.size()));
    }
    stalled.push_back(*std::move(fd));
  }
  absl::StatusOr<HttpResponse> r = HttpRequest(
      server_->address(), "GET", "/metrics", absl::Seconds(10));
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, kBody);
}

TEST_F(MetricsServerTest, AnUnneededRequestBodyIsNotWaitedFor) {
  // A request declares a long body and trickles it. The answer needs none
  // of it, so the server answers and closes. Before, civetweb drained the
  // body after the answer, holding a thread for as long as bytes kept coming.
  absl::StatusOr<ScopedFd> fd = ConnectTcp(server_->address());
  ASSERT_OK(fd);
  const std::string head =
      "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc";
  ASSERT_EQ(send(fd->get(), head.data(), head.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(head.size()));
  std::string raw;
  bool closed = false;
  // One body byte per poll interval (the trickle, not synchronization);
  // 30 s bounds the test when the server never closes.
  for (int i = 0; i < 300 && !closed; ++i) {
    pollfd p = {fd->get(), POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[4096];
      const ssize_t n = recv(fd->get(), buf, sizeof(buf), 0);
      if (n > 0) {
        raw.append(buf, static_cast<size_t>(n));
        continue;
      }
      // EOF, or a reset for the trickled bytes the server did not read.
      closed = n == 0 || errno == ECONNRESET;
      ASSERT_TRUE(closed) << std::strerror(errno);
    } else if (!raw.empty()) {
      (void)send(fd->get(), "x", 1, MSG_NOSIGNAL);
    }
  }
  EXPECT_TRUE(closed) << "the server kept reading the body";
  absl::StatusOr<HttpResponse> r = testing::ParseHttpResponse(raw);
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, kBody);
}

TEST_F(MetricsServerTest, AbsoluteFormIsServedOrRefusedNeverDropped) {
  // HTTP/1.1 allows an absolute URI as the request target. Prometheus never
  // sends one, but a request must never be closed without an answer.
  const std::string port =
      server_->address().substr(server_->address().rfind(':') + 1);
  struct Case {
    std::string target;
    int status;
  };
  for (const Case& c : std::vector<Case>{
           {absl::StrCat("http://127.0.0.1:", port, "/metrics"), 200},
           {absl::StrCat("http://localhost:", port, "/metrics?x=1"), 200},
           {absl::StrCat("http://127.0.0.1:", port, "/other"), 404},
           // Another port (80 when none is given): another server's target.
           {"http://127.0.0.1:1/metrics", 400},
           {"http://127.0.0.1/metrics", 400},
           {"*", 400},
       }) {
    absl::StatusOr<std::string> raw = RawExchange(
        server_->address(),
        absl::StrCat("GET ", c.target, " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        absl::Seconds(20));
    ASSERT_OK(raw);
    ASSERT_FALSE(raw->empty()) << c.target << ": closed without an answer";
    absl::StatusOr<HttpResponse> r = testing::ParseHttpResponse(*raw);
    ASSERT_OK(r);
    EXPECT_EQ(r->status, c.status) << c.target;
    if (c.status == 200) EXPECT_EQ(r->body, kBody) << c.target;
  }
  EXPECT_EQ(renders_, 2);
  ExpectServing();
}

TEST(MetricsServerListenTest, BadAddressesAreInvalid) {
  for (const char* listen : {"", "9464", ":9464", "127.0.0.1", "127.0.0.1:x",
                             "127.0.0.1:70000", "[::]:9464", "::1:9464",
                             "127.0.0.1:-1", "a b:1"}) {
    EXPECT_THAT(MetricsServer::Start(listen, [] { return std::string(); }),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_))
        << listen;
  }
}

TEST(MetricsServerListenTest, APortInUseIsUnavailable) {
  auto first = MetricsServer::Start("127.0.0.1:0", [] { return std::string(); });
  ASSERT_OK(first);
  EXPECT_THAT(MetricsServer::Start((*first)->address(),
                                   [] { return std::string(); }),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
}

}  // namespace
}  // namespace tally
