/* twin/twin.h - everything a protocol or a program needs, in one include.
 * Protocol code includes twin/ headers only: never a backend's internals. */
#ifndef TWIN_TWIN_H
#define TWIN_TWIN_H

#include "twin/addr.h"
#include "twin/app.h"
#include "twin/datagram.h"
#include "twin/error.h"
#include "twin/file.h"
#include "twin/loop.h"
#include "twin/net.h"
#include "twin/process.h"
#include "twin/protocol.h"
#include "twin/transport.h"

#define TWIN_VERSION "0.1.0"

#endif
