"""A Twilio double built from Twilio's own API description (npm @twilio-alpha/mcp, pinned in
package.json), served by Prism. Twilio's description has no error responses: Twilio-style
errors are added for the Messages operations so tests can ask for a 429, a 500 or the 21211 and
21610 errors with a `Prefer` header (Prism's convention)."""

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "node_modules/@twilio-alpha/mcp/twilio-oai/spec/json/twilio_api_v2010.json"
PRISM = ROOT / "node_modules/.bin/prism"
MESSAGES = "/2010-04-01/Accounts/{AccountSid}/Messages.json"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message", "status"],
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "more_info": {"type": "string"},
        "status": {"type": "integer"},
    },
}


def _error(status: int, examples: dict[str, tuple[int, str]]) -> dict:
    return {
        "description": f"Twilio error {status}",
        "content": {
            "application/json": {
                "schema": ERROR_SCHEMA,
                "examples": {
                    name: {
                        "value": {
                            "code": code,
                            "message": message,
                            "status": status,
                            "more_info": f"https://www.twilio.com/docs/errors/{code}",
                        }
                    }
                    for name, (code, message) in examples.items()
                },
            }
        },
    }


def build_spec(path: Path) -> Path:
    spec = json.loads(SPEC.read_text())
    for method in ("post", "get"):
        responses = spec["paths"][MESSAGES][method]["responses"]
        responses["400"] = _error(
            400,
            {
                "invalid_number": (
                    21211,
                    "The 'To' number +33600000000 is not a valid phone number.",
                ),
                "unsubscribed": (21610, "Attempt to send to unsubscribed recipient"),
                "not_mobile": (21614, "'To' number is not a valid mobile number"),
            },
        )
        responses["401"] = _error(401, {"credentials": (20003, "Authenticate")})
        responses["422"] = _error(422, {"invalid": (20422, "Invalid request")})
        responses["429"] = _error(429, {"too_many": (20429, "Too Many Requests")})
        responses["500"] = _error(500, {"internal": (20500, "Internal Server Error")})
    path.write_text(json.dumps(spec))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(workdir: Path) -> tuple[subprocess.Popen, str]:
    if not PRISM.exists():
        raise RuntimeError("Prism is missing: run `npm ci` (make test does)")
    spec = build_spec(workdir / "twilio_api_v2010_with_errors.json")
    port = free_port()
    log = (workdir / "prism.log").open("w")
    process = subprocess.Popen(
        [str(PRISM), "mock", str(spec), "-h", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("Prism stopped: " + (workdir / "prism.log").read_text()[-2000:])
        try:
            urllib.request.urlopen(base + "/2010-04-01/Accounts.json", timeout=1)  # noqa: S310
            break
        except urllib.error.HTTPError:
            break  # it answers (401 without credentials): it is up
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("Prism did not start in 60 s")
    return process, base
