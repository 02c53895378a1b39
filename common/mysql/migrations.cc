#include "common/mysql/migrations.h"

#include <cctype>

namespace push::mysql {

namespace {

bool isPlainIdentifier(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// An integer cell, whichever integer type the server chose for the expression.
Result<int64_t> integerCell(const Rows& rows, const std::string& what) {
  if (rows.rows.size() != 1 || rows.rows[0].size() != 1)
    return internalError(what + ": expected one value");
  const Value& v = rows.rows[0][0];
  if (const int64_t* s = std::get_if<int64_t>(&v)) return *s;
  if (const uint64_t* u = std::get_if<uint64_t>(&v)) return static_cast<int64_t>(*u);
  if (const std::string* text = std::get_if<std::string>(&v)) {
    try {
      return static_cast<int64_t>(std::stoll(*text));
    } catch (...) {
      return internalError(what + ": not a number: " + *text);
    }
  }
  return internalError(what + ": NULL");
}

// The user lock's name: at most 64 characters (the server's limit), one per database+table.
constexpr const char* kLockName = "CONCAT('push_migrations_', MD5(CONCAT(DATABASE(), '.', ?)))";

Result<uint32_t> applyLocked(MySqlSession& session, const std::string& table,
                             const std::vector<Migration>& migrations) {
  RETURN_IF_ERROR(session
                      .executeDirect("CREATE TABLE IF NOT EXISTS `" + table +
                                     "` (version INT UNSIGNED NOT NULL PRIMARY KEY,"
                                     " description VARCHAR(255) NOT NULL,"
                                     " applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
                                     " ENGINE=InnoDB")
                      .status());
  ASSIGN_OR_RETURN(Rows max_rows,
                   session.query("SELECT COALESCE(MAX(version), 0) FROM `" + table + "`"));
  ASSIGN_OR_RETURN(int64_t applied, integerCell(max_rows, "highest migration version"));
  uint32_t current = static_cast<uint32_t>(applied);
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    size_t failed_at = 0;
    Status status = session.transaction([&](MySqlSession& s) -> Status {
      for (size_t i = 0; i < m.statements.size(); ++i) {
        failed_at = i + 1;
        RETURN_IF_ERROR(s.executeDirect(m.statements[i]).status());
      }
      failed_at = 0;
      return s
          .execute("INSERT INTO `" + table + "` (version, description) VALUES (?, ?)",
                   {static_cast<int64_t>(m.version), m.description})
          .status();
    });
    if (!status.isOk()) {
      std::string where = failed_at > 0 ? "statement " + std::to_string(failed_at) + " of " +
                                              std::to_string(m.statements.size())
                                        : "recording it";
      return Status(status.code(), "migration " + std::to_string(m.version) + " (" + m.description +
                                       ") failed at " + where + " (version " +
                                       std::to_string(current) +
                                       " is applied): " + status.message());
    }
    current = m.version;
  }
  return current;
}

}  // namespace

Result<uint32_t> applyMigrations(MySqlSession& session, const std::string& table,
                                 const std::vector<Migration>& migrations,
                                 std::chrono::seconds lock_wait) {
  if (!isPlainIdentifier(table))
    return invalidArgument("migrations table '" + table + "' is not a plain identifier");
  uint32_t previous = 0;
  for (const Migration& m : migrations) {
    if (m.version <= previous) {
      return invalidArgument("migration versions must increase from 1: " +
                             std::to_string(m.version) + " after " + std::to_string(previous));
    }
    previous = m.version;
  }
  if (session.inTransaction())
    return invalidArgument("applyMigrations cannot run inside a transaction");

  ASSIGN_OR_RETURN(Rows locked, session.query(std::string("SELECT GET_LOCK(") + kLockName + ", ?)",
                                              {table, static_cast<int64_t>(lock_wait.count())}));
  // 1: ours; 0: another process held it for lock_wait; NULL: an error.
  ASSIGN_OR_RETURN(int64_t got, integerCell(locked, "GET_LOCK"));
  if (got != 1) {
    return Status(Code::TIMEOUT, "another process held the migration lock of '" + table + "' for " +
                                     std::to_string(lock_wait.count()) + " s");
  }
  Result<uint32_t> result = applyLocked(session, table, migrations);
  // Released with the connection anyway when it is lost.
  if (!session.broken()) {
    (void)session.query(std::string("SELECT RELEASE_LOCK(") + kLockName + ")", {table}).status();
  }
  return result;
}

}  // namespace push::mysql
