"""What `serving/connections.py` adds to a request: CPU per keep-alive request of uvicorn's httptools protocol,
a bare subclass of it and GuardedProtocol, in process, on a stub transport and an ASGI app that answers at once
(no network, no framework), the variants interleaved so that a change in machine load hits each alike.

    PYTHONPATH=src python benchmarks/bench_connections.py
"""

import asyncio
import time

import uvloop
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from shoprec.serving.connections import ConnectionLimits, guarded_protocol


async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


class Transport(asyncio.Transport):
    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data):
        pass

    def is_closing(self):
        return False

    def close(self):
        pass

    def abort(self):
        pass

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass


REQUEST = b"GET /recommendations/u001?n=10 HTTP/1.1\r\nhost: x\r\nx-api-key: read-key-0123456789\r\n\r\n"


async def per_request(cls, n):
    config = Config(app=app, lifespan="off", log_level="warning")
    config.load()
    state = ServerState()
    proto = cls(config=config, server_state=state, app_state={})
    proto.connection_made(Transport())
    start = time.process_time()
    for _ in range(n):
        proto.data_received(REQUEST)
        while state.tasks:
            await asyncio.sleep(0)
    return (time.process_time() - start) / n * 1e6


async def main():
    classes = {
        "uvicorn HttpToolsProtocol": HttpToolsProtocol,
        "a bare subclass of it": type("Plain", (HttpToolsProtocol,), {}),
        "GuardedProtocol": guarded_protocol(ConnectionLimits()),
    }
    n, rounds = 10000, 11
    for cls in classes.values():  # warm
        await per_request(cls, 2000)
    results = {name: [] for name in classes}
    for _ in range(rounds):  # interleaved, so load changes on the shared machine hit every variant alike
        for name, cls in classes.items():
            results[name].append(await per_request(cls, n))
    for name, values in results.items():
        print(f"{name}: min {min(values):.2f} us, median {sorted(values)[rounds // 2]:.2f} us per request (CPU)")


uvloop.run(main())
