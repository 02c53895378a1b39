// MySqlSession (common/mysql) against a real MariaDB: values of every type both ways, the
// prepared statement cache, SQL errors as statuses, transactions.

#include "common/mysql/mysql_session.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "tests/unit/mysql/mysql_test_util.h"

namespace push::mysql {
namespace {

class MySqlSessionTest : public MySqlTest {
 protected:
  // One worker: every job of a test runs on the same connection.
  MySqlPool& single() {
    MySqlPool::Options o = options();
    o.threads = 1;
    return pool(o);
  }
};

std::string binaryBlob(size_t size) {
  std::string blob(size, '\0');
  for (size_t i = 0; i < size; ++i)
    blob[i] = static_cast<char>((i * 7919) % 251);  // zeros every 251 bytes, all byte values
  return blob;
}

TEST_F(MySqlSessionTest, EveryValueTypeRoundTrips) {
  MySqlPool& p = single();
  ASSERT_TRUE(exec(p, "DROP TABLE IF EXISTS value_types").isOk());
  ASSERT_TRUE(exec(p,
                   "CREATE TABLE value_types (id INT PRIMARY KEY, i BIGINT, u BIGINT UNSIGNED,"
                   " small INT UNSIGNED, s VARCHAR(64), b LONGBLOB, n INT NULL, d DECIMAL(6,2))")
                  .isOk());
  const std::string blob = binaryBlob(100 * 1024);
  ASSERT_EQ(blob[0], '\0');
  const uint64_t u64_max = std::numeric_limits<uint64_t>::max();
  const int64_t i64_min = std::numeric_limits<int64_t>::min();
  std::optional<Result<uint64_t>> inserted;
  Status status = runJob(p, [&](MySqlSession& s) {
    inserted.emplace(s.execute("INSERT INTO value_types VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               {int64_t{1}, i64_min, u64_max, uint64_t{4'000'000'000},
                                std::string("h\xc3\xa9llo"), blob, nullptr, std::string("12.5")}));
    return inserted->status();
  });
  ASSERT_TRUE(status.isOk()) << status;
  EXPECT_EQ(inserted->value(), 1u);

