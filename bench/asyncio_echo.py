"""bench/asyncio_echo.py - the Python asyncio peer.

    python3 bench/asyncio_echo.py [PORT]   prints "Serving on 127.0.0.1:PORT",
                                           then echoes until killed

The reference text's TCP echo server protocol with its prints left out and
without the close after the first echo, so a connection keeps echoing. Two
methods are added, asyncio's own flow control hooks: while the transport
holds more than its high-water mark (64 KiB) reading pauses, so that all
three servers in the benchmark do the same work when a reader is slower
than its writer (twin's echo app and the libuv peer do exactly this).
"""
import asyncio
import sys


class EchoServerProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()


async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(EchoServerProtocol, '127.0.0.1', port)
    print('Serving on 127.0.0.1:%d' % server.sockets[0].getsockname()[1],
          flush=True)
    async with server:
        await server.serve_forever()


if __name__ == '__main__':
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
