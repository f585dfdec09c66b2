// A minimal HTTP/1.1 client over loopback TCP for tests: tallyd's /metrics
// and Prometheus's HTTP API, and raw bytes for bad requests. One request
// per connection (Connection: close), every wait bounded.
#ifndef TALLY_TESTS_TESTING_HTTP_CLIENT_H_
#define TALLY_TESTS_TESTING_HTTP_CLIENT_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/scoped_fd.h"

namespace tally::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// Connects to "HOST:PORT" (IPv4 or a name); UNAVAILABLE if it cannot.
absl::StatusOr<ScopedFd> ConnectTcp(const std::string& host_port,
                                    absl::Duration timeout = absl::Seconds(10));

// Sends `request` as is and reads until the server closes (or `timeout`).
// The raw answer; empty when the server closed without one.
absl::StatusOr<std::string> RawExchange(const std::string& host_port,
                                        const std::string& request,
                                        absl::Duration timeout);

// `method` `target` (path and query) and the parsed answer.
absl::StatusOr<HttpResponse> HttpRequest(
    const std::string& host_port, const std::string& method,
    const std::string& target, absl::Duration timeout = absl::Seconds(20));

// Parses a whole HTTP/1.x answer (Content-Length or read to close).
absl::StatusOr<HttpResponse> ParseHttpResponse(const std::string& raw);

// Percent-encodes a query parameter's value.
std::string UrlEncode(const std::string& text);

// "http://HOST:PORT/path" to "HOST:PORT".
std::string HostPortOf(const std::string& url);

}  // namespace tally::testing

#endif  // TALLY_TESTS_TESTING_HTTP_CLIENT_H_
