#include "net/http/election.hpp"

#include <nlohmann/json.hpp>

#include "actors/ask.hpp"
#include "actors/kv_client.hpp"
#include "actors/lock_client.hpp"
#include "net/http/json.hpp"
#include "runtime/key.hpp"

namespace shoal {

using json = nlohmann::json;

std::string election_key(const std::string& name) {
  return "_election." + name;
}

result<std::string> checked_election_key(const std::string& name) {
  auto key = election_key(name);
  if (auto ok = validate_key(key); !ok) {
    return fail(errc::invalid_key, "election name: " + ok.err().message);
  }
  return key;
}

namespace {

// Gives the lock back when the leader record could not be written.
void abandon(node& n, const std::string& key, const std::string& token) {
  lock_client{n}.release_async(key, token, [](result<uint64_t>) {});
}

} // namespace

std::string leader_record(const leadership& l) {
  return json{{"value", l.value},
              {"lease", l.lease},
              {"fence", l.fence},
              {"since", format_rfc3339(l.since)}}
    .dump();
}

result<leadership> parse_leader_record(std::string name, std::string_view record) {
  auto parsed = http::parse_json(record);
  auto j = parsed ? std::move(*parsed) : json{};
  auto since = j.is_object() && j.contains("since") && j["since"].is_string()
                 ? parse_rfc3339(j["since"].get<std::string>())
                 : std::nullopt;
  if (!j.is_object() || !j.contains("value") || !j["value"].is_string()
      || !j.contains("lease") || !j["lease"].is_number_unsigned()
      || !j.contains("fence") || !j["fence"].is_number_unsigned() || !since) {
    return fail(errc::internal, "corrupt leader record of election " + name);
  }
  leadership out;
  out.name = std::move(name);
  out.value = j["value"].get<std::string>();
  out.lease = j["lease"].get<uint64_t>();
  out.fence = j["fence"].get<uint64_t>();
  out.since = *since;
  return out;
}

json leadership_json(const leadership& l) {
  json out{{"name", l.name},
           {"value", l.value},
           {"lease", l.lease},
           {"fence", l.fence},
           {"since", format_rfc3339(l.since)}};
  if (!l.token.empty()) {
    out["leader"] = true;
    out["token"] = l.token;
  }
  return out;
}

void campaign_async(node& n, std::string name, std::string value, uint64_t lease,
                    duration wait, std::function<void(result<leadership>)> done) {
  auto key = checked_election_key(name);
  if (!key) {
    done(std::move(key).err());
    return;
  }
  if (lease == 0) {
    done(error{errc::invalid_argument, "a campaign needs a lease (POST /v1/leases)"});
    return;
  }
  lock::acquire_cmd cmd;
  cmd.key = *key;
  cmd.ttl = std::chrono::seconds{30}; // unused: the hold ends with the lease
  cmd.wait = wait;
  cmd.lease = lease;
  auto on_granted = [&n, done, name, key = *key, value = std::move(value),
                     lease](result<lock::acquire_result> r) {
    if (!r) {
      done(std::move(r).err());
      return;
    }
    leadership won;
    won.name = name;
    won.value = value;
    won.lease = lease;
    won.fence = r->info.fence;
    won.since = r->info.acquired;
    won.token = r->info.owner_token;
    kv::put_cmd put;
    put.key = key;
    put.value = leader_record(won);
    put.lease = lease;
    put.fence = kv::fence{key, won.fence};
    kv_client{n}.put_async(
      std::move(put), [&n, done, key, won](result<kv::write_result> w) {
        if (!w) {
          // The lease ended, or the write failed: give the lock back.
          abandon(n, key, won.token);
          done(std::move(w).err());
          return;
        }
        done(won);
      });
  };
  lock_client{n}.acquire_async(std::move(cmd), std::move(on_granted));
}

void resign_async(node& n, std::string name, std::string token,
                  std::function<void(result<void>)> done) {
  auto key = checked_election_key(name);
  if (!key) {
    done(std::move(key).err());
    return;
  }
  auto lock_key = *key;
  lock_client{n}.release_async(
    std::move(lock_key), std::move(token), [&n, done, key = *key](result<uint64_t> fence) {
      if (!fence) {
        done(std::move(fence).err());
        return;
      }
      // Fenced: if the next leader already wrote its record, this delete
      // is refused and the record stays.
      kv::delete_cmd del;
      del.key = key;
      del.fence = kv::fence{key, *fence};
      kv_client{n}.erase_async(std::move(del), [done](result<kv::write_result> r) {
        if (!r && r.code() != errc::fenced) {
          done(std::move(r).err());
          return;
        }
        done(result<void>{});
      });
    });
}

void leader_async(node& n, std::string name,
                  std::function<void(result<leadership>)> done) {
  auto key = checked_election_key(name);
  if (!key) {
    done(std::move(key).err());
    return;
  }
  kv_client{n}.get_async(*key, [done, name](result<kv::entry> e) {
                    if (!e) {
                      done(e.code() == errc::not_found
                             ? error{errc::not_found,
                                     "election " + name + " has no leader"}
                             : e.err());
                      return;
                    }
                    done(parse_leader_record(name, e->value));
                  });
}

result<leadership> campaign(node& n, std::string name, std::string value,
                            uint64_t lease, duration wait) {
  return wait_for<leadership>([&](auto done) {
    campaign_async(n, std::move(name), std::move(value), lease, wait, std::move(done));
  });
}

result<void> resign(node& n, std::string name, std::string token) {
  return wait_for<void>([&](auto done) {
    resign_async(n, std::move(name), std::move(token), std::move(done));
  });
}

result<leadership> leader(node& n, std::string name) {
  return wait_for<leadership>(
    [&](auto done) { leader_async(n, std::move(name), std::move(done)); });
}

} // namespace shoal
