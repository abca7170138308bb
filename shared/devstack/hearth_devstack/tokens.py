"""The dev identity provider: a local RS256 key pair, its JWKS, and `hearth token` to mint tokens.

`make up` creates the pair under .hearth/auth (git-ignored) and points the services at
`file://.../jwks.json`; tests make their own. Production uses a real identity provider and never
these files.
"""

import argparse
import base64
import fcntl
import hashlib
import json
import os
import time
from pathlib import Path

DEV_ISSUER = "hearth-dev"
AUDIENCE = "hearth"
PRIVATE_KEY = "private.pem"
JWKS = "jwks.json"


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def ensure_dev_keys(directory: Path) -> Path:
    """The dev key pair in `directory` (made on first use); returns the JWKS file."""
    jwks = directory / JWKS
    if jwks.is_file():
        return jwks
    directory.mkdir(parents=True, exist_ok=True)
    # Processes that start together (a test session's services) must not make two pairs.
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not jwks.is_file():
            _make_pair(directory)
    return jwks


def _make_pair(directory: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    private = directory / PRIVATE_KEY
    private.touch(mode=0o600)
    private.write_bytes(pem)
    numbers = key.public_key().public_numbers()
    public = {"kty": "RSA", "e": _b64(numbers.e), "n": _b64(numbers.n)}
    # RFC 7638 thumbprint as the key id: stable for the same key, new for a new one.
    thumbprint = hashlib.sha256(json.dumps(public, sort_keys=True, separators=(",", ":")).encode())
    kid = base64.urlsafe_b64encode(thumbprint.digest()).rstrip(b"=").decode()
    staged = directory / f"{JWKS}.new"
    staged.write_text(json.dumps({"keys": [{**public, "kid": kid, "alg": "RS256", "use": "sig"}]}))
    staged.rename(directory / JWKS)  # last: the JWKS file's presence means the pair is complete


def jwks_url(directory: Path) -> str:
    return ensure_dev_keys(directory).resolve().as_uri()


def dev_keys_dir() -> Path:
    """`HEARTH_DEV_KEYS`, else .hearth/auth in the repository."""
    from hearth_devstack.stack import Layout, find_root

    return Path(os.environ.get("HEARTH_DEV_KEYS") or Layout(find_root()).home / "auth")


def bearer_headers(
    client: str = "hearth-cli", org: str = "plan", org_type: str = "plan", scopes: list[str] | None = None
) -> dict[str, str]:
    """The Authorization header a command-line tool sends: `HEARTH_TOKEN` when set (a token from
    the real identity provider), else a plan token minted from the dev keys."""
    from hearth_platform.auth import SCOPES

    token = os.environ.get("HEARTH_TOKEN") or mint(
        dev_keys_dir(), client=client, org=org, org_type=org_type, scopes=scopes or sorted(SCOPES)
    )
    return {"authorization": f"Bearer {token}"}


def mint(
    directory: Path,
    *,
    client: str,
    org: str,
    org_type: str,
    scopes: list[str],
    ttl_s: int = 3600,
    issuer: str = DEV_ISSUER,
    audience: str = AUDIENCE,
) -> str:
    """A signed access token for `client` of `org` with `scopes`."""
    import jwt

    jwks = json.loads(ensure_dev_keys(directory).read_text())
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": client,
        "org": org,
        "org_type": org_type,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + ttl_s,
    }
    key = (directory / PRIVATE_KEY).read_bytes()
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": jwks["keys"][0]["kid"]})


def register(commands: argparse._SubParsersAction) -> None:
    token = commands.add_parser("token", help="mint a dev access token (JWT) for a client")
    token.add_argument("--client", required=True, help="the client's name (the token's subject)")
    token.add_argument("--org", required=True, help="the client's organization id")
    token.add_argument(
        "--org-type",
        choices=["plan", "provider", "aco"],
        default="provider",
        help="plan (sees everything), provider or aco (see their own members)",
    )
    token.add_argument(
        "--scopes", nargs="+", required=True, help="scopes such as referral:read referral:write, or all"
    )
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.set_defaults(handler=_token)


def _token(args: argparse.Namespace) -> int:
    from hearth_devstack.stack import Layout, find_root
    from hearth_platform.auth import SCOPES

    scopes = sorted(SCOPES) if args.scopes == ["all"] else args.scopes
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        print(f"hearth token: unknown scopes {', '.join(unknown)}; known: {', '.join(SCOPES)}")
        return 2
    directory = Path(os.environ.get("HEARTH_DEV_KEYS", Layout(find_root()).home / "auth"))
    print(
        mint(
            directory, client=args.client, org=args.org, org_type=args.org_type, scopes=scopes, ttl_s=args.ttl
        )
    )
    return 0
