// tsgund's zombie reaper: the three system calls Node has no binding for.
//
// When the master runs as PID 1 (a container without --init) or as a child
// subreaper, processes orphaned by the app are re-parented to it, and their
// exit leaves a zombie until someone waits for it. libuv only ever waits for
// the pids it spawned (waitpid(pid, WNOHANG) per process handle, on SIGCHLD),
// so nobody reaps those orphans. waitpid(-1) here would steal the exits of the
// cluster workers from libuv (the master would never see them die), so this
// module only *peeks* at the next exited child (WNOWAIT) and reaps exactly the
// pid JavaScript asks for; lib/master/reaper.ts decides which pids are safe.
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, NULL, "tsgund-reaper: N-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static napi_value throw_errno(napi_env env, const char* what) {
  char msg[128];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

// peek(): pid of a child that has exited and is not waited for yet, without
// reaping it; 0 when there is none (or no child at all).
static napi_value Peek(napi_env env, napi_callback_info info) {
  siginfo_t si;
  int rc;
  napi_value out;
  (void)info;
  memset(&si, 0, sizeof si);
  do rc = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
  while (rc == -1 && errno == EINTR);
  if (rc == -1 && errno != ECHILD) return throw_errno(env, "waitid");
  CHECK(napi_create_int32(env, rc == -1 ? 0 : si.si_pid, &out));
  return out;
}

// reap(pid): wait for that exited child; returns [pid, code, signal] (one of
// code/signal is -1), or null when pid has not exited or is not our child.
static napi_value Reap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, v;
  int32_t pid;
  siginfo_t si;
  int rc;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &pid) != napi_ok || pid <= 0) {
    napi_throw_type_error(env, NULL, "reap(pid): pid must be a positive integer");
    return NULL;
  }
  memset(&si, 0, sizeof si);
  do rc = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG);
  while (rc == -1 && errno == EINTR);
  if (rc == -1 || si.si_pid == 0) {
    CHECK(napi_get_null(env, &out));
    return out;
  }
  CHECK(napi_create_array_with_length(env, 3, &out));
  CHECK(napi_create_int32(env, si.si_pid, &v));
  CHECK(napi_set_element(env, out, 0, v));
  CHECK(napi_create_int32(env, si.si_code == CLD_EXITED ? si.si_status : -1, &v));
  CHECK(napi_set_element(env, out, 1, v));
  CHECK(napi_create_int32(env, si.si_code == CLD_EXITED ? -1 : si.si_status, &v));
  CHECK(napi_set_element(env, out, 2, v));
  return out;
}

// isSubreaper(): whether orphans of our descendants are re-parented to us
// (prctl PR_SET_CHILD_SUBREAPER, kept across execve).
static napi_value IsSubreaper(napi_env env, napi_callback_info info) {
  int flag = 0;
  napi_value out;
  (void)info;
  if (prctl(PR_GET_CHILD_SUBREAPER, &flag, 0, 0, 0) == -1) flag = 0;
  CHECK(napi_get_boolean(env, flag != 0, &out));
  return out;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"peek", NULL, Peek, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reap", NULL, Reap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isSubreaper", NULL, IsSubreaper, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
