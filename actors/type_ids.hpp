#pragma once

// Every message type and atom shoal sends between actors, in one type-ID
// block. Every node registers the same block, so remote nodes agree on
// type names. Keep this header light: it is included by every actor TU.

#include <caf/error.hpp>
#include <caf/type_id.hpp>

#include <vector>

#include "actors/aggregate/agg_messages.hpp"
#include "actors/cluster/cluster_messages.hpp"
#include "actors/idempotency/idem_messages.hpp"
#include "actors/kv/kv_messages.hpp"
#include "actors/lease/lease_messages.hpp"
#include "actors/lock/lock_messages.hpp"
#include "actors/node_info.hpp"
#include "actors/stream/stream_messages.hpp"
#include "runtime/errc.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(shoal, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(shoal, (shoal::node_info))
  CAF_ADD_TYPE_ID(shoal, (shoal::kv::entry))
  CAF_ADD_TYPE_ID(shoal, (shoal::kv::event))
  CAF_ADD_TYPE_ID(shoal, (shoal::kv::version_record))
  CAF_ADD_TYPE_ID(shoal, (shoal::kv::put_cmd))
  CAF_ADD_TYPE_ID(shoal, (shoal::kv::delete_cmd))
  CAF_ADD_TYPE_ID(shoal, (shoal::kv::write_result))
  CAF_ADD_TYPE_ID(shoal, (shoal::kv::list_query))
  CAF_ADD_TYPE_ID(shoal, (shoal::kv::list_page))
  CAF_ADD_TYPE_ID(shoal, (std::vector<shoal::kv::version_record>))
  CAF_ADD_TYPE_ID(shoal, (std::vector<shoal::kv::entry>))
  CAF_ADD_TYPE_ID(shoal, (std::vector<shoal::kv::event>))
  CAF_ADD_TYPE_ID(shoal, (shoal::kv::watch_request))
  CAF_ADD_TYPE_ID(shoal, (shoal::kv::watch_ack))
  CAF_ADD_TYPE_ID(shoal, (shoal::idem::record))
  CAF_ADD_TYPE_ID(shoal, (shoal::idem::begin_cmd))
  CAF_ADD_TYPE_ID(shoal, (shoal::idem::begin_result))
  CAF_ADD_TYPE_ID(shoal, (shoal::idem::touch_cmd))
  CAF_ADD_TYPE_ID(shoal, (shoal::idem::complete_cmd))
  CAF_ADD_TYPE_ID(shoal, (shoal::idem::fail_cmd))
  CAF_ADD_TYPE_ID(shoal, (shoal::lock::lock_info))
  CAF_ADD_TYPE_ID(shoal, (shoal::lock::acquire_cmd))
  CAF_ADD_TYPE_ID(shoal, (shoal::lock::acquire_result))
  CAF_ADD_TYPE_ID(shoal, (shoal::lease::lease_info))
  CAF_ADD_TYPE_ID(shoal, (shoal::agg::definition))
  CAF_ADD_TYPE_ID(shoal, (shoal::agg::merge_cmd))
  CAF_ADD_TYPE_ID(shoal, (shoal::agg::merge_outcome))
  CAF_ADD_TYPE_ID(shoal, (shoal::agg::read_query))
  CAF_ADD_TYPE_ID(shoal, (shoal::agg::read_outcome))
  CAF_ADD_TYPE_ID(shoal, (std::vector<shoal::agg::merge_cmd>))
  CAF_ADD_TYPE_ID(shoal, (std::vector<shoal::agg::merge_outcome>))
  CAF_ADD_TYPE_ID(shoal, (std::vector<shoal::agg::read_query>))
  CAF_ADD_TYPE_ID(shoal, (std::vector<shoal::agg::read_outcome>))
  CAF_ADD_TYPE_ID(shoal, (shoal::agg::cell_snapshot))
  CAF_ADD_TYPE_ID(shoal, (std::vector<shoal::agg::cell_snapshot>))
  CAF_ADD_TYPE_ID(shoal, (shoal::merge_event))
  CAF_ADD_TYPE_ID(shoal, (shoal::mirror_report))
  CAF_ADD_TYPE_ID(shoal, (shoal::stream::event_data))
  CAF_ADD_TYPE_ID(shoal, (shoal::stream::event))
  CAF_ADD_TYPE_ID(shoal, (std::vector<shoal::stream::event>))
  CAF_ADD_TYPE_ID(shoal, (shoal::stream::append_cmd))
  CAF_ADD_TYPE_ID(shoal, (shoal::stream::append_result))
  CAF_ADD_TYPE_ID(shoal, (shoal::stream::stream_info))
  CAF_ADD_TYPE_ID(shoal, (shoal::stream::configure_cmd))
  CAF_ADD_TYPE_ID(shoal, (shoal::stream::checkpoint))
  CAF_ADD_TYPE_ID(shoal, (shoal::stream::read_query))
  CAF_ADD_TYPE_ID(shoal, (shoal::stream::event_page))
  CAF_ADD_TYPE_ID(shoal, (shoal::stream::replay_page))
  CAF_ADD_TYPE_ID(shoal, (shoal::stream::entity_state))
  CAF_ADD_TYPE_ID(shoal, (std::vector<shoal::stream::entity_state>))
  CAF_ADD_TYPE_ID(shoal, (shoal::cluster::message))
  CAF_ADD_TYPE_ID(shoal, (shoal::shard_table))
  CAF_ADD_TYPE_ID(shoal, (std::vector<uint64_t>))

  CAF_ADD_ATOM(shoal, shoal, info_atom, "info")
  CAF_ADD_ATOM(shoal, shoal, tick_atom, "tick")
  CAF_ADD_ATOM(shoal, shoal, ping_atom, "ping")
  CAF_ADD_ATOM(shoal, shoal, put_atom, "put")
  CAF_ADD_ATOM(shoal, shoal, delete_atom, "delete")
  CAF_ADD_ATOM(shoal, shoal, get_atom, "get")
  CAF_ADD_ATOM(shoal, shoal, list_atom, "list")
  CAF_ADD_ATOM(shoal, shoal, history_atom, "history")
  CAF_ADD_ATOM(shoal, shoal, commit_atom, "commit")
  CAF_ADD_ATOM(shoal, shoal, watch_atom, "watch")
  CAF_ADD_ATOM(shoal, shoal, progress_atom, "progress")
  CAF_ADD_ATOM(shoal, shoal, begin_atom, "begin")
  CAF_ADD_ATOM(shoal, shoal, touch_atom, "touch")
  CAF_ADD_ATOM(shoal, shoal, complete_atom, "complete")
  CAF_ADD_ATOM(shoal, shoal, fail_atom, "fail")
  CAF_ADD_ATOM(shoal, shoal, sweep_atom, "sweep")
  CAF_ADD_ATOM(shoal, shoal, acquire_atom, "acquire")
  CAF_ADD_ATOM(shoal, shoal, refresh_atom, "refresh")
  CAF_ADD_ATOM(shoal, shoal, release_atom, "release")
  CAF_ADD_ATOM(shoal, shoal, grant_atom, "grant")
  CAF_ADD_ATOM(shoal, shoal, keepalive_atom, "keepalive")
  CAF_ADD_ATOM(shoal, shoal, revoke_atom, "revoke")
  CAF_ADD_ATOM(shoal, shoal, lease_end_atom, "lease_end")
  CAF_ADD_ATOM(shoal, shoal, idle_atom, "idle")
  CAF_ADD_ATOM(shoal, shoal, retire_atom, "retire")
  CAF_ADD_ATOM(shoal, shoal, define_atom, "define")
  CAF_ADD_ATOM(shoal, shoal, drop_atom, "drop")
  CAF_ADD_ATOM(shoal, shoal, merge_atom, "merge")
  CAF_ADD_ATOM(shoal, shoal, seen_atom, "seen")
  CAF_ADD_ATOM(shoal, shoal, scan_atom, "scan")
  CAF_ADD_ATOM(shoal, shoal, append_atom, "append")
  CAF_ADD_ATOM(shoal, shoal, read_atom, "read")
  CAF_ADD_ATOM(shoal, shoal, save_atom, "save")
  CAF_ADD_ATOM(shoal, shoal, load_atom, "load")
  CAF_ADD_ATOM(shoal, shoal, replay_atom, "replay")
  CAF_ADD_ATOM(shoal, shoal, tail_atom, "tail")
  CAF_ADD_ATOM(shoal, shoal, gossip_atom, "gossip")
  CAF_ADD_ATOM(shoal, shoal, shards_atom, "shards")
  CAF_ADD_ATOM(shoal, shoal, leave_atom, "leave")
  CAF_ADD_ATOM(shoal, shoal, live_atom, "live")
  CAF_ADD_ATOM(shoal, shoal, lagged_atom, "lagged")
  CAF_ADD_ATOM(shoal, shoal, credit_atom, "credit")
  CAF_ADD_ATOM(shoal, shoal, bind_atom, "bind")
  CAF_ADD_ATOM(shoal, shoal, leases_atom, "leases")
  CAF_ADD_ATOM(shoal, shoal, rebuild_atom, "rebuild")
  CAF_ADD_ATOM(shoal, shoal, check_atom, "check")

CAF_END_TYPE_ID_BLOCK(shoal)

CAF_ERROR_CODE_ENUM(shoal::errc, "shoal")
