/* core/addr.c - tw_addr: building, parsing, formatting, comparing. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/addr.h"
#include "twin/error.h"
#include "internal.h"

int tw_addr_ip(tw_addr *out, const char *host, uint16_t port)
{
    memset(out, 0, sizeof *out);
    if (!host)
        return -EINVAL;
    if (inet_pton(AF_INET, host, &out->u.in4.sin_addr) == 1) {
        out->u.in4.sin_family = AF_INET;
        out->u.in4.sin_port = htons(port);
        out->len = sizeof out->u.in4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &out->u.in6.sin6_addr) == 1) {
        out->u.in6.sin6_family = AF_INET6;
        out->u.in6.sin6_port = htons(port);
        out->len = sizeof out->u.in6;
        return 0;
    }
    return -EINVAL;
}

int tw_addr_unix(tw_addr *out, const char *path)
{
    memset(out, 0, sizeof *out);
    if (!path || !*path)
        return -EINVAL;
    size_t n = strlen(path);
    if (n >= sizeof out->u.un.sun_path)
        return -ENAMETOOLONG;
    out->u.un.sun_family = AF_UNIX;
    memcpy(out->u.un.sun_path, path, n);
    if (path[0] == '@') /* abstract namespace: leading NUL, no terminator */
        out->u.un.sun_path[0] = '\0';
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
                           (path[0] == '@' ? 0 : 1));
    return 0;
}

int tw_addr_parse(tw_addr *out, const char *text)
{
    char host[64];
    if (!text)
        return -EINVAL;
    if (strncmp(text, "unix:", 5) == 0)
        return tw_addr_unix(out, text + 5);
    const char *colon;
    const char *h = text;
    size_t hl;
    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        if (!end || end[1] != ':')
            return -EINVAL;
        h = text + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon)
            return -EINVAL;
        hl = (size_t)(colon - text);
    }
    if (hl == 0 || hl >= sizeof host)
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port > 65535)
        return -EINVAL;
    return tw_addr_ip(out, host, (uint16_t)port);
}

char *tw_addr_format(const tw_addr *a, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    if (!buf || len == 0)
        return buf;
    switch (tw_addr_family(a)) {
    case AF_INET:
        inet_ntop(AF_INET, &a->u.in4.sin_addr, ip, sizeof ip);
        snprintf(buf, len, "%s:%u", ip, ntohs(a->u.in4.sin_port));
        break;
    case AF_INET6:
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof ip);
        snprintf(buf, len, "[%s]:%u", ip, ntohs(a->u.in6.sin6_port));
        break;
    case AF_UNIX: {
        size_t n = a->len > offsetof(struct sockaddr_un, sun_path)
                       ? a->len - offsetof(struct sockaddr_un, sun_path)
                       : 0;
        if (n > 0 && a->u.un.sun_path[0] == '\0')
            snprintf(buf, len, "unix:@%.*s", (int)(n - 1), a->u.un.sun_path + 1);
        else
            snprintf(buf, len, "unix:%.*s", (int)strnlen(a->u.un.sun_path, n),
                     a->u.un.sun_path);
        break;
    }
    default:
        snprintf(buf, len, "-");
    }
    return buf;
}

int tw_addr_family(const tw_addr *a)
{
    if (!a || a->len == 0)
        return AF_UNSPEC;
    return a->u.sa.sa_family;
}

uint16_t tw_addr_port(const tw_addr *a)
{
    switch (tw_addr_family(a)) {
    case AF_INET: return ntohs(a->u.in4.sin_port);
    case AF_INET6: return ntohs(a->u.in6.sin6_port);
    default: return 0;
    }
}

