#include "services/saver/mysql_schema.h"

namespace push::saver {

const std::vector<mysql::Migration>& saverMigrations() {
  static const std::vector<mysql::Migration> kMigrations = {
      {1,
       "inbox and broadcasts",
       {"CREATE TABLE IF NOT EXISTS inbox ("
        " app_name VARBINARY(255) NOT NULL,"
        " user_id VARBINARY(255) NOT NULL,"
        " message_id BIGINT UNSIGNED NOT NULL,"
        " expire_ms BIGINT NOT NULL,"
        " body MEDIUMBLOB NOT NULL,"
        " PRIMARY KEY (app_name, user_id, message_id),"
        " KEY by_expiry (expire_ms)"
        ") ENGINE=InnoDB",
        "CREATE TABLE IF NOT EXISTS broadcasts ("
        " app_name VARBINARY(255) NOT NULL,"
        " seq BIGINT UNSIGNED NOT NULL,"
        " message_id BIGINT UNSIGNED NOT NULL,"
        " expire_ms BIGINT NOT NULL,"
        " body MEDIUMBLOB NOT NULL,"
        " PRIMARY KEY (app_name, seq),"
        " KEY by_expiry (expire_ms)"
        ") ENGINE=InnoDB"}},
  };
  return kMigrations;
}

}  // namespace push::saver
