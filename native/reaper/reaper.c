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
//
// It also passes file descriptors over a UNIX socket (SCM_RIGHTS), which
// Node's IPC cannot do for regular files: on USR1 the master hands each
// worker the log files it has just reopened (lib/log/fd-handover.ts).
//
// And the calls that keep the master out of the data path and the app's
// processes from outliving their worker: listen(2) on a slot socket without
// libuv polling it, a classic BPF program that places a SO_REUSEPORT group's
// connections by source address (sticky placement by the kernel),
// setpgid(0, 0) for a worker and PR_SET_CHILD_SUBREAPER for the master.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
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

#define MAX_FDS 8

// sendFds(socketFd, fds, tag): one sendmsg of the byte `tag` carrying `fds`
// (SCM_RIGHTS), without blocking. Returns true when sent, false when the
// socket is full (EAGAIN); throws on any other error.
static napi_value SendFds(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], out, v;
  int32_t sock, tag, fds[MAX_FDS];
  uint32_t n, i;
  bool is_array;
  char byte;
  struct msghdr msg;
  struct iovec iov;
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)]; } ctl;
  struct cmsghdr* cm;
  ssize_t rc;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || napi_get_value_int32(env, argv[0], &sock) != napi_ok || sock < 0 ||
      napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_value_int32(env, argv[2], &tag) != napi_ok || tag < 0 || tag > 255) {
    napi_throw_type_error(env, NULL, "sendFds(socketFd, fds, tag): bad arguments");
    return NULL;
  }
  CHECK(napi_get_array_length(env, argv[1], &n));
  if (n < 1 || n > MAX_FDS) {
    napi_throw_range_error(env, NULL, "sendFds: between 1 and 8 descriptors");
    return NULL;
  }
  for (i = 0; i < n; i++) {
    CHECK(napi_get_element(env, argv[1], i, &v));
    if (napi_get_value_int32(env, v, &fds[i]) != napi_ok || fds[i] < 0) {
      napi_throw_type_error(env, NULL, "sendFds: each descriptor must be a non-negative integer");
      return NULL;
    }
  }
  byte = (char)tag;
  iov.iov_base = &byte;
  iov.iov_len = 1;
  memset(&msg, 0, sizeof msg);
  memset(&ctl, 0, sizeof ctl);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.buf;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
  cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
  memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
  do rc = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (rc == -1 && errno == EINTR);
  if (rc == -1 && errno != EAGAIN && errno != EWOULDBLOCK) return throw_errno(env, "sendmsg");
  CHECK(napi_get_boolean(env, rc == 1, &out));
  return out;
}

// recvFds(socketFd): the next message sendFds sent, without blocking, as
// [tag, fd, ...] (the descriptors close-on-exec), or null when none is
// waiting or the peer has closed. Throws on any other error.
static napi_value RecvFds(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, v;
  int32_t sock;
  unsigned char byte;
  struct msghdr msg;
  struct iovec iov;
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)]; } ctl;
  struct cmsghdr* cm;
  ssize_t rc;
  uint32_t n = 0, i;
  int fds[MAX_FDS];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &sock) != napi_ok || sock < 0) {
    napi_throw_type_error(env, NULL, "recvFds(socketFd): socketFd must be a non-negative integer");
    return NULL;
  }
  iov.iov_base = &byte;
  iov.iov_len = 1;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.buf;
  msg.msg_controllen = sizeof ctl.buf;
  do rc = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (rc == -1 && errno == EINTR);
  if (rc == -1 && errno != EAGAIN && errno != EWOULDBLOCK) return throw_errno(env, "recvmsg");
  for (cm = rc > 0 ? CMSG_FIRSTHDR(&msg) : NULL; cm; cm = CMSG_NXTHDR(&msg, cm)) {
    uint32_t k, count;
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    count = (uint32_t)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (k = 0; k < count; k++) {
      int fd;
      memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof fd);
      if (n < MAX_FDS) fds[n++] = fd;
      else close(fd);
    }
  }
  if (rc <= 0) {
    CHECK(napi_get_null(env, &out));
    return out;
  }
  CHECK(napi_create_array_with_length(env, n + 1, &out));
  CHECK(napi_create_int32(env, byte, &v));
  CHECK(napi_set_element(env, out, 0, v));
  for (i = 0; i < n; i++) {
    CHECK(napi_create_int32(env, fds[i], &v));
    CHECK(napi_set_element(env, out, i + 1, v));
  }
  return out;
}

