"""serve.py - STAND-IN for a platform service's image in the pod tests: answers 200 on /health
(404 elsewhere) on the port given, with the service's name on its command line, which is what
the sidecar's process check looks for. Exits at once on SIGTERM, as Python does by default.

usage: python3 serve.py PORT NAME
"""
import http.server
import sys


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("", int(sys.argv[1])), Health).serve_forever()
