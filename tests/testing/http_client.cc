#include "tests/testing/http_client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace tally::testing {

absl::StatusOr<ScopedFd> ConnectTcp(const std::string& host_port,
                                    absl::Duration timeout) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("not HOST:PORT: ", host_port));
  }
  const std::string host = host_port.substr(0, colon);
  const std::string port = host_port.substr(colon + 1);
  addrinfo hints = {};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 ||
      res == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", host_port));
  }
  ScopedFd fd(socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv = {static_cast<time_t>(absl::ToInt64Seconds(timeout)), 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  const int rc = connect(fd.get(), res->ai_addr, res->ai_addrlen);
  const int err = errno;
  freeaddrinfo(res);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("connect ", host_port, ": ", std::strerror(err)));
  }
  return fd;
}

absl::StatusOr<std::string> RawExchange(const std::string& host_port,
                                        const std::string& request,
                                        absl::Duration timeout) {
  absl::StatusOr<ScopedFd> fd = ConnectTcp(host_port, timeout);
  if (!fd.ok()) return fd.status();
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(fd->get(), request.data() + sent, request.size() - sent,
                     MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may refuse early: read its answer
    sent += static_cast<size_t>(n);
  }
  std::string out;
  const absl::Time deadline = absl::Now() + timeout;
  char buf[65536];
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("no complete answer from ", host_port, " in ",
                       absl::FormatDuration(timeout), "; got ", out.size(),
                       " bytes"));
    }
    pollfd p = {fd->get(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <=
        0) {
      continue;
    }
    ssize_t n = recv(fd->get(), buf, sizeof(buf), 0);
    if (n <= 0) break;  // closed (or reset)
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

absl::StatusOr<HttpResponse> ParseHttpResponse(const std::string& raw) {
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) {
    return absl::DataLossError(
        absl::StrCat("no HTTP header in ", raw.size(), " bytes"));
  }
  std::vector<std::string> lines =
      absl::StrSplit(raw.substr(0, end), "\r\n");
  HttpResponse r;
  std::vector<std::string> status = absl::StrSplit(lines[0], ' ');
  if (status.size() < 2 || !absl::SimpleAtoi(status[1], &r.status)) {
    return absl::DataLossError(absl::StrCat("bad status line: ", lines[0]));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    r.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  r.body = raw.substr(end + 4);
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    size_t length = 0;
    if (absl::SimpleAtoi(it->second, &length) && length < r.body.size()) {
      r.body.resize(length);
    }
  }
  return r;
}

absl::StatusOr<HttpResponse> HttpRequest(const std::string& host_port,
                                         const std::string& method,
                                         const std::string& target,
                                         absl::Duration timeout) {
  absl::StatusOr<std::string> raw = RawExchange(
      host_port,
      absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: ", host_port,
                   "\r\nAccept-Encoding: identity\r\nConnection: "
                   "close\r\n\r\n"),
      timeout);
  if (!raw.ok()) return raw.status();
  return ParseHttpResponse(*raw);
}

std::string UrlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

std::string HostPortOf(const std::string& url) {
  std::string rest = url;
  if (size_t scheme = rest.find("://"); scheme != std::string::npos) {
    rest = rest.substr(scheme + 3);
  }
  return rest.substr(0, rest.find('/'));
}

}  // namespace tally::testing
