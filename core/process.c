/* core/process.c - the loop's pipe and subprocess makers, checked once and
 * dispatched to the backend (asyncio's connect_read_pipe,
 * connect_write_pipe, subprocess_exec, subprocess_shell).
 *
 * Map:
 *   pipes      connect_read_pipe / connect_write_pipe
 *   spawning   option checks, exec, shell
 *
 * The checks live here so that both backends refuse bad input with the
 * same error; the SubprocessTransport itself is core/subprocess.c.
 */
#include <string.h>

#include "core/internal.h"
#include "twin/process.h"

/* ---- pipes ---- */

static int connect_pipe(tw_loop *loop, tw_protocol_factory factory,
                        void *arg, int fd, bool write, tw_connect_cb cb)
{
    if (!loop || !factory)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    if (!loop->ops->connect_pipe)
        return -ENOTSUP;
    return loop->ops->connect_pipe(loop, factory, arg, fd, write, cb);
}

int tw_connect_read_pipe(tw_loop *loop, tw_protocol_factory factory,
                         void *arg, int fd, tw_connect_cb cb)
{
    return connect_pipe(loop, factory, arg, fd, false, cb);
}

int tw_connect_write_pipe(tw_loop *loop, tw_protocol_factory factory,
                          void *arg, int fd, tw_connect_cb cb)
{
    return connect_pipe(loop, factory, arg, fd, true, cb);
}

/* ---- spawning ---- */

static bool mode_ok(tw_stdio m, bool is_stderr)
{
    switch (m) {
    case TW_STDIO_PIPE:
    case TW_STDIO_INHERIT:
    case TW_STDIO_DEVNULL:
        return true;
    case TW_STDIO_STDOUT:
        return is_stderr; /* asyncio's STDOUT only makes sense for stderr */
    }
    return false;
}

/* Bound on argv and env entries: a NULL terminator forgotten by the
 * caller must end in -EINVAL rather than a walk through memory. */
#define VEC_MAX 65536

static bool vec_ok(const char *const *v, bool need_eq)
{
    for (int i = 0; i < VEC_MAX; i++) {
        if (!v[i])
            return true;
        if (need_eq && !strchr(v[i], '='))
            return false;
    }
    return false;
}

static int spawn(tw_loop *loop, tw_protocol_factory factory, void *arg,
                 struct tw_subprocess_spec *spec, const tw_subprocess_opts *opts,
                 tw_connect_cb cb)
{
    if (!loop || !factory)
        return -EINVAL;
    if (opts)
        spec->opts = *opts;
    const tw_subprocess_opts *o = &spec->opts;
    if (!mode_ok(o->stdin_mode, false) || !mode_ok(o->stdout_mode, false) ||
        !mode_ok(o->stderr_mode, true))
        return -EINVAL;
    if ((o->cwd && !*o->cwd) || (o->env && !vec_ok(o->env, true)))
        return -EINVAL;
    if (!vec_ok(spec->argv, false))
        return -EINVAL;
    if (!loop->ops->subprocess)
        return -ENOTSUP;
    return loop->ops->subprocess(loop, factory, arg, spec, cb);
}

int tw_subprocess_exec(tw_loop *loop, tw_protocol_factory factory, void *arg,
                       const char *const argv[], const tw_subprocess_opts *opts,
                       tw_connect_cb cb)
{
    if (!argv || !argv[0] || !*argv[0])
        return -EINVAL;
    struct tw_subprocess_spec spec = {.argv = argv, .cmd = NULL};
    return spawn(loop, factory, arg, &spec, opts, cb);
}

int tw_subprocess_shell(tw_loop *loop, tw_protocol_factory factory, void *arg,
                        const char *cmd, const tw_subprocess_opts *opts,
                        tw_connect_cb cb)
{
    if (!cmd)
        return -EINVAL;
    const char *const argv[] = {"/bin/sh", "-c", cmd, NULL};
    struct tw_subprocess_spec spec = {.argv = argv, .cmd = cmd};
    return spawn(loop, factory, arg, &spec, opts, cb);
}
