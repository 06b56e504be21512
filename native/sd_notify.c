/*
 * sd_notify(3) for the master: one function, send(path, message), that sends `message` as ONE datagram to the
 * AF_UNIX SOCK_DGRAM socket at `path` (a leading '@' is the abstract namespace, as systemd writes it).
 * It runs in the master's own process, so the kernel stamps the master's pid on the datagram (SCM_CREDENTIALS)
 * and systemd's default NotifyAccess=main accepts it. Node has no Unix datagram socket; this is the whole addon.
 * N-API only (ABI-stable): one build loads on every Node version from 20 on. Not the protocol (src/master/sd-notify.ts).
 */
#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <node_api.h>

static napi_value throw_errno(napi_env env, int err, const char *what) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value send_datagram(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, NULL, "send(path, message) takes two strings");
    return NULL;
  }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  size_t path_len = 0;
  /* sun_path holds 108 bytes; the copy below is bounded and the length checked, never truncated silently. */
  if (napi_get_value_string_utf8(env, argv[0], addr.sun_path, sizeof addr.sun_path, &path_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "path must be a string");
    return NULL;
  }
  if (path_len == 0 || path_len >= sizeof addr.sun_path - 1) {
    napi_throw_range_error(env, NULL, "NOTIFY_SOCKET path is empty or longer than a unix socket allows");
    return NULL;
  }
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0'; /* abstract socket: no NUL terminator counted */
  socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len + (addr.sun_path[0] == '\0' ? 0 : 1));

  size_t msg_len = 0;
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &msg_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "message must be a string");
    return NULL;
  }
  char small[4096];
  if (msg_len >= sizeof small) {
    napi_throw_range_error(env, NULL, "notify message longer than 4095 bytes");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[1], small, sizeof small, &msg_len);

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  ssize_t sent;
  do {
    sent = sendto(fd, small, msg_len, MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
  } while (sent < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (sent < 0) return throw_errno(env, err, "sendto NOTIFY_SOCKET");
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "send", NAPI_AUTO_LENGTH, send_datagram, NULL, &fn);
  napi_set_named_property(env, exports, "send", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
