#include "common/mysql/mysql_session.h"

#include <cppconn/connection.h>
#include <cppconn/datatype.h>
#include <cppconn/exception.h>
#include <cppconn/parameter_metadata.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>
#include <cppconn/statement.h>

#include <algorithm>
#include <exception>

#include "common/mysql/detail/sql_error.h"

namespace push::mysql {

struct MySqlSession::CachedStatement {
  std::string sql;
  std::unique_ptr<sql::PreparedStatement> statement;
  size_t parameters = 0;
  bool has_rows = false;  // a SELECT-like statement: its rows must be read
};

namespace {

// How a result column is read (decided once per result set from its metadata).
enum class ColumnKind : uint8_t { Signed, Unsigned, Text };

ColumnKind kindOf(sql::ResultSetMetaData& meta, unsigned column) {
  switch (meta.getColumnType(column)) {
    case sql::DataType::TINYINT:
    case sql::DataType::SMALLINT:
    case sql::DataType::MEDIUMINT:
    case sql::DataType::INTEGER:
      return ColumnKind::Signed;  // unsigned ones fit int64_t too
    case sql::DataType::BIGINT:
      return meta.isSigned(column) ? ColumnKind::Signed : ColumnKind::Unsigned;
    default:
      return ColumnKind::Text;
  }
}

}  // namespace

MySqlSession::MySqlSession(std::unique_ptr<sql::Connection> connection, size_t statement_cache)
    : connection_(std::move(connection)), capacity_(std::max<size_t>(1, statement_cache)) {}

MySqlSession::~MySqlSession() {
  // Statements before their connection: closing one after the connection is gone is
  // undefined in Connector/C++. Closing sends COM_STMT_CLOSE; a dead peer makes it fail
  // quietly, but guard anyway: nothing may throw out of a destructor.
  cache_.clear();
  try {
    lru_.clear();
    direct_.reset();
    connection_.reset();
  } catch (...) {  // NOLINT(bugprone-empty-catch): teardown of a connection that is going away
  }
}

Status MySqlSession::fail(const std::string& sql) {
  bool lost = false;
  Status status = detail::currentExceptionStatus(sql, &lost);
  if (lost) broken_ = true;
  return status;
}

void MySqlSession::evict(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) return;
  auto node = it->second;
  cache_.erase(it);
  try {
    lru_.erase(node);
  } catch (...) {  // closing a statement on a broken connection: nothing to do about it
    broken_ = true;
  }
}

Result<MySqlSession::CachedStatement*> MySqlSession::prepareAndBind(
    const std::string& sql, const std::vector<Value>& params) {
  if (broken_) return unavailable("MySQL connection lost (reconnecting) [in: " + sql + "]");
  CachedStatement* entry = nullptr;
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);  // most recently used
    entry = it->second->get();
  } else {
    auto fresh = std::make_unique<CachedStatement>();
    fresh->sql = sql;
    try {
      fresh->statement.reset(connection_->prepareStatement(sql));
      fresh->parameters = fresh->statement->getParameterMetaData()->getParameterCount();
      fresh->has_rows = fresh->statement->getMetaData()->getColumnCount() > 0;
    } catch (...) {
      return fail(sql);
    }
    ++prepared_;
    while (lru_.size() >= capacity_) {
      // Copy the key: evict() destroys the entry that holds it.
      std::string oldest = lru_.back()->sql;
      evict(oldest);
    }
    lru_.push_front(std::move(fresh));
    cache_.emplace(sql, lru_.begin());
    entry = lru_.front().get();
  }
  if (params.size() != entry->parameters) {
    return invalidArgument("statement has " + std::to_string(entry->parameters) +
                           " placeholders, " + std::to_string(params.size()) +
                           " parameters given [in: " + sql + "]");
  }
  try {
    sql::PreparedStatement& statement = *entry->statement;
    for (size_t i = 0; i < params.size(); ++i) {
      const unsigned index = static_cast<unsigned>(i + 1);
      const Value& value = params[i];
      if (std::holds_alternative<std::nullptr_t>(value)) {
        statement.setNull(index, sql::DataType::SQLNULL);
      } else if (const int64_t* s = std::get_if<int64_t>(&value)) {
        statement.setInt64(index, *s);
      } else if (const uint64_t* u = std::get_if<uint64_t>(&value)) {
        statement.setUInt64(index, *u);
      } else {
        // Bound with its length: zero bytes and non-UTF-8 bytes go through as they are.
        statement.setString(index, sql::SQLString(std::get<std::string>(value)));
      }
    }
    return entry;
  } catch (...) {
    Status status = fail(sql);
    evict(sql);
    return status;
  }
}

Result<uint64_t> MySqlSession::execute(const std::string& sql, const std::vector<Value>& params) {
  ASSIGN_OR_RETURN(CachedStatement * entry, prepareAndBind(sql, params));
  try {
    if (entry->has_rows) {
      // Its rows must be read, or the connection is out of sync for the next statement.
      std::unique_ptr<sql::ResultSet> ignored(entry->statement->executeQuery());
      return uint64_t{0};
    }
    return static_cast<uint64_t>(std::max(entry->statement->executeUpdate(), 0));
  } catch (...) {
    Status status = fail(sql);
    evict(sql);
    return status;
  }
}

