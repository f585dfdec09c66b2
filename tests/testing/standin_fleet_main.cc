// standin_fleet: N stand-in agents in one process, for the fleet benchmark
// and for trying tallyctl at scale by hand. Writes the agents' addresses, one
// per line, to --addresses once every agent listens (an @FILE for tallyctl),
// then serves until SIGTERM or SIGINT. SIGSTOP it to hang all of its agents
// below TLS (the kernel still completes TCP handshakes).
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "tests/testing/standin_agent.h"

ABSL_FLAG(int, agents, 100, "how many agents");
ABSL_FLAG(std::string, host, "127.0.0.1", "address every agent listens on");
ABSL_FLAG(std::string, tls_dir, "",
          "mutual TLS with DIR/server.pem, DIR/server.key and DIR/ca.pem "
          "(scripts/gen-certs.sh); empty: plaintext");
ABSL_FLAG(std::string, addresses, "", "file to write the addresses to");
ABSL_FLAG(double, rate, 1000, "events per second per probe");
ABSL_FLAG(std::string, node_prefix, "standin-", "node names: PREFIX0...");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // A listening socket and a connection per agent: raise the soft limit.
  rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before gRPC's threads

  tally::testing::StandinOptions options;
  options.host = absl::GetFlag(FLAGS_host);
  options.events_per_second = absl::GetFlag(FLAGS_rate);
  options.node_prefix = absl::GetFlag(FLAGS_node_prefix);
  if (std::string dir = absl::GetFlag(FLAGS_tls_dir); !dir.empty()) {
    options.tls_cert = dir + "/server.pem";
    options.tls_key = dir + "/server.key";
    options.tls_client_ca = dir + "/ca.pem";
  }
  auto fleet = tally::testing::StandinFleet::Start(absl::GetFlag(FLAGS_agents),
                                                   options);
  if (!fleet.ok()) {
    std::fprintf(stderr, "standin_fleet: %s\n",
                 fleet.status().ToString().c_str());
    return 1;
  }
  if (std::string path = absl::GetFlag(FLAGS_addresses); !path.empty()) {
    // Whole or not at all: readers poll for the file.
    std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp);
      for (size_t i = 0; i < (*fleet)->size(); ++i) {
        out << (*fleet)->address(i) << "\n";
      }
    }
    std::rename(tmp.c_str(), path.c_str());
  }
  int sig = 0;
  sigwait(&signals, &sig);
  return 0;
}
