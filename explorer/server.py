"""The explorer's local web server: a fixed set of pages and API routes, one render worker.

Safe by construction: it binds 127.0.0.1 unless told otherwise, and then every request needs
a random token; on 127.0.0.1 the Host header must name this server (no DNS rebinding); an
Origin, when a browser sends one, must be this server's; only GET and HEAD, no bodies, capped URLs; no file
is served by path (the page is fixed in memory) and checkpoints come only from the command
line (the page sends a name). Rendering runs on one worker thread: the newest request of each
page slot wins, older waiting ones are answered 204 (no content), and at most MAX_WAITING
slots wait.
"""
import hmac
import json
import secrets
import socket
import threading
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from explorer import page
from explorer.settings import BadSetting, parse_settings

MAX_URL = 2048
MAX_WAITING = 16
RESULT_CACHE = 128
RENDER_TIMEOUT = 120  # seconds a request waits for the worker
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Job:
    def __init__(self, work):
        self.work, self.done = work, threading.Event()
        self.result = self.error = None

    def finish(self, result=None, error=None):
        self.result, self.error = result, error
        self.done.set()


class RenderWorker:
    """One thread renders; each slot (a page's main image, its strip, ...) keeps only its
    newest waiting job, so a dragged slider never builds a queue. "Newest" is the order the
    page gave (its request number): a browser's connections deliver requests out of order."""

    def __init__(self):
        self.waiting = OrderedDict()  # slot -> (order, job)
        self.started_order = {}  # slot -> order of the last job taken
        self.condition = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True, name="render-worker")
        self.thread.start()

    def submit(self, slot, work, order=0):
        job = Job(work)
        # 204, not an error status: a browser would log every dropped frame of a dragged
        # slider as a failed request
        stale = HttpError(204, "superseded by a newer request")
        with self.condition:
            if order < self.started_order.get(slot, order):
                job.finish(error=stale)
                return job
            waiting_order, superseded = self.waiting.get(slot, (None, None))
            if superseded is not None and waiting_order > order:
                job.finish(error=stale)
                return job
            if superseded is None and len(self.waiting) >= MAX_WAITING:
                raise HttpError(503, "the render worker is busy; try again")
            if superseded is not None:
                superseded.finish(error=stale)
                del self.waiting[slot]
            self.waiting[slot] = (order, job)
            self.condition.notify()
        return job

    def _run(self):
        while True:
            with self.condition:
                while not self.waiting:
                    self.condition.wait()
                slot, (order, job) = self.waiting.popitem(last=False)
                self.started_order[slot] = order
            try:
                job.finish(result=job.work())
            except BadSetting as error:
                job.finish(error=HttpError(400, str(error)))
            except Exception as error:  # noqa: BLE001: the server keeps serving
                job.finish(error=HttpError(500, f"rendering failed: {type(error).__name__}: "
                                                f"{str(error)[:200]}"))


class Explorer:
    """The checkpoints and directions, and what each API route computes."""

    def __init__(self, views, directions, token=None):
        self.views, self.directions = views, directions  # {name: ModelView}, [(name, array)]
        self.token = token
        self.worker = RenderWorker()
        self.cache = OrderedDict()
        self.cache_lock = threading.Lock()

    def settings(self, query):
        models = {name: (view.blocks, view.stored is not None, view.generator.n_classes)
                  for name, view in self.views.items()}
        return parse_settings(query, models, len(self.directions))

    def info(self):
        return {"models": [view.describe(name) for name, view in self.views.items()],
                "directions": [name for name, _ in self.directions],
                "token": bool(self.token)}

    def rendered(self, route, query, slot, order=0):
        """(bytes, milliseconds of rendering) for a render route, from the cache or the
        worker."""
        settings = self.settings(query)
        key = (route, settings.key())
        with self.cache_lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                return self.cache[key], 0.0
        view = self.views[settings.model]
        arrays = [array for _, array in self.directions]
        work = {"render": lambda: view.png(settings, arrays),
                "strip": lambda: view.strip_png(settings, arrays),
                "latent": lambda: view.latent_npz(settings, arrays)}[route]

        def timed():
            started = time.perf_counter()
            data = work()
            return data, (time.perf_counter() - started) * 1e3

        job = self.worker.submit(f"{slot}/{route}", timed, order)
        if not job.done.wait(RENDER_TIMEOUT):
            raise HttpError(503, "rendering took too long")
        if job.error:
            raise job.error
        data, milliseconds = job.result
        with self.cache_lock:
            self.cache[key] = data
            while len(self.cache) > RESULT_CACHE:
                self.cache.popitem(last=False)
        return data, milliseconds


