// The bpffs directory where a durable agent pins its probes:
//
//   ROOT/alive        ARRAY map: when the agent last said it was alive
//   ROOT/NAME/meta    ARRAY map: the probe's PinnedProbe record
//   ROOT/NAME/<map>   the counter's maps, by their names in counter.bpf.c
//   ROOT/NAME/link*   its links, where the kernel can pin them
//
// bpffs holds only BPF objects and directories, so records live in maps;
// it refuses '.' in names, so a probe NAME's dots are written '+'. A probe
// is assembled in ROOT/+new-ID and renamed into place, so a directory
// without '+' is always complete.
#ifndef TALLY_AGENT_PROBE_PIN_ROOT_H_
#define TALLY_AGENT_PROBE_PIN_ROOT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/scoped_fd.h"

namespace tally {

class PinRoot {
 public:
  // Mounts bpffs at /sys/fs/bpf if `root` is there and nothing is mounted
  // yet, creates `root`, and locks it: one agent per root. ALREADY_EXISTS
  // when another agent holds the root; FAILED_PRECONDITION saying what to
  // do when bpffs is missing or the root cannot be made.
  static absl::StatusOr<std::unique_ptr<PinRoot>> Open(const std::string& root);

  const std::string& path() const { return path_; }

  // The directory of probe `name`, and the name back from a directory.
  std::string ProbeDir(const std::string& name) const;
  static std::string NameOfDir(const std::string& dir_name);

  // A new, empty directory to assemble a probe in; Commit() renames it to
  // the probe's, replacing nothing (FAILED_PRECONDITION if it exists).
  absl::StatusOr<std::string> NewProbeDir();
  absl::Status Commit(const std::string& new_dir, const std::string& name);

  struct Listing {
    std::vector<std::string> probes;    // complete probe names
    std::vector<std::string> warnings;  // what else was found, and done
  };
  // The probes pinned here; removes half-assembled ones (+new-*), reports
  // anything tally did not write and leaves it alone.
  Listing List();

  // Unpins everything under the probe's directory and removes it.
  absl::Status Remove(const std::string& name);
  // Removes every probe, the alive map and the root itself: tallyd
  // --uninstall. Pins tally did not write stay, and so does the root then
  // (FAILED_PRECONDITION naming them).
  absl::Status RemoveAll(std::vector<std::string>* removed);

  // A record kept with a probe: written once, updated in place.
  static absl::Status WriteRecord(const std::string& dir,
                                  const std::string& bytes);
  static absl::StatusOr<std::string> ReadRecord(const std::string& dir);

  void MarkAlive(absl::Time now);
  // InfinitePast when no agent ever said so.
  absl::Time LastAlive() const;

 private:
  PinRoot(std::string path, ScopedFd lock, ScopedFd alive)
      : path_(std::move(path)),
        lock_(std::move(lock)),
        alive_(std::move(alive)) {}

  std::string path_;
  ScopedFd lock_;   // the root directory, flocked
  ScopedFd alive_;  // the alive map
};

// Pins `fd` (a map or link) at `path`, and opens a pinned object.
absl::Status PinFd(int fd, const std::string& path);
absl::StatusOr<ScopedFd> OpenPinned(const std::string& path);

// Removes a whole pin tree (unpinning everything in it).
absl::Status RemovePinTree(const std::string& path);

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_PIN_ROOT_H_
