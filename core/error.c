/* core/error.c - names and texts for twin's negative-errno errors. */
#include <string.h>

#include "twin/error.h"

const char *tw_strerror(int err)
{
    if (err == 0)
        return "success";
    if (err > 0)
        err = -err;
    /* strerror's table is static text for the errno values Linux knows;
     * strerrordesc_np would be neater but is glibc-only and recent. */
    switch (-err) {
    case ENOTSUP: return "operation not supported by this transport";
    case ENOBUFS: return "no buffer space available (empty buffer from get_buffer?)";
    case EKEYREJECTED: return "certificate rejected (TLS)";
    default: break;
    }
    const char *s = strerror(-err);
    return (s && strncmp(s, "Unknown error", 13) != 0) ? s : "unknown error";
}

const char *tw_errname(int err)
{
    if (err > 0)
        err = -err;
    switch (-err) {
#define E(x) case x: return #x;
    case 0: return "OK";
    E(EPERM) E(ENOENT) E(EINTR) E(EIO) E(EBADF) E(EAGAIN) E(ENOMEM)
    E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EINVAL) E(ENFILE) E(EMFILE)
    E(ENOSPC) E(EPIPE) E(ERANGE) E(ENAMETOOLONG) E(ENOSYS) E(ENOTSUP)
    E(ENOTSOCK) E(EMSGSIZE) E(EPROTO) E(EAFNOSUPPORT) E(EADDRINUSE)
    E(EADDRNOTAVAIL) E(ENETDOWN) E(ENETUNREACH) E(ECONNABORTED)
    E(ECONNRESET) E(ENOBUFS) E(EISCONN) E(ENOTCONN) E(ESHUTDOWN)
    E(ETIMEDOUT) E(ECONNREFUSED) E(EHOSTDOWN) E(EHOSTUNREACH) E(EALREADY)
    E(EINPROGRESS) E(ECANCELED) E(ESRCH) E(ECHILD) E(EDESTADDRREQ)
    E(EKEYREJECTED) E(EPROTOTYPE)
#undef E
    default: return "E?";
    }
}
