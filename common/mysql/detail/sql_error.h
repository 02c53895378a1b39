#pragma once

#include <string>

#include "common/base/status.h"

// Internal to common/mysql: how Connector/C++ errors become Status values.
namespace push::mysql::detail {

// True for the client and server error codes that mean the connection is gone or unusable
// (2002/2003 cannot connect, 2006 server gone, 2013/2055 lost during a query, 1053 server
// shutdown, 1927 connection killed, 4031 disconnected for inactivity).
bool isConnectionLost(int error_code);

// The Status for MySQL error `code`: UNAVAILABLE when the connection is lost, INVALID_ARGUMENT
// for a malformed statement (parse error, unknown column, wrong arguments, not preparable),
// FAILED_PRECONDITION for the other server errors. `context` (a statement, or "connecting to
// ...") is appended, cut to 200 bytes.
Status statusForError(int code, const std::string& sql_state, const std::string& message,
                      const std::string& context);

// Call only inside a catch block: the Status of the exception being handled (an
// sql::SQLException by its code; an error without a code or any other exception: INTERNAL),
// and whether the connection must be dropped. Never throws.
Status currentExceptionStatus(const std::string& context, bool* connection_lost);

}  // namespace push::mysql::detail
