"""Serves the digits model over the Open Inference Protocol (KServe v2), with the standard library.

    python3 serve.py --model model.joblib [--port 8080 | --socket PATH] [--name digits-clf] [--version 1]

(or MLP_MODEL_PATH, PORT, MLGIT_SERVE_SOCKET, MLP_MODEL_NAME, MLP_MODEL_VERSION). mlgit deploys it
with --socket: deployments have no network, so the predictor listens on a unix socket in a
directory that mlgit shares with the sandbox and mlgit proxies HTTP over it. Routes:
GET /v2/health/live, GET /v2/health/ready, GET /v2/models/<name>, GET /v2/models/<name>/ready,
POST /v2/models/<name>/infer with {"inputs": [{"name", "shape": [n, 64], "datatype": "FP32", "data": [...]}]}
answering {"outputs": [{"name": "label", "shape": [n], "datatype": "INT64", "data": [...]}]}.
Errors are JSON {"error": "..."} with a 4xx status. Prints "listening on HOST:PORT" once ready.

The model file is a pickle: load only models you trust (mlgit marks them "unsafe to load from
untrusted sources" and lists what they import).
"""
import argparse
import json
import os
import sys
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import joblib

MAX_BODY = 1024 * 1024
DRAIN_LIMIT = 16 * 1024 * 1024
FEATURES = 64

parser = argparse.ArgumentParser()
parser.add_argument('--model', default=os.environ.get('MLP_MODEL_PATH'))
parser.add_argument('--host', default='127.0.0.1')
parser.add_argument('--port', type=int, default=int(os.environ.get('PORT', '8080')))
parser.add_argument('--socket', default=os.environ.get('MLGIT_SERVE_SOCKET'))
parser.add_argument('--name', default=os.environ.get('MLP_MODEL_NAME', 'digits-clf'))
parser.add_argument('--version', default=os.environ.get('MLP_MODEL_VERSION', '1'))
args = parser.parse_args()
if not args.model:
    sys.exit('serve.py needs --model or MLP_MODEL_PATH')
model = joblib.load(args.model)
# One thread per connection: small stacks keep many of them inside a deployment's address-space
# limit (the process runtime's memory limit is RLIMIT_AS; 8 MiB stacks ran out of it).
threading.stack_size(512 * 1024)


class BadRequest(Exception):
    pass


def rows_of(body):
    """The [n, 64] rows of the first input of a v2 infer request, checked."""
    if not isinstance(body, dict) or not isinstance(body.get('inputs'), list) or not body['inputs']:
        raise BadRequest('expected {"inputs": [{"name", "shape", "datatype", "data"}]}')
    tensor = body['inputs'][0]
    if not isinstance(tensor, dict):
        raise BadRequest('inputs[0] must be an object')
    shape, data = tensor.get('shape'), tensor.get('data')
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(d, int) and d >= 0 for d in shape) and shape[1] == FEATURES):
        raise BadRequest(f'inputs[0].shape must be [n, {FEATURES}]')
    if isinstance(data, list) and data and isinstance(data[0], list):
        data = [v for row in data for v in row]
    if not isinstance(data, list) or len(data) != shape[0] * FEATURES or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in data):
        raise BadRequest(f'inputs[0].data must hold {shape[0]} x {FEATURES} numbers')
    return [data[i * FEATURES:(i + 1) * FEATURES] for i in range(shape[0])]


class Handler(BaseHTTPRequestHandler):
    server_version = 'digits-v2/1'
    # Keep-alive: mlgit's proxy reuses its connections (HTTP/1.0 would open one per request).
    protocol_version = 'HTTP/1.1'

    def send_json(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        if status >= 400:
            # The request's body may be unread: the connection cannot carry another request.
            self.close_connection = True
            self.send_header('Connection', 'close')
        self.end_headers()
        self.wfile.write(body)

    def model_path(self, suffix=''):
        return f'/v2/models/{args.name}{suffix}'

    def do_GET(self):
        if self.path in ('/v2/health/live', '/v2/health/ready', self.model_path('/ready')):
            return self.send_json(200, {'live': True, 'ready': True})
        if self.path == self.model_path():
            return self.send_json(200, {
                'name': args.name, 'versions': [str(args.version)], 'platform': 'sklearn',
                'inputs': [{'name': 'pixels', 'datatype': 'FP32', 'shape': [-1, FEATURES]}],
                'outputs': [{'name': 'label', 'datatype': 'INT64', 'shape': [-1]}],
            })
        self.send_json(404, {'error': f'no route for GET {self.path}'})

    def do_POST(self):
        if self.path != self.model_path('/infer'):
            return self.send_json(404, {'error': f'no route for POST {self.path}'})
        length = int(self.headers.get('Content-Length') or 0)
        if length > MAX_BODY:
            # Read a bounded rest first, so the client gets this answer rather than a reset connection.
            left = length if length <= DRAIN_LIMIT else 0
            while left > 0:
                left -= len(self.rfile.read(min(left, 65536)) or b'x' * left)
            self.close_connection = True
            return self.send_json(413, {'error': f'request body over {MAX_BODY} bytes'})
        try:
            rows = rows_of(json.loads(self.rfile.read(length) or b'null'))
        except json.JSONDecodeError:
            return self.send_json(400, {'error': 'request body is not JSON'})
        except BadRequest as err:
            return self.send_json(400, {'error': str(err)})
        labels = [int(label) for label in model.predict(rows)] if rows else []
        self.send_json(200, {
            'model_name': args.name, 'model_version': str(args.version), 'id': self.headers.get('X-Request-Id', ''),
            'outputs': [{'name': 'label', 'datatype': 'INT64', 'shape': [len(labels)], 'data': labels}],
        })

    def log_message(self, format, *values):
        pass  # one line per request would drown the deployment's log


class UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    # A unix socket refuses connections past its backlog at once (EAGAIN); the default 5 is too few
    # for a proxy opening connections for concurrent requests.
    request_queue_size = 128


if args.socket:
    if os.path.exists(args.socket):
        os.unlink(args.socket)  # left by a previous start of the same deployment
    server = UnixServer(args.socket, Handler)
    # The server connecting may be another user than the sandbox's (a container's nobody).
    os.chmod(args.socket, 0o666)
    print(f'listening on unix:{args.socket}', flush=True)
else:
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f'listening on {args.host}:{server.server_address[1]}', flush=True)
server.serve_forever()
