#include "services/room/tag_index.h"

#include <algorithm>

#include "common/base/tag_name.h"

namespace push::room {

bool TagIndex::validTag(std::string_view tag) {
  return isValidTagName(tag);
}

std::string TagIndex::keyOf(uint16_t app, std::string_view tag) {
  std::string key;
  key.reserve(2 + tag.size());
  key.push_back(static_cast<char>(app >> 8));
  key.push_back(static_cast<char>(app & 0xff));
  key.append(tag);
  return key;
}

const TagIndex::Entry* TagIndex::findEntry(uint16_t app, std::string_view tag) const {
  auto it = entries_.find(keyOf(app, tag));
  return it == entries_.end() ? nullptr : &it->second;
}

size_t TagIndex::count(uint16_t app, std::string_view tag) const {
  const Entry* e = findEntry(app, tag);
  return e ? e->conns.size() : 0;
}

TagIndex::Outcome TagIndex::subscribe(net::ConnId conn, uint16_t app,
                                      const std::vector<std::string_view>& tags) {
  auto found = by_conn_.find(conn);
  std::vector<Sub>* subs = found == by_conn_.end() ? nullptr : &found->second;
  auto has = [&](std::string_view tag) {
    if (!subs) return false;
    return std::any_of(subs->begin(), subs->end(),
                       [&](const Sub& s) { return s.entry->app == app && s.entry->tag == tag; });
  };
  // Count what is new first: a refusal must change nothing.
  size_t current = 0;
  if (subs) {
    current = static_cast<size_t>(std::count_if(subs->begin(), subs->end(),
                                                [&](const Sub& s) { return s.entry->app == app; }));
  }
  std::vector<std::string_view> fresh;
  for (std::string_view tag : tags) {
    if (has(tag) || std::find(fresh.begin(), fresh.end(), tag) != fresh.end()) continue;
    fresh.push_back(tag);
  }
  if (current + fresh.size() > max_per_conn_) return Outcome::TooMany;
  if (fresh.empty()) return Outcome::Ok;
  if (!subs) subs = &by_conn_[conn];
  subs->reserve(subs->size() + fresh.size());
  for (std::string_view tag : fresh) {
    std::string key = keyOf(app, tag);
    auto [it, inserted] = entries_.try_emplace(std::move(key));
    Entry& e = it->second;
    if (inserted) {
      e.app = app;
      e.tag.assign(tag);
    }
    subs->push_back(Sub{&e, static_cast<uint32_t>(e.conns.size())});
    e.conns.push_back(conn);
    ++subscriptions_;
  }
  return Outcome::Ok;
}

void TagIndex::dropSub(std::vector<Sub>& subs, size_t i) {
  Entry* e = subs[i].entry;
  const uint32_t pos = subs[i].pos;
  const net::ConnId last = e->conns.back();
  if (pos + 1 != e->conns.size()) {
    // Move the last subscriber into the hole and tell its connection where it now is.
    e->conns[pos] = last;
    for (Sub& s : by_conn_.find(last)->second) {
      if (s.entry == e) {
        s.pos = pos;
        break;
      }
    }
  }
  e->conns.pop_back();
  --subscriptions_;
  subs[i] = subs.back();
  subs.pop_back();
  if (e->conns.empty()) entries_.erase(keyOf(e->app, e->tag));
}

void TagIndex::unsubscribe(net::ConnId conn, uint16_t app,
                           const std::vector<std::string_view>& tags) {
  auto found = by_conn_.find(conn);
  if (found == by_conn_.end()) return;
  std::vector<Sub>& subs = found->second;
  for (std::string_view tag : tags) {
    for (size_t i = 0; i < subs.size(); ++i) {
      if (subs[i].entry->app == app && subs[i].entry->tag == tag) {
        dropSub(subs, i);
        break;
      }
    }
  }
  if (subs.empty()) by_conn_.erase(found);
}

void TagIndex::removeApp(net::ConnId conn, uint16_t app) {
  auto found = by_conn_.find(conn);
  if (found == by_conn_.end()) return;
  std::vector<Sub>& subs = found->second;
  for (size_t i = subs.size(); i-- > 0;) {
    if (subs[i].entry->app == app) dropSub(subs, i);
  }
  if (subs.empty()) by_conn_.erase(found);
}

void TagIndex::removeConnection(net::ConnId conn) {
  auto found = by_conn_.find(conn);
  if (found == by_conn_.end()) return;
  std::vector<Sub>& subs = found->second;
  while (!subs.empty())
    dropSub(subs, subs.size() - 1);
  by_conn_.erase(found);
}

bool TagIndex::contains(net::ConnId conn, uint16_t app, std::string_view tag) const {
  auto found = by_conn_.find(conn);
  if (found == by_conn_.end()) return false;
  for (const Sub& s : found->second) {
    if (s.entry->app == app && s.entry->tag == tag) return true;
  }
  return false;
}

std::vector<std::string> TagIndex::tagsOf(net::ConnId conn, uint16_t app) const {
  std::vector<std::string> out;
  auto found = by_conn_.find(conn);
  if (found == by_conn_.end()) return out;
  for (const Sub& s : found->second) {
    if (s.entry->app == app) out.push_back(s.entry->tag);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace push::room
