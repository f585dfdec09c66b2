#include "agent/probe/top_keys.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tally {

TopKeys::TopKeys(size_t n, GroupBy group_by)
    : n_(n), comm_(group_by == GroupBy::kComm) {
  heap_.reserve(std::min<size_t>(n, 1024));
}

bool TopKeys::Better(const Candidate& a, const Candidate& b) {
  if (a.count != b.count) return a.count > b.count;
  if (a.id != b.id) return a.id < b.id;
  return std::memcmp(a.name.data(), b.name.data(), a.name.size()) < 0;
}

void TopKeys::Offer(const uint8_t* key, uint64_t count) {
  if (n_ == 0) return;
  Candidate c{count, 0, {}};
  if (comm_) {
    std::memcpy(c.name.data(), key, c.name.size());
  } else {
    std::memcpy(&c.id, key, sizeof(c.id));
  }
  // The heap's front is its worst (Better orders best first).
  if (heap_.size() < n_) {
    heap_.push_back(c);
    std::push_heap(heap_.begin(), heap_.end(), Better);
  } else if (Better(c, heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), Better);
    heap_.back() = c;
    std::push_heap(heap_.begin(), heap_.end(), Better);
  }
}

std::vector<KeyCount> TopKeys::Take() {
  std::sort_heap(heap_.begin(), heap_.end(), Better);
  std::vector<KeyCount> out;
  out.reserve(heap_.size());
  for (const Candidate& c : heap_) {
    out.push_back(
        {comm_ ? std::string(c.name.data(),
                             strnlen(c.name.data(), c.name.size()))
               : absl::StrCat(c.id),
         c.count});
  }
  heap_.clear();
  return out;
}

}  // namespace tally
