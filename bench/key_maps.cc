#include "bench/key_maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace tally::bench {
namespace {

constexpr uint64_t kIdBase = 1ull << 40;

struct MapFd {
  uint32_t id = 0;
  uint32_t type = 0;
  uint32_t key_size = 0;
};

// Every BPF map `pid` holds, from /proc/PID/fdinfo.
std::vector<MapFd> MapsOf(pid_t pid) {
  std::vector<MapFd> out;
  std::string dir = absl::StrCat("/proc/", pid, "/fdinfo");
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::ifstream in(absl::StrCat(dir, "/", e->d_name));
    std::string key;
    uint64_t value;
    MapFd m;
    bool is_map = false;
    while (in >> key) {
      std::string raw;
      in >> raw;
      if (!absl::SimpleAtoi(raw, &value)) continue;
      if (key == "map_type:") {
        m.type = value;
        is_map = true;
      }
      if (key == "key_size:") m.key_size = value;
      if (key == "map_id:") m.id = value;
    }
    if (is_map && m.id != 0) out.push_back(m);
  }
  closedir(d);
  return out;
}

// The per-key maps of either layout: main's PERCPU_HASH with 24-byte keys,
// this build's HASH with 8-byte keys.
bool IsKeyMap(const MapFd& m) {
  return (m.type == BPF_MAP_TYPE_PERCPU_HASH && m.key_size == 24) ||
         (m.type == BPF_MAP_TYPE_HASH && m.key_size == 8);
}

}  // namespace

int FillKeyMaps(pid_t pid, uint64_t n) {
  int filled = 0;
  const int cpus = libbpf_num_possible_cpus();
  for (const MapFd& m : MapsOf(pid)) {
    if (!IsKeyMap(m)) continue;
    int fd = bpf_map_get_fd_by_id(m.id);
    if (fd < 0) continue;
    const bool percpu = m.type == BPF_MAP_TYPE_PERCPU_HASH;
    std::vector<uint64_t> value(percpu ? cpus : 1);
    uint8_t key[24] = {};
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t id = kIdBase + i;
      std::memcpy(key, &id, sizeof(id));
      value[0] = i % 1000 + 1;
      if (bpf_map_update_elem(fd, key, value.data(), BPF_ANY) != 0) {
        LOG(WARNING) << "filling map " << m.id << " stopped at " << i;
        break;
      }
    }
    close(fd);
    ++filled;
  }
  return filled;
}


}  // namespace tally::bench