  auto rows = query(p, "SELECT id, i, u, small, s, b, n, d, 2.5 AS f FROM value_types WHERE id = ?",
                    {int64_t{1}});
  ASSERT_TRUE(rows.isOk()) << rows.status();
  ASSERT_EQ(rows->columns,
            (std::vector<std::string>{"id", "i", "u", "small", "s", "b", "n", "d", "f"}));
  ASSERT_EQ(rows->rows.size(), 1u);
  const Row& row = rows->rows[0];
  EXPECT_EQ(std::get<int64_t>(row[0]), 1);
  EXPECT_EQ(std::get<int64_t>(row[1]), i64_min);
  EXPECT_EQ(std::get<uint64_t>(row[2]), u64_max);
  EXPECT_EQ(std::get<int64_t>(row[3]), 4'000'000'000);
  EXPECT_EQ(std::get<std::string>(row[4]), "h\xc3\xa9llo");
  const std::string& got_blob = std::get<std::string>(row[5]);
  EXPECT_EQ(got_blob.size(), blob.size());
  EXPECT_TRUE(got_blob == blob) << "the 100 KiB blob came back different";
  EXPECT_TRUE(std::holds_alternative<std::nullptr_t>(row[6]));
  EXPECT_EQ(std::get<std::string>(row[7]), "12.50");
  EXPECT_EQ(std::get<std::string>(row[8]), "2.5");

  // Parameters of every type in a WHERE clause, NULL included.
  auto matched =
      query(p, "SELECT COUNT(*) FROM value_types WHERE u = ? AND i = ? AND b = ? AND n <=> ?",
            {u64_max, i64_min, blob, nullptr});
  ASSERT_TRUE(matched.isOk()) << matched.status();
  EXPECT_EQ(std::get<int64_t>(matched->rows.at(0).at(0)), 1);
}

TEST_F(MySqlSessionTest, EmptyResultHasColumnsAndNoRows) {
  MySqlPool& p = single();
  auto rows = query(p, "SELECT 1 AS one FROM DUAL WHERE 1 = 0");
  ASSERT_TRUE(rows.isOk()) << rows.status();
  EXPECT_EQ(rows->columns, std::vector<std::string>{"one"});
  EXPECT_TRUE(rows->rows.empty());
}

TEST_F(MySqlSessionTest, PreparedStatementIsReusedAcrossCallsAndJobs) {
  MySqlPool& p = single();
  const std::string sql = "SELECT ? + 1 AS next";
  // The server's own count of prepares on this connection.
  auto server_prepares = [](MySqlSession& s) -> int64_t {
    auto r = s.query("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'");
    if (!r.isOk() || r->rows.empty()) return -1;
    return std::stoll(std::get<std::string>(r->rows[0][1]));
  };
  int64_t before = 0, after_first = 0, after_second = 0;
  uint64_t prepared_before = 0;
  ASSERT_TRUE(runJob(p, [&](MySqlSession& s) {
                prepared_before = s.statementsPrepared();
                before = server_prepares(s);
                for (int64_t i = 0; i < 5; ++i) {
                  auto r = s.query(sql, {i});
                  if (!r.isOk()) return r.status();
                  if (std::get<int64_t>(r->rows.at(0).at(0)) != i + 1)
                    return internalError("bad sum");
                }
                after_first = server_prepares(s);
                return Status::ok();
              }).isOk());
  ASSERT_TRUE(runJob(p, [&](MySqlSession& s) {
                auto r = s.query(sql, {int64_t{41}});
                if (!r.isOk()) return r.status();
                after_second = server_prepares(s);
                // sql and the SHOW: two statements prepared, each once.
                EXPECT_EQ(s.statementsPrepared() - prepared_before, 2u);
                return Status::ok();
              }).isOk());
  ASSERT_GE(before, 0);
  // The SHOW was prepared before `before` was read; `sql` once, then never again.
  EXPECT_EQ(after_first - before, 1);
  EXPECT_EQ(after_second, after_first);
}

TEST_F(MySqlSessionTest, StatementCacheIsBounded) {
  MySqlPool::Options o = options();
  o.threads = 1;
  o.statement_cache = 3;
  MySqlPool& p = pool(o);
  ASSERT_TRUE(runJob(p, [&](MySqlSession& s) {
                for (int i = 0; i < 10; ++i) {
                  auto r = s.query("SELECT " + std::to_string(i));
                  if (!r.isOk()) return r.status();
                }
                EXPECT_EQ(s.cachedStatements(), 3u);
                EXPECT_EQ(s.statementsPrepared(), 10u);
                // The most recent one is still cached.
                auto again = s.query("SELECT 9");
                EXPECT_EQ(s.statementsPrepared(), 10u);
                return again.status();
              }).isOk());
}

TEST_F(MySqlSessionTest, SqlErrorsAreStatusesAndTheConnectionStaysUsable) {
  MySqlPool& p = single();
  ASSERT_TRUE(exec(p, "DROP TABLE IF EXISTS dup").isOk());
  ASSERT_TRUE(exec(p, "CREATE TABLE dup (id INT PRIMARY KEY)").isOk());
  ASSERT_TRUE(exec(p, "INSERT INTO dup VALUES (?)", {int64_t{1}}).isOk());

  Status duplicate = exec(p, "INSERT INTO dup VALUES (?)", {int64_t{1}});
  EXPECT_EQ(duplicate.code(), Code::FAILED_PRECONDITION) << duplicate;
  EXPECT_NE(duplicate.message().find("1062"), std::string::npos) << duplicate;
  EXPECT_NE(duplicate.message().find("Duplicate entry"), std::string::npos) << duplicate;

  Status syntax = exec(p, "INSERT INTO dup VALUE WHAT");
  EXPECT_EQ(syntax.code(), Code::INVALID_ARGUMENT) << syntax;
  EXPECT_NE(syntax.message().find("1064"), std::string::npos) << syntax;

  Status missing = exec(p, "SELECT * FROM no_such_table");
  EXPECT_EQ(missing.code(), Code::FAILED_PRECONDITION) << missing;
  EXPECT_NE(missing.message().find("1146"), std::string::npos) << missing;

  Status count = exec(p, "INSERT INTO dup VALUES (?)", {int64_t{2}, int64_t{3}});
  EXPECT_EQ(count.code(), Code::INVALID_ARGUMENT) << count;

  // The next job, on the same connection, works; nothing reconnected.
  ASSERT_TRUE(exec(p, "INSERT INTO dup VALUES (?)", {int64_t{2}}).isOk());
  auto rows = query(p, "SELECT COUNT(*) FROM dup");
  ASSERT_TRUE(rows.isOk()) << rows.status();
  EXPECT_EQ(std::get<int64_t>(rows->rows.at(0).at(0)), 2);
  EXPECT_EQ(p.stats().reconnects, 0u);
  EXPECT_TRUE(p.healthy());
}

TEST_F(MySqlSessionTest, TransactionCommitsOrRollsBack) {
  MySqlPool& p = single();
  ASSERT_TRUE(exec(p, "DROP TABLE IF EXISTS tx").isOk());
  ASSERT_TRUE(exec(p, "CREATE TABLE tx (id INT PRIMARY KEY) ENGINE=InnoDB").isOk());
  auto count = [&]() -> int64_t {
    auto rows = query(p, "SELECT COUNT(*) FROM tx");
    return rows.isOk() ? std::get<int64_t>(rows->rows.at(0).at(0)) : -1;
  };

  // Both rows or none.
  Status committed = runJob(p, [](MySqlSession& s) {
    return s.transaction([](MySqlSession& t) {
      RETURN_IF_ERROR(t.execute("INSERT INTO tx VALUES (?)", {int64_t{1}}).status());
      return t.execute("INSERT INTO tx VALUES (?)", {int64_t{2}}).status();
    });
  });
  ASSERT_TRUE(committed.isOk()) << committed;
  EXPECT_EQ(count(), 2);

  // The body fails after a successful insert: rolled back, its error returned.
  Status failed = runJob(p, [](MySqlSession& s) {
    return s.transaction([](MySqlSession& t) {
      RETURN_IF_ERROR(t.execute("INSERT INTO tx VALUES (?)", {int64_t{3}}).status());
      return Status(Code::ALREADY_EXISTS, "body says no");
    });
  });
  EXPECT_EQ(failed, Status(Code::ALREADY_EXISTS, "body says no"));
  EXPECT_EQ(count(), 2);

  // A statement fails inside: rolled back too, the SQL error returned.
  Status duplicate = runJob(p, [](MySqlSession& s) {
    return s.transaction([](MySqlSession& t) {
      RETURN_IF_ERROR(t.execute("INSERT INTO tx VALUES (?)", {int64_t{4}}).status());
      return t.execute("INSERT INTO tx VALUES (?)", {int64_t{1}}).status();
    });
  });
  EXPECT_EQ(duplicate.code(), Code::FAILED_PRECONDITION) << duplicate;
  EXPECT_EQ(count(), 2);

  // A body that throws: INTERNAL, rolled back, nothing escapes.
  Status threw = runJob(p, [](MySqlSession& s) {
    return s.transaction([](MySqlSession& t) -> Status {
      (void)t.execute("INSERT INTO tx VALUES (?)", {int64_t{5}}).status();
      throw std::runtime_error("boom");
    });
  });
  EXPECT_EQ(threw.code(), Code::INTERNAL) << threw;
  EXPECT_EQ(count(), 2);

  // Not nestable; the outer one still commits.
  Status nested = runJob(p, [](MySqlSession& s) {
    return s.transaction([](MySqlSession& t) {
      Status inner = t.transaction([](MySqlSession&) { return Status::ok(); });
      EXPECT_EQ(inner.code(), Code::INVALID_ARGUMENT);
      return t.execute("INSERT INTO tx VALUES (?)", {int64_t{6}}).status();
    });
  });
  EXPECT_TRUE(nested.isOk()) << nested;
  EXPECT_EQ(count(), 3);
}

TEST_F(MySqlSessionTest, ExecuteBatchWritesManyRowsInFewStatements) {
  MySqlPool& p = single();
  ASSERT_TRUE(exec(p, "DROP TABLE IF EXISTS batch").isOk());
  ASSERT_TRUE(
      exec(p, "CREATE TABLE batch (id BIGINT UNSIGNED PRIMARY KEY, body BLOB, n INT)").isOk());
  std::vector<Row> rows;
  for (uint64_t i = 0; i < 1234; ++i)
    rows.push_back({i, std::string("body\0", 5) + std::to_string(i), int64_t{1}});
  Status status = runJob(p, [&](MySqlSession& s) {
    const uint64_t prepared = s.statementsPrepared();
    auto n = s.executeBatch("INSERT INTO batch (id, body, n)", rows, "", 500);
    if (!n.isOk()) return n.status();
    EXPECT_EQ(*n, 1234u);
    // Chunks of 500, 500 and 234 rows: two statement texts.
    EXPECT_EQ(s.statementsPrepared() - prepared, 2u);
    // The tail applies to every chunk: each row updated counts 2 (MySQL's rule).
    auto again = s.executeBatch("INSERT INTO batch (id, body, n)", rows,
                                "ON DUPLICATE KEY UPDATE n = n + 1", 1000);
    if (!again.isOk()) return again.status();
    EXPECT_EQ(*again, 2u * 1234u);
    auto none = s.executeBatch("INSERT INTO batch (id, body, n)", {});
    EXPECT_TRUE(none.isOk() && *none == 0u);
    auto ragged =
        s.executeBatch("INSERT INTO batch (id, body, n)",
                       {{uint64_t{5000}, std::string("x"), int64_t{1}}, {uint64_t{5001}}});
    EXPECT_EQ(ragged.status().code(), Code::INVALID_ARGUMENT);
    return Status::ok();
  });
  ASSERT_TRUE(status.isOk()) << status;
  auto check = query(p, "SELECT COUNT(*), SUM(n), MAX(body) FROM batch WHERE body LIKE 'body%'");
  ASSERT_TRUE(check.isOk()) << check.status();
  EXPECT_EQ(std::get<int64_t>(check->rows.at(0).at(0)), 1234);
  EXPECT_EQ(std::get<std::string>(check->rows.at(0).at(1)), "2468");
  EXPECT_EQ(std::get<std::string>(check->rows.at(0).at(2)), std::string("body\0", 5) + "999");
}

TEST_F(MySqlSessionTest, ExecuteOfASelectAndQueryOfADoLeaveTheConnectionInSync) {
  MySqlPool& p = single();
  Status status = runJob(p, [](MySqlSession& s) {
    // execute() reads and drops the rows of a statement that has some.
    auto selected = s.execute("SELECT 1 UNION SELECT 2");
    EXPECT_TRUE(selected.isOk() && *selected == 0u) << selected.status();
    auto done = s.query("DO 1");
    EXPECT_TRUE(done.isOk()) << done.status();
    if (done.isOk()) {
      EXPECT_TRUE(done->columns.empty());
      EXPECT_TRUE(done->rows.empty());
    }
    auto next = s.query("SELECT 2");
    if (!next.isOk()) return next.status();
    EXPECT_EQ(std::get<int64_t>(next->rows.at(0).at(0)), 2);
    EXPECT_FALSE(s.broken());
    return Status::ok();
  });
  EXPECT_TRUE(status.isOk()) << status;
  EXPECT_EQ(p.stats().reconnects, 0u);
}

TEST_F(MySqlSessionTest, ExecuteDirectRunsUnpreparedStatements) {
  MySqlPool& p = single();
  Status status = runJob(p, [](MySqlSession& s) {
    RETURN_IF_ERROR(s.executeDirect("DROP TABLE IF EXISTS direct").status());
    RETURN_IF_ERROR(s.executeDirect("CREATE TABLE direct (id INT)").status());
    auto inserted = s.executeDirect("INSERT INTO direct VALUES (1), (2), (3)");
    if (!inserted.isOk()) return inserted.status();
    EXPECT_EQ(*inserted, 3u);
    // A statement with a result: read and dropped, the connection stays in sync.
    RETURN_IF_ERROR(s.executeDirect("SELECT * FROM direct").status());
    EXPECT_EQ(s.cachedStatements(), 0u);
    auto rows = s.query("SELECT COUNT(*) FROM direct");
    if (!rows.isOk()) return rows.status();
    EXPECT_EQ(std::get<int64_t>(rows->rows.at(0).at(0)), 3);
    return Status::ok();
  });
  EXPECT_TRUE(status.isOk()) << status;
  Status bad =
      runJob(p, [](MySqlSession& s) { return s.executeDirect("CREATE TABLE (").status(); });
  EXPECT_EQ(bad.code(), Code::INVALID_ARGUMENT) << bad;
}

}  // namespace
}  // namespace push::mysql
