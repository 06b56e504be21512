/*
 * The stop's refusal of new TCP connections (issue 13): refuse(fd) attaches a classic BPF socket filter to the
 * listening socket `fd` that drops every segment with SYN set, and lets every other one through. From then on no new
 * handshake starts (the client resends its SYN after 1 s, finds the port closed, and a front end tries its next
 * server, a POST included: nothing was sent), while the connections already queued, and handshakes already under way
 * (their final ACK has no SYN), are left to the workers to accept. Segments of accepted connections never pass this
 * filter (it is the listener's; children cloned before it have none). The kernel runs a TCP socket's filter on the
 * TCP header (tcp_filter(): skb->data at the TCP header), so offset 13 is the flags byte, for IPv4 and IPv6 alike.
 * Node has no setsockopt(); this is the whole addon. N-API only (ABI-stable). Not when to call it (src/master).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/filter.h>
#include <node_api.h>

static napi_value refuse(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "refuse(fd) takes a file descriptor");
    return NULL;
  }
  struct sock_filter code[] = {
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),           /* the TCP flags byte */
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x02, 0, 1), /* SYN set? */
    BPF_STMT(BPF_RET | BPF_K, 0),                     /*   drop */
    BPF_STMT(BPF_RET | BPF_K, 0xffffffff),            /* anything else: keep it whole */
  };
  struct sock_fprog prog = { .len = sizeof code / sizeof code[0], .filter = code };
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "setsockopt(SO_ATTACH_FILTER) on fd %d: %s", fd, strerror(errno));
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "refuse", NAPI_AUTO_LENGTH, refuse, NULL, &fn);
  napi_set_named_property(env, exports, "refuse", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
