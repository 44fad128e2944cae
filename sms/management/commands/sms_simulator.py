"""Run a stand-in SMS gateway for the demo: Jasmin's REST API shape (`POST /secure/send`, `GET /secure/balance`),
accepting every message and reporting it delivered a second later to the delivery report URL it was given.

It is not a Jasmin: no routing, no refusals, unlimited balance. The tests use their own fake (tests/jasmin.py),
which also plays the gateway's refusals and failures."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from django.core.management.base import BaseCommand

DELIVERY_SECONDS = 1.0


class Gateway(BaseHTTPRequestHandler):
    credentials = ""  # "user:password", set by the command

    def log_message(self, format, *args) -> None:  # quiet: the demo's console is for the app
        pass

    def _answer(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _signed_in(self) -> bool:
        kind, _, token = self.headers.get("Authorization", "").partition(" ")
        if kind == "Basic" and base64.b64decode(token or "=").decode(errors="replace") == self.credentials:
            return True
        self._answer(403, {"message": 'Error "Authentication failure'})
        return False

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/secure/balance":
            self._answer(404, {"message": 'Error "Not found'})
        elif self._signed_in():
            self._answer(200, {"data": {"balance": "ND", "sms_count": "ND"}})

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/secure/send":
            self._answer(404, {"message": 'Error "Not found'})
            return
        if not self._signed_in():
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        except ValueError:
            self._answer(412, {"message": 'Error "Cannot parse JSON data'})
            return
        message_id = str(uuid.uuid4())
        self._answer(200, {"data": f'Success "{message_id}'})
        if body.get("dlr") == "yes" and body.get("dlr-url"):
            threading.Timer(DELIVERY_SECONDS, report, (body["dlr-url"], message_id)).start()


def report(url: str, message_id: str) -> None:
    """The handset's receipt, as Jasmin posts it."""
    fields = {"id": message_id, "level": "2", "message_status": "DELIVRD", "err": "000", "dlvrd": "001"}
    try:
        httpx.post(url, data=fields, timeout=5)
    except httpx.HTTPError:
        pass  # the app is away: a real gateway would try again, the demo does not


class Command(BaseCommand):
    help = "Run a stand-in SMS gateway (Jasmin's REST API shape) for the demo."

    def add_arguments(self, parser):
        parser.add_argument("--listen", default="127.0.0.1:15080", help="address (default 127.0.0.1:15080)")
        parser.add_argument("--credentials", default="mayday:mayday", help="user:password it accepts")

    def handle(self, *args, **options) -> None:
        host, _, port = options["listen"].rpartition(":")
        Gateway.credentials = options["credentials"]
        server = ThreadingHTTPServer((host, int(port)), Gateway)
        self.stdout.write(f"SMS gateway stand-in on http://{host}:{server.server_port}/secure")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