// listenFd(fd, backlog): listen(2) on a bound socket. libuv's listen would
// also poll the socket and accept in this process; the master only fixes the
// socket's place in its SO_REUSEPORT group (the order of listen() calls), and
// the worker that receives it listens again, which keeps that place.
static napi_value ListenFd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd, backlog;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_value_int32(env, argv[1], &backlog) != napi_ok || backlog < 1) {
    napi_throw_type_error(env, NULL, "listenFd(fd, backlog): bad arguments");
    return NULL;
  }
  if (listen(fd, backlog) == -1) return throw_errno(env, "listen");
  return NULL;
}

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

// The murmur3 finalizer on A (every input bit reaches every output bit),
// with M[1] as scratch.
#define MIX_SHIFT(n) BPF_STMT(BPF_ST, 1), BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, n), \
  BPF_STMT(BPF_LDX | BPF_MEM, 1), BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0)
#define MIX_MUL(k) BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, k)
// A = (A * 0x9e3779b1) ^ the next word of the address at `off`
#define FOLD(off) MIX_MUL(0x9e3779b1), BPF_STMT(BPF_ST, 1), \
  BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + (off)), \
  BPF_STMT(BPF_LDX | BPF_MEM, 1), BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0)

// attachReusePortCbpf(fd, count): a classic BPF program on the SO_REUSEPORT
// group of socket `fd` that sends each connection to the socket at index
// hash(source address) % count (index = order of listen() calls). IPv4 and
// IPv6 (a `::` socket also receives IPv4) by the version nibble. A packet the
// program cannot read returns 0. spec/support/kernel-hash.ts mirrors it.
static napi_value AttachReusePortCbpf(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  uint32_t count;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_value_uint32(env, argv[1], &count) != napi_ok || count < 1 || count > 65535) {
    napi_throw_type_error(env, NULL, "attachReusePortCbpf(fd, count): bad arguments");
    return NULL;
  }
  struct sock_filter code[] = {
      /* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF),
      /* 1 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
      /* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 2, 0),
      /* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12),
      /* 4 */ BPF_JUMP(BPF_JMP | BPF_JA, 16, 0, 0),
      /* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 8),
      /* 6 */ FOLD(12),
      /* 11 */ FOLD(16),
      /* 16 */ FOLD(20),
      /* 21: mix */ MIX_SHIFT(16), MIX_MUL(0x85ebca6b), MIX_SHIFT(13), MIX_MUL(0xc2b2ae35), MIX_SHIFT(16),
      BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, count),
      BPF_STMT(BPF_RET | BPF_A, 0),
  };
  struct sock_fprog prog = {(unsigned short)(sizeof code / sizeof code[0]), code};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) == -1)
    return throw_errno(env, "setsockopt(SO_ATTACH_REUSEPORT_CBPF)");
  return NULL;
}

// makeGroupLeader(): setpgid(0, 0), so that what this process starts can be
// signalled as one group after it exits. Returns the group id.
static napi_value MakeGroupLeader(napi_env env, napi_callback_info info) {
  napi_value out;
  (void)info;
  if (setpgid(0, 0) == -1) return throw_errno(env, "setpgid");
  CHECK(napi_create_int32(env, getpgrp(), &out));
  return out;
}

// setSubreaper(): prctl(PR_SET_CHILD_SUBREAPER, 1): orphans of our
// descendants are re-parented to us instead of PID 1.
static napi_value SetSubreaper(napi_env env, napi_callback_info info) {
  (void)info;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == -1) return throw_errno(env, "prctl(PR_SET_CHILD_SUBREAPER)");
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"peek", NULL, Peek, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reap", NULL, Reap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isSubreaper", NULL, IsSubreaper, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendFds", NULL, SendFds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recvFds", NULL, RecvFds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listenFd", NULL, ListenFd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attachReusePortCbpf", NULL, AttachReusePortCbpf, NULL, NULL, NULL, napi_enumerable, NULL},
      {"makeGroupLeader", NULL, MakeGroupLeader, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setSubreaper", NULL, SetSubreaper, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
