/* tls/tls_rand.c - OpenSSL's randomness drawn from a loop's generator.
 *
 * Map: the source of this thread's scope; the RAND_METHOD; scopes.
 *
 * A loop that replays from a seed (a simulated one) must replay its TLS
 * handshakes too, and a handshake is full of random bytes (client and
 * server randoms, key shares, signature nonces) whose sizes and values
 * reach the trace. Such a loop lends each connection a generator
 * (tw__loop_ops.rand_stream). OpenSSL 3 still honours a process-wide
 * RAND_METHOD for every draw, libssl's and the providers' built into
 * libcrypto. So while such a connection is inside OpenSSL the method
 * below is installed, and it serves that thread's scope from the
 * connection's generator. Outside every scope the default method is back,
 * and loops that lend nothing get OpenSSL's generators untouched. A thread
 * with no scope that draws while another thread holds one is served by
 * OpenSSL's public generator: still a CSPRNG, only not its private one.
 *
 * (RAND_set_rand_method is deprecated in OpenSSL 3 in favour of
 * providers; a provider cannot be switched per call, which is what a
 * replayed world needs.)
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <pthread.h>
#include <string.h>

#include <openssl/rand.h>

#include "tls/tls_internal.h"

/* ---- this thread's source ---- */

static __thread tw__rand *cur;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned scopes; /* scopes with a source open in all threads */

/* ---- the method ---- */

static int m_bytes(unsigned char *buf, int num)
{
    if (!cur)
        return RAND_OpenSSL()->bytes(buf, num);
    /* Little-endian by hand: the same bytes on every machine. */
    for (int i = 0; i < num; i += 8) {
        uint64_t x = cur->next(cur);
        for (int k = 0; k < 8 && i + k < num; k++)
            buf[i + k] = (unsigned char)(x >> (8 * k));
    }
    return 1;
}

static int m_seed(const void *buf, int num)
{
    return cur ? 1 : RAND_OpenSSL()->seed(buf, num);
}

static int m_add(const void *buf, int num, double entropy)
{
    return cur ? 1 : RAND_OpenSSL()->add(buf, num, entropy);
}

static int m_status(void) { return cur ? 1 : RAND_OpenSSL()->status(); }

static const RAND_METHOD lent_method = {
    .seed = m_seed,
    .bytes = m_bytes,
    .cleanup = NULL,
    .add = m_add,
    .pseudorand = m_bytes,
    .status = m_status,
};

/* ---- scopes ---- */

void tw__tls_rand_enter(tw__tls_scope *s, tw__rand *src)
{
    s->prev = cur;
    s->installed = src != NULL;
    cur = src; /* NULL: OpenSSL's own, even inside another scope */
    if (!src)
        return;
    pthread_mutex_lock(&lock);
    if (scopes++ == 0)
        RAND_set_rand_method(&lent_method);
    pthread_mutex_unlock(&lock);
}

void tw__tls_rand_leave(tw__tls_scope *s)
{
    cur = s->prev;
    if (!s->installed)
        return;
    pthread_mutex_lock(&lock);
    assert(scopes > 0);
    if (--scopes == 0)
        RAND_set_rand_method(RAND_OpenSSL());
    pthread_mutex_unlock(&lock);
}
