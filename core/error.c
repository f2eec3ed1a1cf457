/* core/error.c - names and texts for twin's negative-errno errors, and
 * for the resolver's (TW_EAI_*). */
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "twin/error.h"

/* ---- the resolver's errors ---- */

static const struct {
    int err, eai;
    const char *what;
} eai_table[] = {
    {TW_EAI_NONAME, EAI_NONAME, "name does not resolve"},
#ifdef EAI_NODATA
    {TW_EAI_NODATA, EAI_NODATA, "name does not resolve"},
#else
    {TW_EAI_NODATA, EAI_NONAME, "name does not resolve"},
#endif
    {TW_EAI_AGAIN, EAI_AGAIN, "name did not resolve now"},
    {TW_EAI_FAIL, EAI_FAIL, "name does not resolve"},
};
#define EAI_COUNT (sizeof eai_table / sizeof eai_table[0])

/* "name does not resolve: Name or service not known": built once, from
 * the resolver's own text, and kept (tw_strerror's strings are static). */
static char eai_text[EAI_COUNT][128];
static pthread_once_t eai_once = PTHREAD_ONCE_INIT;

static void eai_fill(void)
{
    for (size_t i = 0; i < EAI_COUNT; i++)
        snprintf(eai_text[i], sizeof eai_text[i], "%s: %s", eai_table[i].what,
                 gai_strerror(eai_table[i].eai));
}

static const char *eai_strerror(int err)
{
    for (size_t i = 0; i < EAI_COUNT; i++)
        if (eai_table[i].err == err) {
            pthread_once(&eai_once, eai_fill);
            return eai_text[i];
        }
    return NULL;
}

/* ---- every error ---- */

const char *tw_strerror(int err)
{
    if (err == 0)
        return "success";
    const char *eai = eai_strerror(err < 0 ? err : -err);
    if (eai)
        return eai;
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
    case -TW_EAI_NONAME: return "EAI_NONAME";
    case -TW_EAI_NODATA: return "EAI_NODATA";
    case -TW_EAI_AGAIN: return "EAI_AGAIN";
    case -TW_EAI_FAIL: return "EAI_FAIL";
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
