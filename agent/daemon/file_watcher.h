// Tells its owner when a file's contents change, however the change is
// made: an editor's write-then-rename, a write in place, or the kubelet's
// ConfigMap update, which swaps the `..data` symlink the file resolves
// through. Watches the file's directory with inotify and re-reads every
// `recheck` as a safety net.
#ifndef TALLY_AGENT_DAEMON_FILE_WATCHER_H_
#define TALLY_AGENT_DAEMON_FILE_WATCHER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/scoped_fd.h"

namespace tally {

class FileWatcher {
 public:
  // The file's contents, or why it could not be read.
  using OnChange = std::function<void(absl::StatusOr<std::string>)>;

  // Calls `on_change` once with the current contents, then on its own
  // thread each time they differ from the last call's (or the file becomes
  // readable or unreadable). Events come in bursts: it waits `settle` after
  // the last one before reading. A directory that does not exist (yet) is
  // re-checked every `recheck` until it does. FAILED_PRECONDITION when
  // inotify is unavailable.
  static absl::StatusOr<std::unique_ptr<FileWatcher>> Start(
      std::string path, OnChange on_change,
      absl::Duration recheck = absl::Seconds(30),
      absl::Duration settle = absl::Milliseconds(100));

  // Stops the thread; no call is made after it returns.
  ~FileWatcher();

 private:
  FileWatcher(std::string path, OnChange on_change, absl::Duration recheck,
              absl::Duration settle, ScopedFd inotify, ScopedFd stop);
  void Run();
  // Watches the file's directory; false when it cannot (yet).
  bool AddWatch();
  // Reads the file and calls on_change_ when it differs from last time.
  void Check();

  const std::string path_;
  const OnChange on_change_;
  const absl::Duration recheck_;
  const absl::Duration settle_;
  ScopedFd inotify_;
  ScopedFd stop_;  // eventfd
  std::string last_;
  bool last_ok_ = false;
  bool first_ = true;
  bool watching_ = false;
  std::thread thread_;
};

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_FILE_WATCHER_H_
