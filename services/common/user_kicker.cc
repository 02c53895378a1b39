#include "services/common/user_kicker.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/rpc/controller.h"
#include "services/common/room_pool.h"
#include "services/register/register_client.h"

namespace push::service {

UserKicker::UserKicker(reg::RegisterClient& registry, RoomPool& rooms)
    : registry_(registry), rooms_(rooms) {}

UserKicker::~UserKicker() = default;

void UserKicker::kick(const room::KickRequest& request, Done done) {
  std::vector<reg::UserKey> keys(1);
  keys[0].set_app(request.app());
  keys[0].set_user(request.user());
  registry_.lookup(std::move(keys),
                   [this, alive = liveness_.token(), request, done = std::move(done)](
                       const Status& st, std::vector<std::vector<Session>>&& all) {
                     if (!alive.alive()) return;
                     if (!st.isOk()) return done(st.withContext("session lookup"), Outcome{});
                     // One call per room, whatever the number of the user's sessions there.
                     std::set<std::string> addresses;
                     for (const Session& s : all[0]) {
                       if (request.device().empty() || s.device() == request.device())
                         addresses.insert(s.room_address());
                     }
                     struct Tally {
                       Outcome outcome;
                       size_t waiting = 0;
                       Done done;
                     };
                     auto tally = std::make_shared<Tally>();
                     tally->outcome.rooms = static_cast<uint32_t>(addresses.size());
                     tally->waiting = addresses.size();
                     tally->done = std::move(done);
                     if (addresses.empty()) return tally->done(Status::ok(), tally->outcome);
                     for (const std::string& address : addresses) {
                       struct Call {
                         rpc::Controller controller;
                         room::KickRequest request;
                         room::KickResponse response;
                       };
                       auto call = std::make_shared<Call>();
                       call->request = request;
                       auto answered = [alive, call, tally] {
                         if (!alive.alive()) return;
                         if (call->controller.status().isOk()) {
                           tally->outcome.kicked += call->response.kicked();
                         } else {
                           ++tally->outcome.rooms_failed;
                         }
                         if (--tally->waiting == 0) tally->done(Status::ok(), tally->outcome);
                       };
                       rpc::Channel* channel = rooms_.get(address);
                       if (!channel) {
                         answered();
                         continue;
                       }
                       room::Room_Stub(channel).Kick(&call->controller, &call->request,
                                                     &call->response, rpc::newCallback(answered));
                     }
                   });
}

}  // namespace push::service
