"""Bring the loopback interface up, for machines without `ip` (iproute2).

Run inside a fresh network namespace (`unshare --net`), where `lo` starts down; the
same as `ip link set lo up`, through the SIOCGIFFLAGS / SIOCSIFFLAGS ioctls.
"""

from __future__ import annotations

import fcntl
import socket
import struct

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
_IFREQ = "16sh22x"  # struct ifreq: the name, its flags, padding to 40 bytes


def main() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(_IFREQ, b"lo", 0)
        _, flags = struct.unpack(_IFREQ, fcntl.ioctl(sock, SIOCGIFFLAGS, request))
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | IFF_UP))


if __name__ == "__main__":
    main()
