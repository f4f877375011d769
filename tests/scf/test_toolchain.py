"""The offline toolchain: solc shim, build, dev chain, deploy and manifest."""

import json
import subprocess

from web3 import Web3

from scf import devchain
from scf.deploy import deploy, dev_operator_key
from scf_core import build
from scf_core.manifest import CONTRACT_NAMES, Manifest
from scf_core.paths import ROOT, SOLC_SHIM


def test_shim_reports_version_like_native_solc():
    out = subprocess.run([str(SOLC_SHIM), "--version"], capture_output=True, text=True, check=True).stdout
    assert f"Version: {build.SOLC_VERSION}+commit." in out


def test_shim_standard_json_is_pure_json_and_resolves_node_modules():
    source = 'pragma solidity ^0.8.0; import "@openzeppelin/contracts/utils/Strings.sol"; contract A {}'
    request = {
        "language": "Solidity",
        "sources": {"A.sol": {"content": source}},
        "settings": {"evmVersion": "paris", "outputSelection": {"*": {"*": ["evm.bytecode.object"]}}},
    }
    out = subprocess.run(
        [str(SOLC_SHIM), "--standard-json"], input=json.dumps(request), capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(out)  # nothing printed before or after the JSON
    assert not [e for e in result.get("errors", []) if e["severity"] == "error"]
    assert result["contracts"]["A.sol"]["A"]["evm"]["bytecode"]["object"]


def test_build_targets_paris_without_push0():
    artifacts = build.compile_contracts()
    assert set(CONTRACT_NAMES) <= set(artifacts)
    assert build.standard_input()["settings"]["evmVersion"] == "paris"
    # PUSH0 (0x5f, Shanghai) must not appear as an opcode in any deployable contract's code
    for name in CONTRACT_NAMES:
        code = _without_metadata(bytes.fromhex(artifacts[name]["bytecode"][2:]))
        assert not _has_opcode(code, 0x5F), name


def test_build_input_names_no_absolute_path():
    # the metadata hash in the bytecode covers source names and remappings: relative ones make the
    # bytecode the same in every checkout (a deployed contract can be rebuilt and verified)
    assert str(ROOT) not in json.dumps(build.standard_input())


def test_opcode_scan_ignores_push_data_and_metadata():
    push1_5f = bytes([0x60, 0x5F, 0x00])  # PUSH1 0x5f; STOP
    metadata = bytes([0xA1, 0x5F, 0x5F]) + (3).to_bytes(2, "big")  # CBOR tail holding 0x5f bytes
    code = _without_metadata(push1_5f + metadata)
    assert code == push1_5f and not _has_opcode(code, 0x5F)
    assert _has_opcode(bytes([0x5F]), 0x5F)


def _without_metadata(bytecode: bytes) -> bytes:
    """Creation code less its trailing CBOR metadata (the last two bytes give its length): the
    metadata hash is data, not code."""
    return bytecode[: -(int.from_bytes(bytecode[-2:], "big") + 2)]


def _has_opcode(code: bytes, opcode: int) -> bool:
    i = 0
    while i < len(code):
        op = code[i]
        if op == opcode:
            return True
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)  # skip PUSH1..PUSH32 data
    return False


def test_deploy_wires_the_system_and_manifest_round_trips(tmp_path):
    with devchain.running() as chain:
        manifest = deploy(chain.url, dev_operator_key())
        path = tmp_path / "manifest.json"
        manifest.save(path)
        loaded = Manifest.load(path)
        assert loaded == manifest
        w3 = Web3(Web3.HTTPProvider(chain.url))
        assert loaded.chain_id == w3.eth.chain_id == devchain.DEV_CHAIN_ID
        assert 0 < loaded.deployment_block <= w3.eth.block_number
        membership = loaded.contract(w3, "Membership")
        token = loaded.contract(w3, "CertificateToken")
        assert membership.functions.operator().call() == loaded.operator
        assert token.functions.financing().call() == loaded.contracts["Financing"].address
        assert token.functions.settlement().call() == loaded.contracts["Settlement"].address
        currency = loaded.contract(w3, "SettlementToken")  # its agents, wired once as the token's
        assert currency.functions.financing().call() == loaded.contracts["Financing"].address
        assert currency.functions.settlement().call() == loaded.contracts["Settlement"].address
        for name in ("CertificateToken", "Financing", "Settlement"):
            assert membership.functions.isSystemContract(loaded.contracts[name].address).call()
        assert not membership.functions.isSystemContract(loaded.contracts["SettlementToken"].address).call()


def test_devchain_refuses_a_busy_port():
    with devchain.running() as chain:
        try:
            devchain.start(chain.port)
        except RuntimeError as e:
            assert "in use" in str(e)
        else:
            raise AssertionError("a second chain started on a busy port")
