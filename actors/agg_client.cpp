#include "actors/agg_client.hpp"

#include "actors/ask.hpp"

namespace shoal {

agg_client::agg_client(node& n) : node_(n) {
}

result<bool> agg_client::define(agg::definition def) {
  return wait_for<bool>(
    [&](auto done) { node_.aggregates().define(std::move(def), std::move(done)); });
}

result<bool> agg_client::drop(std::string name) {
  return wait_for<bool>(
    [&](auto done) { node_.aggregates().drop(std::move(name), std::move(done)); });
}

std::optional<agg::definition> agg_client::describe(std::string_view name) const {
  return node_.aggregates().find(name);
}

result<agg::value> agg_client::with_monoid(
  std::string_view name,
  const std::function<result<agg::value>(const agg::monoid&)>& make) const {
  auto def = node_.aggregates().find(name);
  if (!def) {
    return fail(errc::not_found, "no aggregate " + std::string{name});
  }
  auto m = agg::monoid::make(def->k, def->params);
  if (!m) {
    return std::move(m).err();
  }
  return make(*m);
}

result<agg::value> agg_client::delta(std::string_view name, int64_t n) const {
  return with_monoid(name, [&](const agg::monoid& m) { return m.from_integer(n); });
}

result<agg::value> agg_client::delta(std::string_view name, double x) const {
  return with_monoid(name, [&](const agg::monoid& m) { return m.from_number(x); });
}

result<agg::value> agg_client::delta(std::string_view name,
                                     const std::vector<std::string>& elements,
                                     const std::vector<uint64_t>* weights) const {
  return with_monoid(name, [&](const agg::monoid& m) {
    return m.from_elements(elements, weights);
  });
}

result<agg::value> agg_client::delta(std::string_view name, time_point at,
                                     std::string v) const {
  return with_monoid(name, [&](const agg::monoid& m) {
    return m.from_timed(at, std::move(v));
  });
}

agg::merge_cmd agg_client::command(std::string name, std::string entity, agg::value delta,
                                   const merge_options& opts) {
  agg::merge_cmd cmd;
  cmd.name = std::move(name);
  cmd.entity = std::move(entity);
  cmd.bucket = opts.bucket;
  cmd.event_time = opts.at;
  cmd.delta = std::move(delta);
  cmd.ttl = opts.ttl;
  cmd.event_id = opts.event_id;
  return cmd;
}

result<agg::merge_result> agg_client::add(std::string name, std::string entity, int64_t n,
                                          const merge_options& opts) {
  auto d = delta(name, n);
  if (!d) {
    return std::move(d).err();
  }
  return merge(command(std::move(name), std::move(entity), std::move(*d), opts));
}

result<agg::merge_result> agg_client::add(std::string name, std::string entity,
                                          const std::vector<std::string>& elements,
                                          const merge_options& opts) {
  auto d = delta(name, elements);
  if (!d) {
    return std::move(d).err();
  }
  return merge(command(std::move(name), std::move(entity), std::move(*d), opts));
}

result<agg::merge_result> agg_client::merge(agg::merge_cmd cmd) {
  std::vector<agg::merge_cmd> one;
  one.push_back(std::move(cmd));
  auto r = merge(std::move(one));
  if (!r) {
    return std::move(r).err();
  }
  auto& o = r->front();
  if (o.code != 0) {
    return error{static_cast<errc>(o.code), std::move(o.message)};
  }
  return o.r;
}

result<std::vector<agg::merge_outcome>> agg_client::merge(std::vector<agg::merge_cmd> batch) {
  return wait_for<std::vector<agg::merge_outcome>>(
    [&](auto done) { merge_async(std::move(batch), std::move(done)); });
}

void agg_client::merge_async(
  std::vector<agg::merge_cmd> batch,
  std::function<void(result<std::vector<agg::merge_outcome>>)> done) {
  node_.aggregates().merge(std::move(batch), std::move(done));
}

void agg_client::read_async(
  std::vector<agg::read_query> queries, bool many,
  std::function<void(result<std::vector<agg::read_outcome>>)> done) {
  node_.aggregates().read(std::move(queries), many, std::move(done));
}

result<agg::reading> agg_client::read_one(agg::read_query q) {
  std::vector<agg::read_query> one;
  one.push_back(std::move(q));
  auto r = wait_for<std::vector<agg::read_outcome>>(
    [&](auto done) { read_async(std::move(one), false, std::move(done)); });
  if (!r) {
    return std::move(r).err();
  }
  auto& o = r->front();
  if (o.code != 0) {
    return error{static_cast<errc>(o.code), std::move(o.message)};
  }
  return std::move(o.r);
}

result<agg::reading> agg_client::get(std::string name, std::string entity,
                                     std::optional<int64_t> bucket) {
  agg::read_query q{std::move(name), std::move(entity)};
  if (bucket) {
    q.how = agg::read_query::mode::bucket;
    q.bucket = *bucket;
  }
  return read_one(std::move(q));
}

result<agg::reading> agg_client::window(std::string name, std::string entity, int64_t from,
                                        int64_t to) {
  agg::read_query q{std::move(name), std::move(entity), agg::read_query::mode::range};
  q.from = from;
  q.to = to;
  return read_one(std::move(q));
}

result<agg::reading> agg_client::last(std::string name, std::string entity, int64_t n) {
  agg::read_query q{std::move(name), std::move(entity), agg::read_query::mode::last};
  q.n = n;
  return read_one(std::move(q));
}

result<std::vector<agg::read_outcome>>
agg_client::get_many(std::string name, const std::vector<std::string>& entities,
                     std::optional<int64_t> bucket) {
  std::vector<agg::read_query> qs;
  qs.reserve(entities.size());
  for (const auto& e : entities) {
    agg::read_query q{name, e};
    if (bucket) {
      q.how = agg::read_query::mode::bucket;
      q.bucket = *bucket;
    }
    qs.push_back(std::move(q));
  }
  return wait_for<std::vector<agg::read_outcome>>(
    [&](auto done) { read_async(std::move(qs), true, std::move(done)); });
}

result<bool> agg_client::mark_seen(std::string scope, std::string event_id,
                                   duration retention) {
  return wait_for<bool>([&](auto done) {
    node_.aggregates().mark_seen(std::move(scope), std::move(event_id), retention,
                                 std::move(done));
  });
}

} // namespace shoal
