"""HTTP/1.1 over a raw socket, for the tests that send what no client library would (a body that
trickles, a head that never ends, many connections from one address) or watch what the server
does with the connection afterwards."""

from __future__ import annotations

import socket


def connect(port: int, source: str | None = None, host: str = "127.0.0.1",
            timeout: float = 10) -> socket.socket:
    """A connection to ``host:port``, from the local address ``source`` when given (the
    loopback's many addresses stand for many clients)."""
    sock = socket.socket()
    sock.settimeout(timeout)
    if source is not None:
        sock.bind((source, 0))
    sock.connect((host, port))
    return sock


def split_answer(data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of one answer read whole."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def read_answer(sock: socket.socket, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """One answer with a Content-Length, leaving the connection open for the next."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    status, headers, body = split_answer(data)
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of the answer"
        body += chunk
    return status, headers, body


def ask(port: int, source: str, path: str = "/healthz", headers: str = "",
        timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """One GET from ``source`` on a connection of its own (``headers``: lines ending in CRLF)."""
    with connect(port, source, timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n"
                     .encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return split_answer(data)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes ``sock`` within ``seconds`` (what it sends meanwhile is read
    and dropped)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def read_all(sock: socket.socket, seconds: float) -> bytes:
    """What the server sent before closing (b"" if it sent nothing within ``seconds``)."""
    sock.settimeout(seconds)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data
