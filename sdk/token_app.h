#pragma once

#include <string>
#include <string_view>

namespace push::sdk {

// The app a client token names (sdk/PROTOCOL.md "Token": "<base64url(claims JSON)>.<hex HMAC>"),
// read without checking the signature (only the room can, and does). The SDK needs it before
// the room answers: Auth and Bind carry the last broadcast sequence of the token's app. Empty
// when the token is malformed (the room then refuses it anyway).
std::string tokenApp(std::string_view token);

// The string claim `name` of a token ("app", "user", "device"), read the same way (unverified):
// the dispatcher routes by app and user before the room has seen the token. Empty when the
// token is malformed or has no such string claim.
std::string tokenClaim(std::string_view token, std::string_view name);

}  // namespace push::sdk