Result<Rows> MySqlSession::query(const std::string& sql, const std::vector<Value>& params) {
  ASSIGN_OR_RETURN(CachedStatement * entry, prepareAndBind(sql, params));
  try {
    if (!entry->has_rows) {
      // No result set (an INSERT, a DO): run it, no columns, no rows.
      (void)entry->statement->executeUpdate();
      return Rows{};
    }
    std::unique_ptr<sql::ResultSet> results(entry->statement->executeQuery());
    sql::ResultSetMetaData* meta = results->getMetaData();  // owned by `results`
    const unsigned count = meta->getColumnCount();
    Rows out;
    out.columns.reserve(count);
    std::vector<ColumnKind> kinds;
    kinds.reserve(count);
    for (unsigned c = 1; c <= count; ++c) {
      out.columns.push_back(meta->getColumnLabel(c).asStdString());
      kinds.push_back(kindOf(*meta, c));
    }
    out.rows.reserve(results->rowsCount());
    while (results->next()) {
      Row row;
      row.reserve(count);
      for (unsigned c = 1; c <= count; ++c) {
        if (results->isNull(c)) {
          row.emplace_back(nullptr);
          continue;
        }
        switch (kinds[c - 1]) {
          case ColumnKind::Signed:
            row.emplace_back(static_cast<int64_t>(results->getInt64(c)));
            break;
          case ColumnKind::Unsigned:
            row.emplace_back(static_cast<uint64_t>(results->getUInt64(c)));
            break;
          case ColumnKind::Text:
            row.emplace_back(results->getString(c).asStdString());
            break;
        }
      }
      out.rows.push_back(std::move(row));
    }
    return out;
  } catch (...) {
    Status status = fail(sql);
    evict(sql);
    return status;
  }
}

Result<uint64_t> MySqlSession::executeBatch(const std::string& head, const std::vector<Row>& rows,
                                            const std::string& tail, size_t rows_per_statement) {
  if (rows.empty()) return uint64_t{0};
  const size_t columns = rows.front().size();
  if (columns == 0) return invalidArgument("executeBatch: rows without values [in: " + head + "]");
  for (const Row& row : rows) {
    if (row.size() != columns) {
      return invalidArgument("executeBatch: rows of " + std::to_string(columns) + " and " +
                             std::to_string(row.size()) + " values [in: " + head + "]");
    }
  }
  constexpr size_t kMaxPlaceholders = 65535;  // the protocol's 16-bit parameter count
  const size_t chunk = std::clamp<size_t>(rows_per_statement, 1, kMaxPlaceholders / columns);
  std::string tuple = "(";
  for (size_t c = 0; c < columns; ++c)
    tuple += c == 0 ? "?" : ", ?";
  tuple += ")";
  uint64_t affected = 0;
  std::vector<Value> params;
  for (size_t begin = 0; begin < rows.size(); begin += chunk) {
    const size_t end = std::min(rows.size(), begin + chunk);
    std::string sql = head + " VALUES ";
    sql.reserve(sql.size() + (end - begin) * (tuple.size() + 2) + tail.size() + 1);
    params.clear();
    params.reserve((end - begin) * columns);
    for (size_t r = begin; r < end; ++r) {
      if (r != begin) sql += ", ";
      sql += tuple;
      params.insert(params.end(), rows[r].begin(), rows[r].end());
    }
    if (!tail.empty()) sql += " " + tail;
    ASSIGN_OR_RETURN(uint64_t n, execute(sql, params));
    affected += n;
  }
  return affected;
}

Status MySqlSession::ping() {
  if (broken_) return unavailable("MySQL connection lost (reconnecting)");
  try {
    if (connection_->isValid()) return Status::ok();
  } catch (...) {
    Status status = fail("ping");
    broken_ = true;
    return Status(Code::UNAVAILABLE, status.message());
  }
  broken_ = true;
  return unavailable("MySQL connection lost (ping failed)");
}

Result<uint64_t> MySqlSession::executeDirect(const std::string& sql) {
  if (broken_) return unavailable("MySQL connection lost (reconnecting) [in: " + sql + "]");
  try {
    if (!direct_) direct_.reset(connection_->createStatement());
    if (direct_->execute(sql)) {
      // A result set must be read before the next statement ("commands out of sync").
      std::unique_ptr<sql::ResultSet> ignored(direct_->getResultSet());
      return uint64_t{0};
    }
    return direct_->getUpdateCount();
  } catch (...) {
    return fail(sql);
  }
}

Status MySqlSession::transaction(const std::function<Status(MySqlSession&)>& body) {
  if (in_transaction_) return invalidArgument("MySqlSession::transaction is not nestable");
  RETURN_IF_ERROR(executeDirect("START TRANSACTION").status());
  in_transaction_ = true;
  Status status;
  try {
    status = body(*this);
  } catch (const std::exception& e) {
    status = internalError(std::string("transaction body threw: ") + e.what());
  } catch (...) {
    status = internalError("transaction body threw a non-standard exception");
  }
  if (status.isOk()) status = executeDirect("COMMIT").status();
  // A ROLLBACK on a lost connection fails too; the server rolls back when the session ends.
  if (!status.isOk() && !broken_) (void)executeDirect("ROLLBACK").status();
  in_transaction_ = false;
  return status;
}

}  // namespace push::mysql
