#!/usr/bin/env python3
"""Fill in the replies of tests/test_resp_redis.c from a real redis-server.

Every S("request", "reply") entry's reply is replaced by what the server
at the given port answers to the request (sent as an inline command, as
the test sends it), byte for byte, written as a C string. A sequence
starts with FLUSHALL, as the test runs it.

Usage: tools/resp-record.py PORT [FILE]   (FILE: tests/test_resp_redis.c)
"""
import re
import socket
import sys

ENTRY = re.compile(r'S\(("(?:[^"\\]|\\.)*")\s*,\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\)', re.S)
SEQ = re.compile(r'static const step (\w+)\[\] = \{')


def c_unescape(lit):
    out = bytearray()
    for part in re.findall(r'"((?:[^"\\]|\\.)*)"', lit, re.S):
        i = 0
        while i < len(part):
            ch = part[i]
            if ch != '\\':
                out += ch.encode('latin1')
                i += 1
                continue
            nx = part[i + 1]
            if nx in 'rnt"\\\'':
                out += {'r': b'\r', 'n': b'\n', 't': b'\t', '"': b'"', '\\': b'\\', "'": b"'"}[nx]
                i += 2
            elif nx == 'x':
                m = re.match(r'[0-9a-fA-F]+', part[i + 2:])
                out.append(int(m.group(0), 16) & 255)
                i += 2 + len(m.group(0))
            elif nx in '01234567':
                m = re.match(r'[0-7]{1,3}', part[i + 1:])
                out.append(int(m.group(0), 8))
                i += 1 + len(m.group(0))
            else:
                raise ValueError('escape \\' + nx)
    return bytes(out)


def c_escape(b):
    s = ''
    for x in b:
        c = chr(x)
        if c == '\r':
            s += '\\r'
        elif c == '\n':
            s += '\\n'
        elif c in '"\\':
            s += '\\' + c
        elif 32 <= x < 127:
            s += c
        else:
            s += '\\%03o' % x
    return s


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port))
        self.buf = b''

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError('the server closed the connection')
        self.buf += d

    def line(self):
        while b'\r\n' not in self.buf:
            self.fill()
        i = self.buf.index(b'\r\n')
        ln, self.buf = self.buf[:i], self.buf[i + 2:]
        return ln

    def reply(self, out):
        ln = self.line()
        out += ln + b'\r\n'
        if ln[:1] == b'$' and int(ln[1:]) >= 0:
            n = int(ln[1:])
            while len(self.buf) < n + 2:
                self.fill()
            out += self.buf[:n + 2]
            self.buf = self.buf[n + 2:]
        elif ln[:1] == b'*':
            for _ in range(max(int(ln[1:]), 0)):
                self.reply(out)
        return out

    def ask(self, req):
        self.s.sendall(req + b'\r\n')
        return bytes(self.reply(bytearray()))


def main():
    port = int(sys.argv[1])
    path = sys.argv[2] if len(sys.argv) > 2 else 'tests/test_resp_redis.c'
    text = open(path, encoding='latin1').read()
    conn = Conn(port)
    out, pos = [], 0
    marks = sorted([(m.start(), 'seq', m) for m in SEQ.finditer(text)] +
                   [(m.start(), 'entry', m) for m in ENTRY.finditer(text)], key=lambda t: t[0])
    for _, kind, m in marks:
        if kind == 'seq':
            conn.ask(b'FLUSHALL')
            conn.ask(b'CONFIG SET maxmemory 0')
            continue
        rep = conn.ask(c_unescape(m.group(1)))
        out.append(text[pos:m.start(2)])
        out.append('"' + c_escape(rep) + '"')
        pos = m.end(2)
    out.append(text[pos:])
    open(path, 'w', encoding='latin1').write(''.join(out))


if __name__ == '__main__':
    main()