def allowed_hosts(host, port):
    names = set(LOOPBACK) | {host}
    return ({f"{name}:{port}" for name in names} | {f"[{name}]:{port}" for name in names
                                                    if ":" in name})


def make_handler(explorer):
    class Handler(BaseHTTPRequestHandler):
        server_version = "explore.py"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # one line per request would drown the console
            pass

        def setup(self):
            super().setup()
            # headers and body leave in two writes; without this the client's delayed ACK
            # held every answer back by 40 ms
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def send(self, status, body, content_type, extra=None):
            self.send_response(status)
            headers = {"Content-Type": content_type, "Content-Length": str(len(body)),
                       **SECURITY_HEADERS, **(extra or {})}
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def send_error_json(self, status, message):
            if status == 204:
                self.send(204, b"", "application/json", {"X-Superseded": message})
                return
            body = json.dumps({"error": message}).encode() + b"\n"
            self.send(status, body, "application/json", {"Cache-Control": "no-store"})

        def check_request(self):
            if len(self.path) > MAX_URL:
                raise HttpError(414, f"the address is longer than {MAX_URL} characters")
            host = self.headers.get("Host", "")
            # with a token (another --host), the token keeps strangers out, and the Host is
            # whatever name the network gives this machine
            if not explorer.token and host not in self.server.allowed_hosts:
                raise HttpError(403, "this server answers only to its own address "
                                     "(Host header refused)")
            origin = self.headers.get("Origin")
            if origin is not None and urlsplit(origin).netloc != host:
                raise HttpError(403, "requests from other sites are refused (Origin)")
            if int(self.headers.get("Content-Length") or 0) > 0:
                raise HttpError(413, "requests carry no body")
            query = urlsplit(self.path).query
            if explorer.token:
                given = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
                if not hmac.compare_digest(given.get("token", ""), explorer.token):
                    raise HttpError(403, "this server needs the token printed at its start "
                                         "(?token=...)")
            return urlsplit(self.path).path, query

        def do_GET(self):
            try:
                route, query = self.check_request()
                self.answer(route, query)
            except HttpError as error:
                self.send_error_json(error.status, str(error))
            except BadSetting as error:
                self.send_error_json(400, str(error))
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_HEAD = do_GET

        def refuse(self):
            self.send_error_json(405, "only GET: nothing here changes state")

        do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = refuse

        def answer(self, route, query):
            if route == "/favicon.ico":  # browsers ask for one; there is none
                self.send(204, b"", "image/x-icon")
            elif route in page.FILES:
                content_type, body = page.FILES[route]
                self.send(200, body, content_type, {"Cache-Control": "no-cache"})
            elif route == "/api/info":
                self.send(200, json.dumps(explorer.info()).encode(), "application/json",
                          {"Cache-Control": "no-store"})
            elif route in ("/api/render", "/api/strip", "/api/latent"):
                name = route.rsplit("/", 1)[1]
                passed = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
                slot = passed.get("client", "anonymous")[:64]
                order = int(passed["n"]) if passed.get("n", "").isdigit() else 0
                data, milliseconds = explorer.rendered(name, query, slot, order)
                extra = {"Cache-Control": "private, max-age=3600",
                         "X-Render-Ms": f"{milliseconds:.1f}"}
                if name == "latent":
                    settings = explorer.settings(query)
                    extra["Content-Disposition"] = (f'attachment; filename="seed{settings.seed}'
                                                    f'.npz"')
                    self.send(200, data, "application/octet-stream", extra)
                else:
                    self.send(200, data, "image/png", extra)
            else:
                raise HttpError(404, "no such page")

    return Handler


def serve(explorer, host="127.0.0.1", port=8000):
    """A ThreadingHTTPServer bound and ready (call serve_forever on it)."""
    server = ThreadingHTTPServer((host, port), make_handler(explorer))
    server.daemon_threads = True
    server.allowed_hosts = allowed_hosts(host, server.server_address[1])
    return server


def new_token():
    return secrets.token_urlsafe(16)
