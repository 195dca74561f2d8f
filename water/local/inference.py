"""SageMaker's inference handler convention on this machine, in its own process: batch transform of every file
under an input folder, or (--serve) the model served over HTTP as SageMaker's inference containers are
(`GET /ping`, `POST /invocations`).

    python -m water.local.inference SCRIPT MODEL_DIR INPUT_DIR OUTPUT_DIR CONTENT_TYPE
    python -m water.local.inference --serve SCRIPT MODEL_DIR HOST PORT

SCRIPT may define model_fn(model_dir) (required), input_fn(body, content_type),
predict_fn(data, model) and output_fn(prediction, accept). Without input_fn, CSV is
read with pandas (header row kept); without predict_fn, model.predict(data); without
output_fn, one prediction per line. Each input file F gives OUTPUT_DIR/F.out.
"""
from __future__ import annotations

import importlib.util
import io
import os
import signal
import sys


def _load(script: str):
    spec = importlib.util.spec_from_file_location("inference_entry", script)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{script} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    spec.loader.exec_module(module)
    if not hasattr(module, "model_fn"):
        raise SystemExit(f"{script} has no model_fn(model_dir): batch transform cannot load the model")
    return module


def _default_input(body: bytes, content_type: str):
    if content_type != "text/csv":
        raise SystemExit(f"no input_fn in the script, and no default reader for {content_type}")
    import pandas

    return pandas.read_csv(io.BytesIO(body))


def _handler(script: str, model_dir: str):
    """(the model, body and content type → the response's bytes) of a handler script."""
    handler = _load(script)
    model = handler.model_fn(model_dir)
    read = getattr(handler, "input_fn", _default_input)
    predict = getattr(handler, "predict_fn", lambda data, m: m.predict(data))
    write = getattr(handler, "output_fn", lambda prediction, accept: "".join(f"{p}\n" for p in prediction))

    def answer(body: bytes, content_type: str) -> tuple[bytes, int]:
        prediction = predict(read(body, content_type), model)
        result = write(prediction, content_type)
        return (result.encode() if isinstance(result, str) else result), len(prediction)

    return answer


def serve(script: str, model_dir: str, host: str, port: int) -> None:
    """The model behind SageMaker's container contract: GET /ping is 200 once it is loaded, POST /invocations
    answers the body (Content-Type, default text/csv) with the predictions; a request the handler cannot take is
    a 400 with its reason. One line per request; Ctrl-C stops it."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answer = _handler(script, model_dir)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self._reply(200 if self.path == "/ping" else 404, b"" if self.path == "/ping" else b"not found\n")

        def do_POST(self):
            if self.path != "/invocations":
                return self._reply(404, b"not found\n")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            content_type = (self.headers.get("Content-Type") or "text/csv").split(";")[0].strip()
            try:
                result, count = answer(body, content_type)
            except (Exception, SystemExit) as exc:  # the user's handler: its error is the client's answer
                return self._reply(400, f"{type(exc).__name__}: {exc}\n".encode())
            self._reply(200, result, content_type)
            print(f"POST /invocations: {count} predictions", flush=True)

        def _reply(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass  # one line per invocation is printed above

    # Ctrl-C and kill both stop it cleanly, whatever the signals' dispositions it was started with (a shell's
    # background job inherits SIGINT ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    server = ThreadingHTTPServer((host, port), Handler)
    print(f"serving {model_dir} on http://{host}:{server.server_address[1]} (GET /ping, POST /invocations)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.server_close()


def main(argv: list) -> None:
    if argv and argv[0] == "--serve":
        script, model_dir, host, port = argv[1:]
        return serve(script, model_dir, host, int(port))
    script, model_dir, input_dir, output_dir, content_type = argv
    answer = _handler(script, model_dir)
    files = sorted(os.path.relpath(os.path.join(root, f), input_dir)
                   for root, _, names in os.walk(input_dir) for f in names)
    for rel in files:
        with open(os.path.join(input_dir, rel), "rb") as f:
            result, count = answer(f.read(), content_type)
        target = os.path.join(output_dir, rel + ".out")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as out:
            out.write(result)
        print(f"{rel}: {count} predictions")


if __name__ == "__main__":
    main(sys.argv[1:])
