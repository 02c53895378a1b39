// applyMigrations (common/mysql) against a real MariaDB: once, idempotent, later versions,
// two pools at once, a failing statement.

#include "common/mysql/migrations.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/unit/mysql/mysql_test_util.h"

namespace push::mysql {
namespace {

using namespace std::chrono_literals;

class MigrationsTest : public MySqlTest {
 protected:
  // Each test its own tables: the server is shared by the suite.
  void SetUp() override {
    MySqlTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    table_ = std::string("mig_") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    log_ = table_ + "_log";
    ASSERT_TRUE(
        root("DROP TABLE IF EXISTS `" + table_ + "`; DROP TABLE IF EXISTS `" + log_ + "`;").isOk());
  }

  Status root(const std::string& sql) {
    return server_->rootQuery("USE `" + server_->database() + "`; " + sql).status();
  }

  Result<uint32_t> apply(MySqlPool& p, const std::vector<Migration>& migrations) {
    std::optional<Result<uint32_t>> out;
    Status status = runJob(p, [&](MySqlSession& s) {
      out.emplace(applyMigrations(s, table_, migrations));
      return out->status();
    });
    if (!out) return status;
    return std::move(*out);
  }

  // Migrations that log each application in table log_ (a second application shows).
  std::vector<Migration> logged(uint32_t up_to) {
    std::vector<Migration> out;
    out.push_back({1,
                   "create log",
                   {"CREATE TABLE `" + log_ + "` (version INT NOT NULL, note VARCHAR(32))"}});
    for (uint32_t v = 2; v <= up_to; ++v) {
      out.push_back(
          {v,
           "step " + std::to_string(v),
           {"INSERT INTO `" + log_ + "` VALUES (" + std::to_string(v) + ", 'a')",
            "UPDATE `" + log_ + "` SET note = 'b' WHERE version = " + std::to_string(v)}});
    }
    return out;
  }

  Result<Rows> rows(MySqlPool& p, const std::string& sql) { return query(p, sql); }

