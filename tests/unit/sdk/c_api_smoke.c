/* Compiled as C: proves push/push_client.h is a plain C header, and runs the API's whole
 * lifecycle without waiting for anything (c_api_test.cc calls it). */
#include "tests/unit/sdk/c_api_smoke.h"

#include <stddef.h>
#include <string.h>

#include <push/push_client.h>

static void onMessage(void* user_data, const push_message* message) {
  (void)user_data;
  (void)message;
}

static void onState(void* user_data, push_state state, const char* detail) {
  (void)detail;
  *(int*)user_data += state == PUSH_STATE_CLOSED ? 1000 : 1;
}

static void onError(void* user_data, int32_t code, const char* message) {
  (void)user_data;
  (void)code;
  (void)message;
}

int push_c_smoke(const char* servers) {
  push_client_config config;
  push_client_config_init(&config);
  config.servers = servers;
  config.token = "tok";
  config.network = PUSH_NETWORK_CELLULAR;
  char why[128];
  if (push_client_config_check(&config, why, sizeof why) != PUSH_OK) return 1;
  push_client* client = push_client_new(&config);
  if (client == NULL) return 2;
  int states = 0;
  if (push_client_set_callbacks(client, onMessage, onState, onError, &states) != PUSH_OK) {
    return 3;
  }
  if (push_client_connect(client) != PUSH_OK) return 4;
  uint64_t seq = 0;
  if (push_client_send_upstream(client, NULL, "x", 1, &seq) != PUSH_OK || seq == 0) return 5;
  if (push_client_close(client) != PUSH_OK) return 6;
  if (push_client_state(client) != PUSH_STATE_CLOSED) return 7;
  if (push_client_ack(client, 1) != PUSH_ERR_CLOSED) return 8;
  push_client_free(client);
  if (strcmp(push_state_name(PUSH_STATE_NEEDS_TOKEN), "needs_token") != 0) return 9;
  return 0;
}
