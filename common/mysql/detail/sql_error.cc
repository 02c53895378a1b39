#include "common/mysql/detail/sql_error.h"

#include <cppconn/exception.h>

#include <exception>

namespace push::mysql::detail {

namespace {

constexpr size_t kContextBytes = 200;

std::string shortContext(const std::string& context) {
  if (context.size() <= kContextBytes) return context;
  return context.substr(0, kContextBytes) + "...";
}

bool isMalformedStatement(int code) {
  switch (code) {
    case 1054:  // ER_BAD_FIELD_ERROR: unknown column
    case 1064:  // ER_PARSE_ERROR
    case 1149:  // ER_SYNTAX_ERROR
    case 1210:  // ER_WRONG_ARGUMENTS (e.g. to mysqld_stmt_execute)
    case 1295:  // ER_UNSUPPORTED_PS: not preparable
    case 1582:  // ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT
    case 1583:  // ER_WRONG_PARAMETERS_TO_NATIVE_FCT
      return true;
    default:
      return false;
  }
}

}  // namespace

bool isConnectionLost(int error_code) {
  switch (error_code) {
    case 1053:  // ER_SERVER_SHUTDOWN
    case 1927:  // ER_CONNECTION_KILLED (MariaDB)
    case 2002:  // CR_CONNECTION_ERROR (socket)
    case 2003:  // CR_CONN_HOST_ERROR (TCP)
    case 2006:  // CR_SERVER_GONE_ERROR
    case 2013:  // CR_SERVER_LOST
    case 2055:  // CR_SERVER_LOST_EXTENDED
    case 4031:  // ER_CLIENT_INTERACTION_TIMEOUT (MariaDB)
      return true;
    default:
      return false;
  }
}

Status statusForError(int code, const std::string& sql_state, const std::string& message,
                      const std::string& context) {
  std::string text = "MySQL error " + std::to_string(code);
  if (!sql_state.empty()) text += " (" + sql_state + ")";
  text += ": " + message;
  if (!context.empty()) text += " [in: " + shortContext(context) + "]";
  if (isConnectionLost(code)) return Status(Code::UNAVAILABLE, std::move(text));
  if (isMalformedStatement(code)) return Status(Code::INVALID_ARGUMENT, std::move(text));
  return Status(Code::FAILED_PRECONDITION, std::move(text));
}

Status currentExceptionStatus(const std::string& context, bool* connection_lost) {
  *connection_lost = false;
  try {
    throw;
  } catch (const sql::SQLException& e) {
    int code = e.getErrorCode();
    if (code == 0) {
      // Connector/C++'s own errors ("connection is closed", invalid instance, not
      // implemented): the connection's state is unknown, so it is replaced.
      *connection_lost = true;
      return Status(Code::INTERNAL, std::string("MySQL client error: ") + e.what() +
                                        " [in: " + shortContext(context) + "]");
    }
    if (code == 2014) {
      // CR_COMMANDS_OUT_OF_SYNC: the client library lost track of the protocol; a bug here,
      // not the caller's. The connection cannot be trusted any more.
      *connection_lost = true;
      return Status(Code::INTERNAL,
                    statusForError(code, e.getSQLState(), e.what(), context).message());
    }
    *connection_lost = isConnectionLost(code);
    return statusForError(code, e.getSQLState(), e.what(), context);
  } catch (const std::exception& e) {
    *connection_lost = true;
    return Status(Code::INTERNAL, std::string("MySQL client threw: ") + e.what() +
                                      " [in: " + shortContext(context) + "]");
  } catch (...) {
    *connection_lost = true;
    return Status(Code::INTERNAL, "MySQL client threw a non-standard exception [in: " +
                                      shortContext(context) + "]");
  }
}

}  // namespace push::mysql::detail
