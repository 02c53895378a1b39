#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/mysql/mysql_session.h"

namespace push::mysql {

// One step of a schema: `statements` run in order, unprepared (MySqlSession::executeDirect),
// inside one transaction with the row that records the step. MySQL commits DDL (CREATE,
// ALTER, DROP) at once, so a step that fails after a DDL statement leaves that DDL applied
// and the step unrecorded: it runs again, from its first statement, on the next start.
// Write DDL to be re-runnable (CREATE TABLE IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, ...) or
// give each DDL statement its own step.
struct Migration {
  uint32_t version;  // > 0, strictly increasing in the list
  std::string description;
  std::vector<std::string> statements;
};

// Applies, in version order, every migration newer than the highest version recorded in table
// `table` (created if missing: version INT UNSIGNED PRIMARY KEY, description, applied_at), each
// one recorded after its statements ran. Idempotent (run twice: nothing the second time) and
// safe with several processes starting at once: it holds the server's user lock (GET_LOCK,
// named after the database and table) throughout, waiting at most `lock_wait` for it
// (TIMEOUT when another process holds it longer). Versions must increase and `table` must be
// a plain identifier (INVALID_ARGUMENT otherwise). Returns the version now applied (0 when
// none). A failing statement stops there: the error (its code kept) names the migration and
// statement and the version applied before it. Call inside a MySqlPool job; not inside
// MySqlSession::transaction.
Result<uint32_t> applyMigrations(MySqlSession& session, const std::string& table,
                                 const std::vector<Migration>& migrations,
                                 std::chrono::seconds lock_wait = std::chrono::seconds(30));

}  // namespace push::mysql