  std::string table_;
  std::string log_;
};

TEST_F(MigrationsTest, AppliedOnceThenNoOpThenANewVersionIsApplied) {
  MySqlPool& p = pool();
  auto first = apply(p, logged(3));
  ASSERT_TRUE(first.isOk()) << first.status();
  EXPECT_EQ(*first, 3u);
  auto recorded = rows(p, "SELECT version, description FROM `" + table_ + "` ORDER BY version");
  ASSERT_TRUE(recorded.isOk()) << recorded.status();
  ASSERT_EQ(recorded->rows.size(), 3u);
  EXPECT_EQ(std::get<int64_t>(recorded->rows[2][0]), 3);
  EXPECT_EQ(std::get<std::string>(recorded->rows[2][1]), "step 3");

  // Again: nothing runs (a second run of step 2 would add a second row).
  auto second = apply(p, logged(3));
  ASSERT_TRUE(second.isOk()) << second.status();
  EXPECT_EQ(*second, 3u);
  auto log = rows(p, "SELECT version, note FROM `" + log_ + "` ORDER BY version");
  ASSERT_TRUE(log.isOk()) << log.status();
  ASSERT_EQ(log->rows.size(), 2u);
  EXPECT_EQ(std::get<std::string>(log->rows[0][1]), "b");

  // A release adds version 4: only it runs.
  auto third = apply(p, logged(4));
  ASSERT_TRUE(third.isOk()) << third.status();
  EXPECT_EQ(*third, 4u);
  log = rows(p, "SELECT version FROM `" + log_ + "` ORDER BY version");
  ASSERT_TRUE(log.isOk());
  ASSERT_EQ(log->rows.size(), 3u);
  EXPECT_EQ(std::get<int64_t>(log->rows[2][0]), 4);
}

TEST_F(MigrationsTest, NoMigrationsIsVersionZero) {
  MySqlPool& p = pool();
  auto applied = apply(p, {});
  ASSERT_TRUE(applied.isOk()) << applied.status();
  EXPECT_EQ(*applied, 0u);
}

TEST_F(MigrationsTest, VersionsMustIncrease) {
  MySqlPool& p = pool();
  auto applied = apply(p, {{1, "a", {"DO 1"}}, {3, "b", {"DO 1"}}, {2, "c", {"DO 1"}}});
  EXPECT_EQ(applied.status().code(), Code::INVALID_ARGUMENT) << applied.status();
  applied = apply(p, {{0, "zero", {"DO 1"}}});
  EXPECT_EQ(applied.status().code(), Code::INVALID_ARGUMENT) << applied.status();
  // Nothing was applied, the table not even created.
  auto tables = rows(p, "SHOW TABLES LIKE '" + table_ + "'");
  ASSERT_TRUE(tables.isOk()) << tables.status();
  EXPECT_TRUE(tables->rows.empty());
}

TEST_F(MigrationsTest, BadTableNameIsInvalidArgument) {
  MySqlPool& p = pool();
  std::optional<Result<uint32_t>> out;
  ASSERT_FALSE(runJob(p, [&](MySqlSession& s) {
                 out.emplace(applyMigrations(s, "x`; DROP TABLE y; --", logged(2)));
                 return out->status();
               }).isOk());
  EXPECT_EQ(out->status().code(), Code::INVALID_ARGUMENT);
}

TEST_F(MigrationsTest, TwoPoolsAtOnceApplyEachMigrationOnce) {
  MySqlPool& a = pool();
  MySqlPool& b = pool();
  constexpr uint32_t kVersions = 8;
  std::vector<Migration> migrations = logged(kVersions);
  std::vector<Result<uint32_t>> results;
  auto start = [&](MySqlPool& p) {
    auto out = std::make_shared<std::optional<Result<uint32_t>>>();
    p.run(
        [this, out, &migrations](MySqlSession& s) {
          out->emplace(applyMigrations(s, table_, migrations));
          return (*out)->status();
        },
        [out, &results](Status) { results.push_back(std::move(**out)); });
  };
  start(a);
  start(b);
  ASSERT_TRUE(loop_.runUntil([&] { return results.size() == 2; }, 60s));
  for (const auto& r : results) {
    ASSERT_TRUE(r.isOk()) << r.status();
    EXPECT_EQ(*r, kVersions);
  }
  auto log = rows(a, "SELECT version, COUNT(*) FROM `" + log_ + "` GROUP BY version");
  ASSERT_TRUE(log.isOk()) << log.status();
  ASSERT_EQ(log->rows.size(), kVersions - 1);
  for (const Row& row : log->rows)
    EXPECT_EQ(std::get<int64_t>(row[1]), 1) << "version " << std::get<int64_t>(row[0]);
  auto recorded = rows(a, "SELECT COUNT(*) FROM `" + table_ + "`");
  ASSERT_TRUE(recorded.isOk());
  EXPECT_EQ(std::get<int64_t>(recorded->rows.at(0).at(0)), kVersions);
}

TEST_F(MigrationsTest, AFailingStatementStopsAtThatVersionAndSaysSo) {
  MySqlPool& p = pool();
  std::vector<Migration> migrations = logged(2);
  migrations.push_back(
      {3,
       "broken",
       {"INSERT INTO `" + log_ + "` VALUES (3, 'a')", "INSERT INTO no_such_table VALUES (1)"}});
  migrations.push_back({4, "never", {"INSERT INTO `" + log_ + "` VALUES (4, 'a')"}});
  auto applied = apply(p, migrations);
  ASSERT_FALSE(applied.isOk());
  EXPECT_EQ(applied.status().code(), Code::FAILED_PRECONDITION) << applied.status();
  const std::string& message = applied.status().message();
  EXPECT_NE(message.find("migration 3 (broken)"), std::string::npos) << message;
  EXPECT_NE(message.find("statement 2 of 2"), std::string::npos) << message;
  EXPECT_NE(message.find("version 2 is applied"), std::string::npos) << message;
  EXPECT_NE(message.find("1146"), std::string::npos) << message;
  // Version 3's first (DML) statement was rolled back with it; 4 never ran.
  auto log = rows(p, "SELECT version FROM `" + log_ + "` ORDER BY version");
  ASSERT_TRUE(log.isOk()) << log.status();
  ASSERT_EQ(log->rows.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(log->rows[0][0]), 2);
  auto recorded = rows(p, "SELECT MAX(version) FROM `" + table_ + "`");
  ASSERT_TRUE(recorded.isOk());
  EXPECT_EQ(std::get<int64_t>(recorded->rows.at(0).at(0)), 2);

  // Fixed in the next release: 3 and 4 apply.
  migrations[2].statements[1] = "DO 1";
  auto fixed = apply(p, migrations);
  ASSERT_TRUE(fixed.isOk()) << fixed.status();
  EXPECT_EQ(*fixed, 4u);
}

}  // namespace
}  // namespace push::mysql
