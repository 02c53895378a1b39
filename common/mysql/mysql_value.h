#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace push::mysql {

// A statement parameter or a result cell. std::string carries text and BLOB bytes alike (any
// bytes, zeros included). As a parameter: nullptr binds SQL NULL, int64_t / uint64_t bind a
// signed / unsigned BIGINT, std::string a string (the server converts it to the column's type).
using Value = std::variant<std::nullptr_t, int64_t, uint64_t, std::string>;

// One result row, one Value per column in select order: NULL -> nullptr, integer columns
// (TINYINT .. BIGINT, signed or not) -> int64_t, except unsigned BIGINT -> uint64_t (it may
// not fit); everything else (strings, BLOBs, DECIMAL, floating point, dates) -> the server's
// text form as std::string.
using Row = std::vector<Value>;

// A whole result set, read at once (MySqlSession::query buffers every row: select what you
// need, with LIMIT).
struct Rows {
  std::vector<std::string> columns;  // column labels (the AS name when there is one)
  std::vector<Row> rows;
};

}  // namespace push::mysql
