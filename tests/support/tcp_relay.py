"""An SSH ProxyCommand: relay stdin/stdout to HOST:PORT. Ray's cluster launcher has no SSH port
setting, so a test's sshd on a free port is reached through this."""

import os
import socket
import sys
import threading


def main(host: str, port: int) -> None:
    sock = socket.create_connection((host, port))

    def downstream() -> None:
        while data := sock.recv(65536):
            os.write(1, data)
        os._exit(0)

    threading.Thread(target=downstream, daemon=True).start()
    while data := os.read(0, 65536):
        sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
