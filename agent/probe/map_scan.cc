#include "agent/probe/map_scan.h"

#include <bpf/bpf.h>
#include <errno.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/probe/privileges.h"

namespace tally {
namespace {

constexpr int kEnotsupp = 524;  // the kernel's ENOTSUPP, not in libc

absl::Status ScanError(const char* what, int err) {
  return absl::InternalError(
      absl::StrCat("reading a map (", what, ") failed: ", ErrnoName(err)));
}

}  // namespace

absl::string_view MapReadMethodName(MapReadMethod method) {
  switch (method) {
    case MapReadMethod::kAuto:
      return "auto";
    case MapReadMethod::kBatch:
      return "batch";
    case MapReadMethod::kWalk:
      return "walk";
  }
  return "?";
}

absl::StatusOr<MapReadMethod> ParseMapReadMethod(absl::string_view name) {
  for (MapReadMethod m :
       {MapReadMethod::kAuto, MapReadMethod::kBatch, MapReadMethod::kWalk}) {
    if (name == MapReadMethodName(m)) return m;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown map read method '", name, "'; use auto, batch or walk"));
}

bool IsUnsupportedErrno(int err) {
  return err == EINVAL || err == kEnotsupp || err == EOPNOTSUPP;
}

absl::Status MapScanner::Scan(
    int fd, const ScanShape& shape,
    absl::FunctionRef<void(const uint8_t*, const uint8_t*)> fn) {
  if (method_ != MapReadMethod::kWalk) {
    bool unsupported = false;
    absl::Status s = ScanBatches(fd, shape, &unsupported, fn);
    if (!unsupported || method_ == MapReadMethod::kBatch) {
      if (s.ok()) method_ = MapReadMethod::kBatch;
      return s;
    }
    // Nothing was visited yet: the kernel refused the very first batch.
    method_ = MapReadMethod::kWalk;
  }
  return Walk(fd, shape, fn);
}

absl::Status MapScanner::ScanBatches(
    int fd, const ScanShape& shape, bool* unsupported,
    absl::FunctionRef<void(const uint8_t*, const uint8_t*)> fn) {
  const size_t entry = shape.key_size + shape.value_stride;
  uint32_t chunk = batch_keys_ != 0
                       ? batch_keys_
                       : static_cast<uint32_t>(
                             std::max<size_t>(1, kScanBufferBytes / entry));
  chunk = std::max<uint32_t>(1, std::min(chunk, shape.max_entries));
  // The batch position: a bucket index for hash maps, a key for arrays;
  // 8 bytes hold either.
  uint64_t in_batch = 0, out_batch = 0;
  bool first = true;
  while (true) {
    keys_.resize(static_cast<size_t>(chunk) * shape.key_size);
    values_.resize(static_cast<size_t>(chunk) * shape.value_stride);
    uint32_t count = chunk;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int err = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch,
                                   &out_batch, keys_.data(), values_.data(),
                                   &count, &opts) == 0
                  ? 0
                  : errno;
    if (err != 0 && err != ENOENT && err != ENOSPC) {
      *unsupported = first && IsUnsupportedErrno(err);
      return ScanError("batch", err);
    }
    for (uint32_t i = 0; i < count; ++i) {
      fn(keys_.data() + static_cast<size_t>(i) * shape.key_size,
         values_.data() + static_cast<size_t>(i) * shape.value_stride);
    }
    if (err == ENOENT) return absl::OkStatus();  // past the last entry
    if (err == ENOSPC && count == 0) {
      // One hash bucket holds more entries than a batch: retry it larger.
      if (chunk >= shape.max_entries) return ScanError("batch", err);
      chunk = std::min(chunk * 2, shape.max_entries);
      continue;
    }
    in_batch = out_batch;
    first = false;
  }
}

absl::Status MapScanner::Walk(
    int fd, const ScanShape& shape,
    absl::FunctionRef<void(const uint8_t*, const uint8_t*)> fn) {
  keys_.resize(2 * static_cast<size_t>(shape.key_size));
  values_.resize(shape.value_stride);
  uint8_t* key = keys_.data();
  uint8_t* next = keys_.data() + shape.key_size;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, next) == 0) {
    if (bpf_map_lookup_elem(fd, next, values_.data()) == 0) {
      fn(next, values_.data());
    } else if (errno != ENOENT) {
      return ScanError("lookup", errno);
    }
    std::memcpy(key, next, shape.key_size);
    prev = key;
  }
  return errno == ENOENT ? absl::OkStatus() : ScanError("walk", errno);
}

}  // namespace tally
