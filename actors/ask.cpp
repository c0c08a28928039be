#include "actors/ask.hpp"

namespace shoal {

caf::actor spawn_bridge(caf::actor_system& sys) {
  return sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    return {
      [self](bridge_job& job) { job(self); },
    };
  });
}

} // namespace shoal
