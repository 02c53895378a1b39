#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/result.h"
#include "common/mysql/mysql_value.h"

namespace sql {
class Connection;
class PreparedStatement;
class Statement;
}  // namespace sql

namespace push::mysql {

// One MySQL/MariaDB connection as the jobs of MySqlPool see it. Each pool worker thread owns
// one session (and its connection) and passes it to the jobs it runs: a session is used ONLY
// inside a job, on that worker thread, never stored or shared (it is not thread-safe, and it
// is replaced when its connection is lost).
//
// Every method is blocking and returns a Status: Connector/C++ exceptions never leave this
// class. Errors:
// - the connection is lost (server gone: 2006/2013, shutdown, killed) -> UNAVAILABLE; the
//   session is then broken() and every later call fails UNAVAILABLE at once; the pool
//   reconnects before its next job (it never re-runs the job: the statement may have run);
// - a statement the server rejects as malformed (syntax, unknown column, wrong parameter
//   count) -> INVALID_ARGUMENT; any other server error (duplicate key, deadlock, missing
//   table, ...) -> FAILED_PRECONDITION. The message has the server's error code, SQLSTATE and
//   text, and the start of the statement: "MySQL error 1062 (23000): Duplicate entry ... [in:
//   INSERT INTO ...]".
class MySqlSession {
 public:
  // Takes the connection (made by MySqlPool on the worker thread). `statement_cache`: how
  // many prepared statements to keep (least recently used dropped first), at least 1.
  MySqlSession(std::unique_ptr<sql::Connection> connection, size_t statement_cache);
  // Closes the cached statements, then the connection (a few bytes to a live server).
  ~MySqlSession();
  MySqlSession(const MySqlSession&) = delete;
  MySqlSession& operator=(const MySqlSession&) = delete;

  // Prepared statements, cached per connection by SQL text: the second call with the same
  // text skips the prepare round trip. `?` placeholders, bound from `params` in order
  // (INVALID_ARGUMENT when the count differs). A statement whose execution failed is dropped
  // from the cache (prepared again next time).
  //
  // Rows affected by an INSERT / UPDATE / DELETE (MySQL counts rows changed, not matched;
  // INSERT ... ON DUPLICATE KEY UPDATE counts 2 per updated row); 0 for a statement that
  // returns rows (they are read and dropped).
  Result<uint64_t> execute(const std::string& sql, const std::vector<Value>& params = {});
  // Every row of a SELECT (or SHOW), buffered; no columns and no rows for a statement that
  // returns none.
  Result<Rows> query(const std::string& sql, const std::vector<Value>& params = {});

  // Runs `body` in one transaction: START TRANSACTION, body, COMMIT; ROLLBACK when body
  // returns an error (or throws: INTERNAL) or COMMIT fails, and that error is returned.
  // Not nestable (INVALID_ARGUMENT). DDL inside commits implicitly (MySQL's rule).
  Status transaction(const std::function<Status(MySqlSession&)>& body);

  // Many rows in few statements: `head` + " VALUES (?, ...), (?, ...) " + `tail`, for at most
  // `rows_per_statement` rows per statement (capped so that one statement has at most 65535
  // placeholders, the server's limit), every row with as many values as the first
  // (INVALID_ARGUMENT otherwise). Full chunks share one cached statement. E.g.
  //   executeBatch("INSERT INTO msg (id, body)", rows, "ON DUPLICATE KEY UPDATE body = body")
  // Total rows affected; 0 and no round trip for no rows. Not atomic by itself: a failing
  // chunk leaves the earlier ones applied (call it inside transaction() for all or nothing).
  Result<uint64_t> executeBatch(const std::string& head, const std::vector<Row>& rows,
                                const std::string& tail = "", size_t rows_per_statement = 500);

  // A round trip to the server (COM_PING): OK, or UNAVAILABLE and broken(). The pool pings a
  // connection that was idle for a while before giving it a job.
  Status ping();

  // Runs `sql` as is, unprepared (text protocol, no placeholders, not cached): for DDL and
  // one-off statements (migrations) that would only fill the statement cache. Rows affected.
  Result<uint64_t> executeDirect(const std::string& sql);

  // True once the connection was found lost; every call then fails UNAVAILABLE.
  bool broken() const { return broken_; }
  bool inTransaction() const { return in_transaction_; }
  // Statements prepared on this connection so far (a cache hit prepares nothing).
  uint64_t statementsPrepared() const { return prepared_; }
  size_t cachedStatements() const { return cache_.size(); }

 private:
  struct CachedStatement;
  // The cached (or newly prepared) statement for `sql` with `params` bound.
  Result<CachedStatement*> prepareAndBind(const std::string& sql, const std::vector<Value>& params);
  void evict(const std::string& sql);
  // Turns the current exception into a Status; marks the session broken when the
  // connection is gone. Call only inside a catch block.
  Status fail(const std::string& sql);

  std::unique_ptr<sql::Connection> connection_;
  std::unique_ptr<sql::Statement> direct_;  // for executeDirect and transaction control
  size_t capacity_;
  // LRU: most recently used at the front; the map points into the list.
  std::list<std::unique_ptr<CachedStatement>> lru_;
  std::unordered_map<std::string, std::list<std::unique_ptr<CachedStatement>>::iterator> cache_;
  uint64_t prepared_ = 0;
  bool broken_ = false;
  bool in_transaction_ = false;
};

}  // namespace push::mysql
