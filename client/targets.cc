#include "client/targets.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace tally::cli {
namespace {

constexpr absl::string_view kForms =
    "HOST:PORT, unix:PATH, dns:NAME:PORT or @FILE";

bool ValidPort(absl::string_view port) {
  uint32_t p = 0;
  return absl::SimpleAtoi(port, &p) && p >= 1 && p <= 65535;
}

bool ValidHost(absl::string_view host) {
  if (host.empty()) return false;
  for (char c : host) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
          c == '-' || c == '_' || c == ':')) {
      return false;
    }
  }
  return true;
}

// Splits "host:port" or "[v6]:port".
bool SplitHostPort(absl::string_view s, absl::string_view* host,
                   absl::string_view* port) {
  if (absl::StartsWith(s, "[")) {
    size_t close = s.find("]:");
    if (close == absl::string_view::npos) return false;
    *host = s.substr(1, close - 1);
    *port = s.substr(close + 2);
    return true;
  }
  size_t colon = s.rfind(':');
  if (colon == absl::string_view::npos) return false;
  *host = s.substr(0, colon);
  *port = s.substr(colon + 1);
  return host->find(':') == absl::string_view::npos;
}

std::vector<AgentTarget> ResolveDns(absl::string_view entry,
                                    absl::string_view name,
                                    absl::string_view port) {
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  std::string host(name);
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (rc != 0) {
    return {AgentTarget{std::string(entry), "", "",
                        absl::StrCat("UNAVAILABLE: cannot resolve ", name, ": ",
                                     gai_strerror(rc))}};
  }
  std::vector<AgentTarget> out;
  std::set<std::string> seen;
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    std::string address;
    if (ai->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr,
                buf, sizeof(buf));
      address = absl::StrCat(buf, ":", port);
    } else if (ai->ai_family == AF_INET6) {
      inet_ntop(AF_INET6,
                &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, buf,
                sizeof(buf));
      address = absl::StrCat("[", buf, "]:", port);
    } else {
      continue;
    }
    if (!seen.insert(address).second) continue;
    // ipv4:/ipv6: keep gRPC from re-resolving a literal per channel.
    std::string scheme = ai->ai_family == AF_INET ? "ipv4:" : "ipv6:";
    out.push_back(
        AgentTarget{address, scheme + address, std::string(name), ""});
  }
  freeaddrinfo(result);
  if (out.empty()) {
    out.push_back(AgentTarget{
        std::string(entry), "", "",
        absl::StrCat("UNAVAILABLE: ", name, " resolved to no address")});
  }
  return out;
}

absl::Status ParseEntry(absl::string_view entry, absl::string_view where,
                        int depth, std::vector<AgentTarget>* out);

// "unix:" and PATH with repeated slashes and "." parts taken out, so that
// spellings of one socket are one agent. ".." stays: through a symbolic
// link it need not mean the parent.
std::string NormalUnixTarget(absl::string_view path) {
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == ".") continue;
    parts.push_back(part);
  }
  std::string out = "unix:";
  if (absl::StartsWith(path, "/")) out += "/";
  absl::StrAppend(&out, absl::StrJoin(parts, "/"));
  return out;
}

absl::Status ParseFile(absl::string_view path, int depth,
                       std::vector<AgentTarget>* out) {
  std::ifstream in{std::string(path)};
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read agent list file ", path));
  }
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    absl::string_view text = line;
    if (size_t hash = text.find('#'); hash != absl::string_view::npos) {
      text = text.substr(0, hash);
    }
    // Comma-separated as in --agents, so that a line pasted from there
    // does not become one bad target hiding the agents on it.
    for (absl::string_view entry : absl::StrSplit(text, ',')) {
      entry = absl::StripAsciiWhitespace(entry);
      if (entry.empty()) continue;
      RETURN_IF_ERROR(
          ParseEntry(entry, absl::StrCat(path, ":", number), depth + 1, out));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseEntry(absl::string_view entry, absl::string_view where,
                        int depth, std::vector<AgentTarget>* out) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(where.empty() ? "" : absl::StrCat(where, ": "), "'", entry,
                     "' ", why, "; expected ", kForms));
  };
  if (absl::StartsWith(entry, "@")) {
    if (depth > 0) return bad("(agent files cannot include other files)");
    return ParseFile(entry.substr(1), depth, out);
  }
  if (absl::StartsWith(entry, "unix:")) {
    if (entry.size() <= 5) return bad("has no socket path");
    out->push_back(AgentTarget{std::string(entry),
                               NormalUnixTarget(entry.substr(5)), "", ""});
    return absl::OkStatus();
  }
  if (absl::StartsWith(entry, "dns:")) {
    absl::string_view rest = entry.substr(4);
    absl::string_view name, port;
    if (!SplitHostPort(rest, &name, &port) || !ValidHost(name) ||
        !ValidPort(port)) {
      return bad("is not dns:NAME:PORT");
    }
    for (AgentTarget& t : ResolveDns(entry, name, port)) {
      out->push_back(std::move(t));
    }
    return absl::OkStatus();
  }
  absl::string_view host, port;
  if (!SplitHostPort(entry, &host, &port))
    return bad("is not an agent address");
  if (!ValidHost(host)) return bad("has an invalid host");
  if (!ValidPort(port)) return bad("has an invalid port (1-65535)");
  out->push_back(AgentTarget{std::string(entry), std::string(entry), "", ""});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<AgentTarget>> ParseAgents(const std::string& spec) {
  std::vector<AgentTarget> out;
  for (absl::string_view entry : absl::StrSplit(spec, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) continue;
    RETURN_IF_ERROR(ParseEntry(entry, "", 0, &out));
  }
  // One agent named twice (in a file and on the line, say) is called once:
  // otherwise it is counted or printed twice, and a second stop fails.
  std::set<std::string> seen;
  out.erase(std::remove_if(out.begin(), out.end(),
                           [&](const AgentTarget& t) {
                             return !seen.insert(TargetKey(t)).second;
                           }),
            out.end());
  if (out.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no agents given; expected ", kForms));
  }
  return out;
}

bool MayChange(const std::string& spec) {
  for (absl::string_view entry : absl::StrSplit(spec, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    if (absl::StartsWith(entry, "dns:") || absl::StartsWith(entry, "@")) {
      return true;
    }
  }
  return false;
}

std::string TargetKey(const AgentTarget& target) {
  return target.grpc_target.empty() ? target.label : target.grpc_target;
}

}  // namespace tally::cli
