#pragma once

#include <vector>

#include "common/mysql/migrations.h"

namespace push::saver {

// saver's tables, as versioned migrations applied at start (common/mysql/migrations.h; table
// saver_schema records what is applied). A new version is appended, never edited.
//   inbox       (app_name, user_id, message_id) -> expire_ms, body (serialized push.Message)
//   broadcasts  (app_name, seq) -> message_id, expire_ms (0: never), body (BroadcastMessage)
const std::vector<mysql::Migration>& saverMigrations();

constexpr const char* kSchemaTable = "saver_schema";

}  // namespace push::saver
