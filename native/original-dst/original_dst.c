/*
 * Bowline's SO_ORIGINAL_DST lookup (Linux): where a connection redirected by iptables/nftables
 * REDIRECT was going before the kernel rewrote its destination. Node has no API for this
 * getsockopt, so this tiny N-API module exposes one function:
 *
 *   originalDst(fd: number, ipv6: boolean) -> [address: string, port: number] | null
 *
 * null means the connection was not redirected (ENOENT) or the lookup failed.
 */
#include <node_api.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static napi_value null_value(napi_env env) {
  napi_value v;
  napi_get_null(env, &v);
  return v;
}

static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return null_value(env);
  int32_t fd = -1;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return null_value(env);
  bool v6 = false;
  if (argc > 1) napi_get_value_bool(env, argv[1], &v6);
  char text[INET6_ADDRSTRLEN];
  uint16_t port;
  if (v6) {
    struct sockaddr_in6 a;
    socklen_t len = sizeof(a);
    memset(&a, 0, sizeof(a));
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &a, &len) != 0) return null_value(env);
    if (inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof(text)) == NULL) return null_value(env);
    port = ntohs(a.sin6_port);
  } else {
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    memset(&a, 0, sizeof(a));
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &a, &len) != 0) return null_value(env);
    if (inet_ntop(AF_INET, &a.sin_addr, text, sizeof(text)) == NULL) return null_value(env);
    port = ntohs(a.sin_port);
  }
  napi_value out, addr, p;
  napi_create_array_with_length(env, 2, &out);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &addr);
  napi_create_uint32(env, port, &p);
  napi_set_element(env, out, 0, addr);
  napi_set_element(env, out, 1, p);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "originalDst", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