bool tw_addr_equal(const tw_addr *a, const tw_addr *b)
{
    int f = tw_addr_family(a);
    if (f != tw_addr_family(b))
        return false;
    switch (f) {
    case AF_INET:
        return a->u.in4.sin_port == b->u.in4.sin_port &&
               a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr;
    case AF_INET6:
        return a->u.in6.sin6_port == b->u.in6.sin6_port &&
               memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
    case AF_UNIX:
        return a->len == b->len &&
               memcmp(a->u.un.sun_path, b->u.un.sun_path,
                      a->len - offsetof(struct sockaddr_un, sun_path)) == 0;
    default:
        return true;
    }
}

/* The compact copy a transport keeps (core/internal.h). Linux's families
 * all fit the byte kept for them, and a sockaddr it names is never
 * shorter than its family. */

_Static_assert(sizeof(((tw_addr *)0)->u) < TW__TADDR_LEN_IN6,
               "a sockaddr's length never reads as the short IPv6 form");
_Static_assert(TW__TADDR_REST >= 2 + 16, "the short IPv6 form fits");
_Static_assert(TW__TADDR_REST >= sizeof(uint8_t *), "a pointer fits");
_Static_assert(TW__TADDR_INLINE >= (int)sizeof(struct sockaddr_in),
               "every IPv4 address is kept inline");

static bool taddr_on_heap(const tw__taddr *a)
{
    return a->len > TW__TADDR_INLINE && a->len != TW__TADDR_LEN_IN6;
}

static uint8_t *taddr_heap(const tw__taddr *a)
{
    uint8_t *p;
    memcpy(&p, a->rest, sizeof p);
    return p;
}

int tw__taddr_set(tw__taddr *d, const tw_addr *a)
{
    tw__taddr_clear(d);
    if (!a || a->len < sizeof(sa_family_t))
        return 0;
    const size_t fam = sizeof(sa_family_t);
    size_t n = a->len < sizeof a->u ? a->len : sizeof a->u;
    const struct sockaddr_in6 *in6 = &a->u.in6;
    if (n <= TW__TADDR_INLINE) {
        memcpy(d->rest, (const uint8_t *)&a->u + fam, n - fam);
        d->len = (uint8_t)n;
    } else if (a->u.sa.sa_family == AF_INET6 && n == sizeof *in6 &&
               in6->sin6_flowinfo == 0 && in6->sin6_scope_id == 0) {
        memcpy(d->rest, &in6->sin6_port, 2);
        memcpy(d->rest + 2, &in6->sin6_addr, 16);
        d->len = TW__TADDR_LEN_IN6;
    } else {
        uint8_t *p = malloc(n);
        if (!p)
            return -ENOMEM;
        memcpy(p, &a->u, n);
        memcpy(d->rest, &p, sizeof p);
        d->len = (uint8_t)n;
        assert(taddr_on_heap(d));
    }
    d->family = (uint8_t)a->u.sa.sa_family;
    return 0;
}

int tw__taddr_copy(tw__taddr *d, const tw__taddr *s)
{
    if (d == s)
        return 0;
    tw_addr a;
    tw__taddr_get(s, &a);
    return tw__taddr_set(d, &a);
}

void tw__taddr_clear(tw__taddr *d)
{
    if (taddr_on_heap(d))
        free(taddr_heap(d));
    memset(d, 0, sizeof *d);
}

void tw__taddr_get(const tw__taddr *s, tw_addr *out)
{
    memset(out, 0, sizeof *out);
    if (s->len == 0)
        return;
    if (s->len == TW__TADDR_LEN_IN6) {
        out->len = sizeof out->u.in6;
        out->u.in6.sin6_family = AF_INET6;
        memcpy(&out->u.in6.sin6_port, s->rest, 2);
        memcpy(&out->u.in6.sin6_addr, s->rest + 2, 16);
        return;
    }
    out->len = s->len;
    if (taddr_on_heap(s)) {
        memcpy(&out->u, taddr_heap(s), s->len);
        return;
    }
    const size_t fam = sizeof(sa_family_t);
    out->u.sa.sa_family = s->family;
    memcpy((uint8_t *)&out->u + fam, s->rest, s->len - fam);
}
