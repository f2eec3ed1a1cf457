/* twin/addr.h - network addresses: IPv4, IPv6 and Unix paths.
 *
 * A tw_addr is a plain value (copy it freely). The simulated backend uses the
 * same type: simulated nodes have IPv4/IPv6 addresses and Unix paths of
 * their own, so protocol code never sees a difference.
 */
#ifndef TWIN_ADDR_H
#define TWIN_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/un.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_addr {
    socklen_t len; /* 0: no address */
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
        struct sockaddr_storage ss;
    } u;
} tw_addr;

/* Longest text tw_addr_format writes, with its NUL. */
#define TW_ADDR_STRLEN 128

/* Build an address from a numeric host ("127.0.0.1", "::1") and a port.
 * Returns 0, or -EINVAL if host is not a numeric IPv4/IPv6 address. */
int tw_addr_ip(tw_addr *out, const char *host, uint16_t port);

/* Build a Unix-socket address. A path starting with '@' names the Linux
 * abstract namespace. Returns -ENAMETOOLONG if it does not fit. */
int tw_addr_unix(tw_addr *out, const char *path);

/* Parse "host:port", "[v6]:port" or "unix:PATH" with a numeric host.
 * Returns 0 or -EINVAL. */
int tw_addr_parse(tw_addr *out, const char *text);

/* Write "1.2.3.4:80", "[::1]:80" or "unix:/path" into buf (at most len
 * bytes, always NUL-terminated when len > 0). Returns buf. */
char *tw_addr_format(const tw_addr *a, char *buf, size_t len);

/* AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC for an empty address. */
int tw_addr_family(const tw_addr *a);

/* The port of an IP address, 0 for others. */
uint16_t tw_addr_port(const tw_addr *a);

/* True if both hold the same family, host and port (or path). */
bool tw_addr_equal(const tw_addr *a, const tw_addr *b);

#ifdef __cplusplus
}
#endif
#endif
