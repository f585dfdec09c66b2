#include "agent/daemon/file_watcher.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace tally {
namespace {

// Not IN_CREATE or IN_MODIFY: a file is read only once it is complete
// (closed after writing, or renamed into place).
constexpr uint32_t kEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                             IN_DELETE | IN_DELETE_SELF | IN_ATTRIB;

int PollMillis(absl::Duration d) {
  return static_cast<int>(absl::ToInt64Milliseconds(d));
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileWatcher>> FileWatcher::Start(
    std::string path, OnChange on_change, absl::Duration recheck,
    absl::Duration settle) {
  ScopedFd inotify(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!inotify.valid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("inotify_init1: ", strerror(errno)));
  }
  ScopedFd stop(eventfd(0, EFD_CLOEXEC));
  if (!stop.valid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("eventfd: ", strerror(errno)));
  }
  std::unique_ptr<FileWatcher> w(
      new FileWatcher(std::move(path), std::move(on_change), recheck, settle,
                      std::move(inotify), std::move(stop)));
  w->watching_ = w->AddWatch();
  w->Check();  // the current contents, before Start returns
  w->thread_ = std::thread([w = w.get()] { w->Run(); });
  return w;
}

FileWatcher::FileWatcher(std::string path, OnChange on_change,
                         absl::Duration recheck, absl::Duration settle,
                         ScopedFd inotify, ScopedFd stop)
    : path_(std::move(path)),
      on_change_(std::move(on_change)),
      recheck_(recheck),
      settle_(settle),
      inotify_(std::move(inotify)),
      stop_(std::move(stop)) {}

FileWatcher::~FileWatcher() {
  uint64_t one = 1;
  if (write(stop_.get(), &one, sizeof(one)) != sizeof(one)) {
    // The eventfd cannot be full; nothing else can fail here.
  }
  if (thread_.joinable()) thread_.join();
}

bool FileWatcher::AddWatch() {
  std::string dir = std::filesystem::path(path_).parent_path().string();
  if (dir.empty()) dir = ".";
  return inotify_add_watch(inotify_.get(), dir.c_str(), kEvents) >= 0;
}

void FileWatcher::Check() {
  absl::StatusOr<std::string> contents = ReadFile(path_);
  const bool changed = first_ || contents.ok() != last_ok_ ||
                       (contents.ok() && *contents != last_);
  first_ = false;
  last_ok_ = contents.ok();
  last_ = contents.ok() ? *contents : std::string();
  if (changed) on_change_(std::move(contents));
}

void FileWatcher::Run() {
  char buf[16 * (sizeof(inotify_event) + NAME_MAX + 1)];
  bool pending = false;  // events seen, waiting for the burst to settle
  while (true) {
    pollfd fds[2] = {{stop_.get(), POLLIN, 0}, {inotify_.get(), POLLIN, 0}};
    int n = poll(fds, 2, PollMillis(pending ? settle_ : recheck_));
    if (n < 0 && errno != EINTR) return;
    if (fds[0].revents & POLLIN) return;
    if (n > 0 && (fds[1].revents & POLLIN)) {
      while (read(inotify_.get(), buf, sizeof(buf)) > 0) {
      }
      pending = true;  // read once the burst is over
      continue;
    }
    // A quiet `settle` after events, or the periodic recheck (which also
    // starts watching a directory that did not exist yet).
    pending = false;
    if (!watching_) watching_ = AddWatch();
    Check();
  }
}

}  // namespace tally
