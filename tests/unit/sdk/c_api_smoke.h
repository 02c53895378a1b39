#pragma once

#ifdef __cplusplus
extern "C" {
#endif

/* Runs new/set_callbacks/connect/send_upstream/close/free against `servers`; 0 on success,
 * else the number of the step that failed. */
int push_c_smoke(const char* servers);

#ifdef __cplusplus
}
#endif
