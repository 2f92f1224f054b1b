#!/usr/bin/env python3
"""A timeline of the engine API requests a client makes (profiling only; docs/benchmarks.md, Backends).

  scripts/api-timeline.py proxy LISTEN.sock ENGINE.sock LOG     # forward, timestamping each request/response
  scripts/api-timeline.py show LOG [FROM_MARK]                   # ms since the first line (or the mark)

Point the client at the proxy (dockui: `[engine] docker_host = "unix://LISTEN.sock"`) and write your own
marks into LOG between commands (`echo "$(date +%s.%N) MARK build" >> LOG`). Only request and status lines are
logged, never bodies or headers (an X-Registry-Auth header stays out of the log).
"""
import asyncio
import re
import sys
import time

REQUEST = re.compile(rb"(GET|POST|HEAD|DELETE|PUT) [^ ]+ HTTP/1\.[01]")
STATUS = re.compile(rb"HTTP/1\.[01] \d{3}[^\r\n]*")


def proxy(listen, target, log_path):
    log = open(log_path, "a", buffering=1)
    counter = [0]

    def note(conn, direction, text):
        log.write("%.3f c%d %s %s\n" % (time.time(), conn, direction, text))

    async def pipe(reader, writer, conn, direction, pattern):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for m in pattern.finditer(data):
                    end = data.find(b"\r\n", m.start())
                    line = data[m.start() : end if end > 0 else m.start() + 300]
                    note(conn, direction, line.decode("latin1")[:300])
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError) as e:
            note(conn, direction, "closed: %r" % e)
        finally:
            writer.close()

    async def handle(client_reader, client_writer):
        counter[0] += 1
        conn = counter[0]
        engine_reader, engine_writer = await asyncio.open_unix_connection(target)
        await asyncio.gather(
            pipe(client_reader, engine_writer, conn, ">", REQUEST),
            pipe(engine_reader, client_writer, conn, "<", STATUS),
        )

    async def main():
        server = await asyncio.start_unix_server(handle, path=listen)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def show(log_path, mark=None):
    lines = open(log_path).read().splitlines()
    if mark:
        starts = [i for i, l in enumerate(lines) if mark in l]
        lines = lines[starts[0] :] if starts else []
    t0 = None
    for line in lines:
        stamp, _, rest = line.partition(" ")
        try:
            t = float(stamp)
        except ValueError:
            print(line)
            continue
        t0 = t if t0 is None else t0
        print("%7.0f %s" % ((t - t0) * 1000, rest))


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "proxy":
        proxy(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) >= 3 and sys.argv[1] == "show":
        show(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        sys.exit(__doc__)
