#!/usr/bin/env python3
"""Extract the XBR contract ABIs or deployable bytecode from the pinned `xbr` wheel.

Called by `scripts/xbr-contracts.sh`; uses only the Python standard library.

    xbr-contracts.py abi WHEEL OUT_DIR        # OUT_DIR/<Name>.json: the ABI array only
    xbr-contracts.py bytecode WHEEL OUT_DIR   # OUT_DIR/<Name>.bin: deployable bytecode, hex without 0x

The bytecode keeps the library link placeholder `__XBRTypes______________________________`;
the deployer replaces it with the deployed XBRTypes address.
"""

import json
import os
import sys
import tempfile
import zipfile

CONTRACTS = [
    "XBRTypes",
    "XBRToken",
    "XBRNetwork",
    "XBRDomain",
    "XBRCatalog",
    "XBRMarket",
    "XBRChannel",
]


def write_atomically(path, text):
    """Write `text` to `path` via a temporary file and rename, so readers never see half a file."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_artifact(wheel, name):
    member = f"xbr/abi/{name}.json"
    try:
        raw = wheel.read(member)
    except KeyError:
        sys.exit(f"xbr-contracts: {member} is missing from the wheel")
    artifact = json.loads(raw)
    if artifact.get("contractName") != name:
        sys.exit(f"xbr-contracts: {member} names contract {artifact.get('contractName')!r}, expected {name!r}")
    return artifact


def extract_abi(artifact, name):
    abi = artifact.get("abi")
    if not isinstance(abi, list) or not abi:
        sys.exit(f"xbr-contracts: {name}: no ABI array in the artifact")
    return json.dumps(abi, indent=2, ensure_ascii=False) + "\n"


def extract_bytecode(artifact, name):
    code = artifact.get("bytecode", "")
    if code.startswith("0x"):
        code = code[2:]
    if len(code) < 2 or len(code) % 2:
        sys.exit(f"xbr-contracts: {name}: no deployable bytecode in the artifact")
    body = code.replace("__XBRTypes______________________________", "")
    try:
        bytes.fromhex(body)
    except ValueError:
        sys.exit(f"xbr-contracts: {name}: bytecode holds an unknown link placeholder or non-hex characters")
    return code + "\n"


def main(argv):
    if len(argv) != 4 or argv[1] not in ("abi", "bytecode"):
        sys.exit("usage: xbr-contracts.py abi|bytecode WHEEL OUT_DIR")
    mode, wheel_path, out_dir = argv[1], argv[2], argv[3]
    os.makedirs(out_dir, exist_ok=True)
    with zipfile.ZipFile(wheel_path) as wheel:
        for name in CONTRACTS:
            artifact = load_artifact(wheel, name)
            if mode == "abi":
                write_atomically(os.path.join(out_dir, f"{name}.json"), extract_abi(artifact, name))
            else:
                write_atomically(os.path.join(out_dir, f"{name}.bin"), extract_bytecode(artifact, name))
    print(f"xbr-contracts: wrote {len(CONTRACTS)} {mode} files to {out_dir}")


if __name__ == "__main__":
    main(sys.argv)
